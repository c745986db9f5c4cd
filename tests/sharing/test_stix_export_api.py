"""``GET /api/v1/stix/export`` against the real app on both engines."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from test_selection import VALUES, seed
from test_stix_export import check, of_type, relations

from krsn.identity.models import User
from krsn.sharing import exports

URL = "/api/v1/stix/export"


def user_id(api: Any, username: str) -> uuid.UUID:
    with api.database.transaction(readonly=True) as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def test_a_reader_exports_a_collection_as_a_valid_bundle(api: Any):
    api.login_as("reader", "viewer")
    seed(api.database)
    response = api.get(URL, params={"collection": "emotet c2"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/stix+json")
    bundle = response.json()
    check(bundle)
    assert {i["name"] for i in of_type(bundle, "indicator")} == {
        VALUES[name] for name in ("domain", "url", "ipv4", "cidr6")
    }
    assert response.headers["x-stix-objects"] == str(len(bundle["objects"]))


def test_an_actor_a_campaign_a_report_and_a_query_export_too(api: Any):
    api.login_as("reader", "viewer")
    seed(api.database)
    actor = api.get(URL, params={"actor": "MUMMY SPIDER"}).json()
    check(actor)
    assert ("Emotet Epoch 5", "attributed-to", "Mummy Spider") in relations(actor)
    check(api.get(URL, params={"campaign": "Emotet Epoch 5"}).json())
    # The report is TLP:RED: refused to a viewer, exported to an admin, marked red.
    refused = api.get(URL, params={"report": "Emotet returns"})
    assert refused.status_code == 403 and "TLP:RED" in refused.json()["detail"]
    admin = api.fresh()
    admin.login_as("boss", "admin")
    report = admin.get(URL, params={"report": "Emotet returns"}).json()
    check(report)
    assert of_type(report, "report")[0]["object_marking_refs"] == [
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
    ]
    hashes = api.get(URL, params={"query": "type=hash", "limit": 2, "observables": "true"})
    bundle = hashes.json()
    check(bundle)
    assert len(of_type(bundle, "indicator")) == 2 and len(of_type(bundle, "file")) == 2


def test_a_private_collection_is_hidden_from_other_users(api: Any):
    api.login_as("owner", "user")
    owner = user_id(api, "owner")
    seed(api.database, owner=owner)
    assert api.get(URL, params={"collection": "Private Hunt"}).status_code == 200
    other = api.fresh()
    other.login_as("someone", "user")
    hidden = other.get(URL, params={"collection": "Private Hunt"})
    assert hidden.status_code == 404
    unknown = other.get(URL, params={"collection": "No Such Collection"})
    # Hidden reads exactly like absent, apart from the name asked for.
    assert hidden.json()["title"] == unknown.json()["title"] == "Not found"
    analyst = api.fresh()
    analyst.login_as("analyst", "analyst")
    assert analyst.get(URL, params={"collection": "Private Hunt"}).status_code == 404
    admin = api.fresh()
    admin.login_as("boss", "admin")
    assert admin.get(URL, params={"collection": "Private Hunt"}).status_code == 200


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 422),
        ({"actor": "Mummy Spider", "campaign": "Emotet Epoch 5"}, 422),
        ({"actor": "nobody"}, 404),
        ({"query": "colour=red"}, 422),
        ({"query": "type=ip", "limit": 0}, 422),
    ],
)
def test_wrong_selections_are_problems(api: Any, params: dict[str, Any], status: int):
    api.login_as("reader", "viewer")
    seed(api.database)
    response = api.get(URL, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_an_export_needs_a_signed_in_reader(api: Any):
    assert api.get(URL, params={"query": "type=ip"}).status_code == 401


def test_a_selection_too_big_for_one_request_asks_for_a_limit(
    api: Any, monkeypatch: pytest.MonkeyPatch
):
    api.login_as("reader", "viewer")
    seed(api.database)
    monkeypatch.setattr(exports, "MAX_INDICATORS", 3)
    refused = api.get(URL, params={"query": "type=ip"})
    assert refused.status_code == 422 and "limit" in refused.json()["detail"]
    assert api.get(URL, params={"query": "type=ip", "limit": 3}).status_code == 200
