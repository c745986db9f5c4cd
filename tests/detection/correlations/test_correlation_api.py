"""Correlations over HTTP: discover, list with filters and pages, show, verify and annotate,
permissions and the audit trail."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from krsn.enrichment.models import EnrichmentData, EnrichmentType
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.indicators.models import ThreatIndicator

CORRELATIONS = "/api/v1/correlations"
DOMAIN, ADDRESS = "beacon.example.net", "203.0.113.70"


def seed(api: Any) -> dict[str, str]:
    """A domain and the address its DNS data names, and two indicators of one family."""
    database = api.database
    with database.transaction() as session:
        ref = ensure_source(session, actor=Actor.system(), name="api feed", reliability=80)
    rows = [
        ParsedRow(line=1, value=DOMAIN),
        ParsedRow(line=2, value=ADDRESS),
        ParsedRow(line=3, value="dropper.example.org", malware_family="Latrodectus"),
        ParsedRow(line=4, value="198.51.100.77", malware_family="Latrodectus"),
    ]
    ingest(database, source=ref, rows=rows)
    with database.transaction() as session:
        found = session.execute(select(ThreatIndicator.indicator_value, ThreatIndicator.id))
        ids = {value: indicator_id for value, indicator_id in found}
        session.add(
            EnrichmentData(
                indicator_id=ids[DOMAIN],
                enrichment_type=EnrichmentType.REPUTATION,
                enrichment_data={"dns": {"A": [ADDRESS]}},
                confidence=0.8,
            )
        )
    return {value: str(indicator_id) for value, indicator_id in ids.items()}


def audit_rows(api: Any, action: str) -> list[AuditLog]:
    with api.database.transaction(readonly=True) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_an_analyst_discovers_verifies_and_annotates_with_an_audit_trail(api):
    ids = seed(api)
    api.login_as("ana", "analyst")

    response = api.post(f"{CORRELATIONS}/discover", json={})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["scope"] == "all"
    assert report["created"]["ip_domain"] == 1
    assert report["created"]["behavioral"] == 1
    (discovered,) = audit_rows(api, "threat_correlation.discover")
    assert discovered.details["created"]["ip_domain"] == 1

    listed = api.get(CORRELATIONS, params={"type": "ip_domain"}).json()
    (pair,) = listed["items"]
    assert pair["primary_indicator"] == {"id": ids[DOMAIN], "value": DOMAIN, "type": "domain"}
    assert pair["related_indicator"] == {"id": ids[ADDRESS], "value": ADDRESS, "type": "ip"}
    assert pair["correlation_data"]["evidence"][0]["kind"] == "dns"
    assert pair["is_verified"] is False

    changed = api.patch(
        f"{CORRELATIONS}/{pair['id']}",
        json={"is_verified": True, "analyst_notes": "resolves in our passive DNS too"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["is_verified"] is True
    (audited,) = audit_rows(api, "threat_correlation.update")
    assert audited.resource_id == pair["id"]
    assert audited.old_values == {"is_verified": False, "analyst_notes": None}
    assert audited.new_values == {
        "is_verified": True,
        "analyst_notes": "resolves in our passive DNS too",
    }

    again = api.post(f"{CORRELATIONS}/discover", json={"indicator_ids": [ids[DOMAIN]]})
    assert again.json()["scope"] == "indicators"
    assert again.json()["unchanged"]["ip_domain"] == 1
    shown = api.get(f"{CORRELATIONS}/{pair['id']}").json()
    assert shown["is_verified"] is True
    assert shown["analyst_notes"] == "resolves in our passive DNS too"


def test_lists_filter_by_type_indicator_verdict_and_score_and_page(api):
    ids = seed(api)
    api.login_as("ana", "analyst")
    api.post(f"{CORRELATIONS}/discover", json={})
    everything = api.get(CORRELATIONS).json()
    assert everything["total"] >= 2
    kinds = {item["correlation_type"] for item in everything["items"]}
    assert {"ip_domain", "behavioral"} <= kinds

    def listed(**params: Any) -> list[dict[str, Any]]:
        response = api.get(CORRELATIONS, params=params)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    by_address = listed(indicator=ADDRESS)
    assert by_address and all(
        ids[ADDRESS] in (i["primary_indicator"]["id"], i["related_indicator"]["id"])
        for i in by_address
    )
    # A value, defanged as reports write it, works as well as an id.
    assert {i["id"] for i in listed(indicator="dropper[.]example[.]org")} == {
        i["id"]
        for i in everything["items"]
        if "dropper.example.org"
        in (i["primary_indicator"]["value"], i["related_indicator"]["value"])
    }
    behavioral = listed(type="behavioral")
    assert behavioral and all(i["correlation_type"] == "behavioral" for i in behavioral)
    top = max(i["correlation_score"] for i in everything["items"])
    assert all(i["correlation_score"] >= top for i in listed(min_score=top))
    target = everything["items"][0]["id"]
    api.patch(f"{CORRELATIONS}/{target}", json={"is_verified": True})
    assert [i["id"] for i in listed(verified="true")] == [target]
    assert target not in {i["id"] for i in listed(verified="false")}

    first = api.get(CORRELATIONS, params={"limit": 1}).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = api.get(CORRELATIONS, params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert second["items"][0]["id"] != first["items"][0]["id"]


def test_viewers_read_but_cannot_change_or_discover(api):
    seed(api)
    api.login_as("ana", "analyst")
    api.post(f"{CORRELATIONS}/discover", json={})
    viewer = api.fresh()
    viewer.login_as("vic", "viewer")

    items = viewer.get(CORRELATIONS).json()["items"]
    assert items
    target = items[0]["id"]
    assert viewer.get(f"{CORRELATIONS}/{target}").status_code == 200
    refused = viewer.patch(f"{CORRELATIONS}/{target}", json={"is_verified": True})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert viewer.post(f"{CORRELATIONS}/discover", json={}).status_code == 403
    assert api.get(f"{CORRELATIONS}/{target}").json()["is_verified"] is False
    assert audit_rows(api, "threat_correlation.update") == []


def test_bad_requests_say_what_is_wrong(api):
    seed(api)
    api.login_as("ana", "analyst")
    api.post(f"{CORRELATIONS}/discover", json={})
    target = api.get(CORRELATIONS).json()["items"][0]["id"]

    assert api.get(f"{CORRELATIONS}/{uuid.uuid4()}").status_code == 404
    assert (
        api.patch(f"{CORRELATIONS}/{uuid.uuid4()}", json={"is_verified": True}).status_code == 404
    )
    for body in ({}, {"is_verified": None}, {"score": 100}):
        response = api.patch(f"{CORRELATIONS}/{target}", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"]
    assert api.get(CORRELATIONS, params={"indicator": "no-such.example.com"}).status_code == 404
    assert api.get(CORRELATIONS, params={"min_score": 101}).status_code == 422
    assert api.get(CORRELATIONS, params={"cursor": "garbage"}).status_code == 422
    assert api.post(f"{CORRELATIONS}/discover", json={"since": "yesterday"}).status_code == 422
