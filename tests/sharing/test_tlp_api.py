"""Setting and reading the TLP of every shareable object over the REST API, on both engines:
indicators, threat actors, campaigns, IOC collections and threat reports."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from krsn.identity.models import AuditLog
from krsn.indicators.models import ThreatIndicator

ACTORS = "/api/v1/threat-actors"
CAMPAIGNS = "/api/v1/threat-campaigns"
COLLECTIONS = "/api/v1/ioc-collections"
REPORTS = "/api/v1/threat-reports"


def test_an_indicator_is_marked_audited_and_unmarked(api: Any, seed_indicators: Any):
    api.login_as("ana", "analyst")
    ids = seed_indicators("evil.example.org")
    url = f"/api/v1/indicators/{ids['evil.example.org']}"
    marked = api.patch(url, json={"tlp": "TLP:AMBER+STRICT"})
    assert marked.status_code == 200, marked.text
    shown = marked.json()["indicator"]
    assert shown["tlp"] == "amber+strict" and shown["metadata"]["tlp"] == "amber+strict"
    assert api.get(url).json()["indicator"]["tlp"] == "amber+strict"
    with api.database.transaction(readonly=True) as session:
        row = session.scalars(select(AuditLog).where(AuditLog.action == "indicator.update")).one()
        stored = session.get(ThreatIndicator, uuid.UUID(str(row.resource_id)))
    assert row.old_values["tlp"] is None and row.new_values["tlp"] == "amber+strict"
    assert stored is not None and (stored.metadata_ or {})["tlp"] == "amber+strict"
    # Other edits leave the marking; null removes it.
    api.patch(url, json={"tags_add": ["c2"]})
    assert api.get(url).json()["indicator"]["tlp"] == "amber+strict"
    assert api.patch(url, json={"tlp": None}).json()["indicator"]["tlp"] is None


@pytest.mark.parametrize("written", ["purple", "tlp:", 3, "amber-ish"])
def test_a_marking_that_names_no_level_is_refused(api: Any, seed_indicators: Any, written: Any):
    api.login_as("ana", "analyst")
    ids = seed_indicators("evil.example.org")
    response = api.patch(f"/api/v1/indicators/{ids['evil.example.org']}", json={"tlp": written})
    assert response.status_code == 422, response.text
    assert api.post(ACTORS, json={"actor_name": "X", "tlp": written}).status_code == 422


def test_an_actor_keeps_its_marking_in_attribution_data(api: Any, make: Any):
    api.login_as("ana", "analyst")
    actor = make.actor("Mummy Spider", tlp="tlp:amber", attribution_data={"notes": "n"})
    assert actor["tlp"] == "amber"
    assert actor["attribution_data"] == {"notes": "n", "tlp": "amber"}
    url = f"{ACTORS}/{actor['id']}"
    # Replacing the notes never loosens the marking.
    replaced = api.patch(url, json={"attribution_data": {"notes": "new"}}).json()
    assert replaced["tlp"] == "amber" and replaced["attribution_data"]["notes"] == "new"
    # The notes may repeat the marking, not change it.
    same = {"attribution_data": {"notes": "x", "tlp": "AMBER"}}
    assert api.patch(url, json=same).status_code == 200
    clash = api.patch(url, json={"attribution_data": {"tlp": "clear"}})
    assert clash.status_code == 422 and "tlp" in clash.text
    assert api.patch(url, json={"tlp": "red"}).json()["tlp"] == "red"
    listed = api.get(ACTORS).json()["items"]
    assert [a["tlp"] for a in listed] == ["red"]


def test_a_campaign_has_a_marking_of_its_own(api: Any, make: Any):
    api.login_as("ana", "analyst")
    campaign = make.campaign("Epoch 5", tlp="green")
    assert campaign["tlp"] == "green"
    url = f"{CAMPAIGNS}/{campaign['id']}"
    assert api.patch(url, json={"tlp": "amber+strict"}).json()["tlp"] == "amber+strict"
    assert api.patch(url, json={"description": "d"}).json()["tlp"] == "amber+strict"
    assert api.patch(url, json={"tlp": None}).json()["tlp"] is None
    assert api.get(url).json()["tlp"] is None


def test_a_collection_keeps_its_marking_in_metadata(api: Any, make: Any):
    api.login_as("ana", "analyst")
    collection = make.collection("Emotet C2", tlp="amber", metadata={"source": "hunt"})
    assert collection["tlp"] == "amber"
    assert collection["metadata"] == {"source": "hunt", "tlp": "amber"}
    url = f"{COLLECTIONS}/{collection['id']}"
    replaced = api.patch(url, json={"metadata": {"source": "other"}}).json()
    assert replaced["tlp"] == "amber" and replaced["metadata"] == {
        "source": "other",
        "tlp": "amber",
    }
    assert api.patch(url, json={"tlp": "tlp:red"}).json()["tlp"] == "red"
    assert api.get(url).json()["tlp"] == "red"
    assert api.patch(url, json={"tlp": None}).json()["metadata"] == {"source": "other"}


def test_a_report_shows_the_strictest_of_its_marking_and_its_classification(api: Any, make: Any):
    api.login_as("ana", "analyst")
    report = make.report("Weekly", classification="public")
    assert report["tlp"] == "clear"
    url = f"{REPORTS}/{report['id']}"
    marked = api.patch(url, json={"tlp": "amber"}).json()
    assert marked["tlp"] == "amber" and marked["classification"] == "public"
    assert api.patch(url, json={"classification": "confidential"}).json()["tlp"] == "red"
    # A marking looser than the classification is refused, not ignored.
    looser = api.patch(url, json={"tlp": "green"})
    assert looser.status_code == 422 and "classification" in looser.text
    both = api.patch(url, json={"classification": "internal", "tlp": "red"}).json()
    assert both["tlp"] == "red" and both["classification"] == "internal"
    assert api.patch(url, json={"tlp": None}).json()["tlp"] == "amber+strict"
    assert [r["tlp"] for r in api.get(REPORTS).json()["items"]] == ["amber+strict"]
    assert make.report("Internal by default")["tlp"] == "amber+strict"
