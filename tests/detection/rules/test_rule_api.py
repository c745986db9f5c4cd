"""``/api/v1/correlation-rules``: audited create, change, switch and delete by analysts,
reads for everyone, faults named by their JSON path, and dry runs over past data."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from krsn.db.types import utcnow
from krsn.detection.models import Sighting
from krsn.identity.models import AuditLog
from krsn.indicators.normalise import Indicator, normalise
from krsn.indicators.store import Report, upsert_indicators

BASE = "/api/v1/correlation-rules"

PATTERN: dict[str, Any] = {
    "name": "C2 seen inside",
    "rule_type": "pattern",
    "rule_definition": {
        "condition": {
            "all": [
                {"field": "origin", "op": "eq", "value": "sighting"},
                {"field": "indicator.tags", "op": "contains", "value": "c2"},
            ]
        },
        "severity": "high",
    },
    "parameters": {"playbook": "isolate"},
}


def audits(api, action: str, resource_id: str) -> list[AuditLog]:
    with api.database.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(AuditLog).where(
                    AuditLog.action == action, AuditLog.resource_id == resource_id
                )
            )
        )


def test_an_analyst_creates_changes_switches_and_deletes_a_rule(api):
    api.login_as("ana", "analyst")
    created = api.post(BASE, json=PATTERN)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["is_active"] is True
    assert rule["rule_definition"] == PATTERN["rule_definition"]
    assert rule["created_by"] is not None
    (entry,) = audits(api, "correlation_rule.create", rule["id"])
    assert entry.new_values["name"] == "C2 seen inside"

    assert api.get(f"{BASE}/{rule['id']}").json()["name"] == "C2 seen inside"

    switched = api.patch(f"{BASE}/{rule['id']}", json={"is_active": False})
    assert switched.status_code == 200, switched.text
    assert switched.json()["is_active"] is False
    (change,) = audits(api, "correlation_rule.update", rule["id"])
    assert (change.old_values, change.new_values) == ({"is_active": True}, {"is_active": False})

    window = api.patch(f"{BASE}/{rule['id']}", json={"time_window_minutes": 30})
    assert window.json()["time_window_minutes"] == 30

    assert api.delete(f"{BASE}/{rule['id']}").status_code == 204
    assert api.get(f"{BASE}/{rule['id']}").status_code == 404
    (gone,) = audits(api, "correlation_rule.delete", rule["id"])
    assert gone.old_values["rule_type"] == "pattern"


def test_lists_filter_by_type_and_state_and_page_by_keyset(api):
    api.login_as("ana", "analyst")
    for i in range(3):
        api.post(BASE, json={**PATTERN, "name": f"pattern {i}", "is_active": i != 1})
    threshold = {
        "name": "burst",
        "rule_type": "threshold",
        "rule_definition": {"group_by": ["host"], "count": 5},
        "time_window_minutes": 10,
    }
    assert api.post(BASE, json=threshold).status_code == 201

    names = lambda r: [item["name"] for item in r.json()["items"]]  # noqa: E731
    assert names(api.get(BASE, params={"rule_type": "threshold"})) == ["burst"]
    assert names(api.get(BASE, params={"is_active": "false"})) == ["pattern 1"]
    assert names(api.get(BASE, params={"q": "PATTERN", "sort": "-name"})) == [
        "pattern 2",
        "pattern 1",
        "pattern 0",
    ]
    first = api.get(BASE, params={"limit": 2}).json()
    assert first["total"] == 4 and len(first["items"]) == 2
    rest = api.get(BASE, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["name"] for i in first["items"] + rest["items"]] == [
        "burst",
        "pattern 0",
        "pattern 1",
        "pattern 2",
    ]
    assert rest["next_cursor"] is None


def test_a_faulty_rule_is_refused_with_the_path_of_the_fault(api):
    api.login_as("ana", "analyst")
    bad = {
        **PATTERN,
        "rule_definition": {
            "condition": {
                "all": [
                    {"field": "origin", "op": "eq", "value": "sighting"},
                    {"field": "host", "op": "like", "value": "web%"},
                ]
            }
        },
    }
    response = api.post(BASE, json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "rule_definition.condition.all.1.op"

    threshold = {"name": "t", "rule_type": "threshold", "rule_definition": {"count": 3}}
    assert api.post(BASE, json=threshold).json()["field"] == "time_window_minutes"

    rule = api.post(BASE, json=PATTERN).json()
    change = api.patch(f"{BASE}/{rule['id']}", json={"rule_type": "threshold"})
    assert change.status_code == 422
    assert change.json()["field"] == "time_window_minutes"
    assert api.get(f"{BASE}/{rule['id']}").json()["rule_type"] == "pattern"

    assert api.post(BASE, json={**PATTERN, "name": "c2 SEEN inside"}).status_code == 409


def test_a_viewer_reads_rules_but_changes_and_tests_nothing(api):
    api.login_as("ana", "analyst")
    rule = api.post(BASE, json=PATTERN).json()
    viewer = api.fresh()
    viewer.login_as("vic", "viewer")
    try:
        assert viewer.get(BASE).json()["total"] == 1
        assert viewer.get(f"{BASE}/{rule['id']}").status_code == 200
        assert viewer.post(BASE, json={**PATTERN, "name": "other"}).status_code == 403
        assert viewer.patch(f"{BASE}/{rule['id']}", json={"is_active": False}).status_code == 403
        assert viewer.delete(f"{BASE}/{rule['id']}").status_code == 403
        assert viewer.post(f"{BASE}/{rule['id']}/test").status_code == 403
        assert viewer.post(f"{BASE}/test", json=PATTERN).status_code == 403
    finally:
        viewer.close()
    assert api.get(f"{BASE}/{rule['id']}").json()["is_active"] is True


def seed_sightings(api, count: int) -> str:
    now = utcnow()
    reading = normalise("45.9.148.9")
    assert isinstance(reading, Indicator)
    with api.database.transaction() as session:
        result = upsert_indicators(
            session,
            reports=[Report(indicator=reading, seen_at=now, confidence=80, tags=("c2",))],
            source="seed",
            now=now - timedelta(days=9),
        )
        indicator_id = result.ids[reading.signature]
        for i in range(count):
            session.add(
                Sighting(
                    value="45.9.148.9",
                    matched="45.9.148.9",
                    indicator_id=indicator_id,
                    observed_at=now - timedelta(minutes=60 * i + 30),
                    host="web-01",
                )
            )
    return str(indicator_id)


def test_a_saved_rule_is_tested_on_past_data_before_it_is_switched_on(api):
    api.login_as("ana", "analyst")
    indicator_id = seed_sightings(api, 3)
    rule = api.post(BASE, json={**PATTERN, "is_active": False}).json()
    response = api.post(f"{BASE}/{rule['id']}/test", params={"since": "2h"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["events_scanned"], report["firings"]) == (2, 2)
    assert report["keys"] == [{"key": f"{rule['id']}:{indicator_id}", "count": 2}]
    assert report["samples"][0]["severity"] == "high"
    assert report["rule_id"] == rule["id"]

    week = api.post(f"{BASE}/{rule['id']}/test", params={"since": "7d", "limit": 1}).json()
    assert (week["events_total"], week["events_scanned"], week["capped"]) == (3, 1, True)

    bad = api.post(f"{BASE}/{rule['id']}/test", params={"since": "last week"})
    assert bad.status_code == 422 and bad.json()["field"] == "since"
    assert api.post(f"{BASE}/{uuid.uuid4()}/test").status_code == 404


def test_an_unsaved_rule_is_tested_from_the_request_body(api):
    api.login_as("ana", "analyst")
    seed_sightings(api, 4)
    body = {
        "rule_type": "threshold",
        "rule_definition": {"group_by": ["host"], "count": 2, "title": "{count} on {host}"},
        "time_window_minutes": 90,
    }
    response = api.post(f"{BASE}/test", params={"since": "1d"}, json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    # Sightings an hour apart: each after the first makes two within 90 minutes, the one
    # before it having left the window.
    assert (report["events_scanned"], report["firings"]) == (4, 3)
    assert [s["title"] for s in report["samples"]] == ["2 on web-01"] * 3
    assert report["rule_id"] is None
    assert api.get(BASE).json()["total"] == 0

    broken = api.post(f"{BASE}/test", json={**body, "rule_definition": {"count": "two"}})
    assert broken.status_code == 422 and broken.json()["field"] == "rule_definition.count"
