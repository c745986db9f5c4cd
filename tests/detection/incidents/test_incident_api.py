"""Incidents over HTTP, on both engines: who may do what, lookup by number, the timeline,
links, promotion of an alert, and the list's filters and pages."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from krsn.detection.models import Alert, AlertSeverity, AlertStatus
from krsn.identity.models import AuditLog, User
from krsn.indicators.models import IndicatorType, ThreatIndicator

INCIDENTS = "/api/v1/incidents"


def add_indicator(api: Any, value: str = "evil.example.com") -> str:
    with api.database.transaction() as session:
        row = ThreatIndicator(
            indicator_value=value, indicator_type=IndicatorType.DOMAIN, hash_signature=value
        )
        session.add(row)
        session.flush()
        return str(row.id)


def add_alert(api: Any, **fields: Any) -> str:
    values: dict[str, Any] = {"title": "Beacon to evil.example.com", "severity": "high", **fields}
    with api.database.transaction() as session:
        row = Alert(**values)
        session.add(row)
        session.flush()
        return str(row.id)


def user_id(api: Any, username: str) -> str:
    with api.database.transaction(readonly=True) as session:
        return str(session.scalar(select(User.id).where(User.username == username)))


def opened(api: Any, **body: Any) -> dict[str, Any]:
    response = api.post(INCIDENTS, json={"title": "Phishing wave", **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_an_analyst_works_an_incident_from_open_to_resolved(api: Any) -> None:
    api.login_as("alice", "analyst")
    created = opened(api, severity="high", affected_assets=["mail-01"], assigned_analyst_id=None)
    number = created["incident_number"]
    assert number.startswith("INC-") and number.endswith("-0001")
    assert (created["status"], created["severity"]) == ("open", "high")
    assert created["alerts"] == [] and created["indicators"] == []

    by_number = api.get(f"{INCIDENTS}/{number}")
    by_id = api.get(f"{INCIDENTS}/{created['id']}")
    assert by_number.status_code == by_id.status_code == 200
    assert by_number.json()["id"] == by_id.json()["id"] == created["id"]
    assert api.get(f"{INCIDENTS}/{number.lower()}").json()["id"] == created["id"]

    changed = api.patch(
        f"{INCIDENTS}/{number}",
        json={"status": "investigating", "assigned_analyst_id": user_id(api, "alice")},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["assigned_analyst"] == "alice"

    unresolved = api.patch(f"{INCIDENTS}/{number}", json={"status": "resolved"})
    assert unresolved.status_code == 422
    assert unresolved.json()["field"] == "resolution_summary"

    backwards = api.patch(f"{INCIDENTS}/{number}", json={"status": "open"})
    assert backwards.status_code == 422
    assert "contained, resolved" in backwards.json()["detail"]

    note = api.post(f"{INCIDENTS}/{number}/notes", json={"text": "Blocked the sender."})
    assert note.status_code == 201
    assert note.json()["actor"]["username"] == "alice"

    resolved = api.patch(
        f"{INCIDENTS}/{number}",
        json={"status": "resolved", "resolution_summary": "Sender blocked, mails purged."},
    )
    assert resolved.status_code == 200
    assert resolved.json()["resolved_at"] is not None

    entries = api.get(f"{INCIDENTS}/{number}/timeline").json()
    assert [e["kind"] for e in entries] == [
        "created",
        "assigned",
        "status",
        "note",
        "updated",
        "status",
    ]
    assert all(e["actor"]["username"] == "alice" for e in entries)
    assert entries[-1]["details"]["resolution_summary"] == "Sender blocked, mails purged."

    with api.database.transaction(readonly=True) as session:
        actions = session.scalars(
            select(AuditLog.action)
            .where(AuditLog.resource_id == created["id"])
            .order_by(AuditLog.created_at, AuditLog.id)
        ).all()
    assert actions == [
        "incident.create",
        "incident.update",
        "incident.note",
        "incident.update",
    ]


def test_alerts_and_indicators_are_linked_once_and_unlinked(api: Any) -> None:
    api.login_as("alice", "analyst")
    number = opened(api)["incident_number"]
    alert_id = add_alert(api)
    indicator_id = add_indicator(api)

    linked = api.post(f"{INCIDENTS}/{number}/alerts", json={"alert_id": alert_id, "notes": "x"})
    assert linked.status_code == 201, linked.text
    assert linked.json()["alert_id"] == alert_id
    assert linked.json()["linked_by"] == user_id(api, "alice")
    again = api.post(f"{INCIDENTS}/{number}/alerts", json={"alert_id": alert_id})
    assert again.status_code == 409

    root = api.post(
        f"{INCIDENTS}/{number}/indicators",
        json={"indicator_id": indicator_id, "relationship_type": "root_cause"},
    )
    assert root.status_code == 201, root.text
    assert root.json()["relationship_type"] == "root_cause"
    assert root.json()["indicator_value"] == "evil.example.com"
    assert (
        api.post(f"{INCIDENTS}/{number}/indicators", json={"indicator_id": indicator_id})
    ).status_code == 409
    unknown = api.post(f"{INCIDENTS}/{number}/alerts", json={"alert_id": str(uuid.uuid4())})
    assert unknown.status_code == 404

    shown = api.get(f"{INCIDENTS}/{number}").json()
    assert [a["alert_id"] for a in shown["alerts"]] == [alert_id]
    assert [i["indicator_id"] for i in shown["indicators"]] == [indicator_id]

    assert api.delete(f"{INCIDENTS}/{number}/alerts/{alert_id}").status_code == 204
    assert api.delete(f"{INCIDENTS}/{number}/alerts/{alert_id}").status_code == 404
    assert api.delete(f"{INCIDENTS}/{number}/indicators/{indicator_id}").status_code == 204
    shown = api.get(f"{INCIDENTS}/{number}").json()
    assert shown["alerts"] == [] and shown["indicators"] == []
    kinds = [e["kind"] for e in api.get(f"{INCIDENTS}/{number}/timeline").json()]
    assert kinds == [
        "created",
        "alert_linked",
        "indicator_linked",
        "alert_unlinked",
        "indicator_unlinked",
    ]


def test_an_alert_is_promoted_once_in_one_request(api: Any) -> None:
    api.login_as("alice", "analyst")
    indicator_id = add_indicator(api)
    alert_id = add_alert(api, severity=AlertSeverity.MEDIUM, indicator_id=uuid.UUID(indicator_id))

    promoted = api.post(f"/api/v1/alerts/{alert_id}/incident")
    assert promoted.status_code == 201, promoted.text
    incident = promoted.json()
    assert incident["title"] == "Beacon to evil.example.com"
    assert incident["severity"] == "medium"
    assert [a["alert_id"] for a in incident["alerts"]] == [alert_id]
    assert incident["alerts"][0]["status"] == "investigating"
    assert [(i["indicator_id"], i["relationship_type"]) for i in incident["indicators"]] == [
        (indicator_id, "root_cause")
    ]
    timeline = api.get(f"{INCIDENTS}/{incident['incident_number']}/timeline").json()
    assert timeline[0]["kind"] == "promoted"
    assert timeline[0]["details"]["alert_id"] == alert_id

    second = api.post(f"/api/v1/alerts/{alert_id}/incident", json={"title": "Again"})
    assert second.status_code == 409
    assert second.json()["incident_number"] == incident["incident_number"]
    assert incident["incident_number"] in second.json()["detail"]

    other = add_alert(api, severity=AlertSeverity.INFO, title="Odd DNS")
    chosen = api.post(
        f"/api/v1/alerts/{other}/incident", json={"title": "DNS tunnelling", "severity": "high"}
    )
    assert chosen.status_code == 201
    assert (chosen.json()["title"], chosen.json()["severity"]) == ("DNS tunnelling", "high")
    assert api.post(f"/api/v1/alerts/{uuid.uuid4()}/incident").status_code == 404
    with api.database.transaction(readonly=True) as session:
        alert = session.get(Alert, uuid.UUID(other))
        assert alert is not None and alert.status is AlertStatus.INVESTIGATING


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_only_analysts_change_incidents_but_everyone_reads_them(api: Any, role: str) -> None:
    api.login_as("alice", "analyst")
    number = opened(api)["incident_number"]
    alert_id = add_alert(api)
    indicator_id = add_indicator(api)
    reader = api.fresh()
    reader.login_as("vera", role)
    changes = [
        ("POST", INCIDENTS, {"title": "Mine"}),
        ("PATCH", f"{INCIDENTS}/{number}", {"status": "investigating"}),
        ("POST", f"{INCIDENTS}/{number}/notes", {"text": "hello"}),
        ("POST", f"{INCIDENTS}/{number}/alerts", {"alert_id": alert_id}),
        ("DELETE", f"{INCIDENTS}/{number}/alerts/{alert_id}", None),
        ("POST", f"{INCIDENTS}/{number}/indicators", {"indicator_id": indicator_id}),
        ("DELETE", f"{INCIDENTS}/{number}/indicators/{indicator_id}", None),
        ("POST", f"/api/v1/alerts/{alert_id}/incident", None),
    ]
    for method, url, body in changes:
        response = reader.request(method, url, json=body)
        assert response.status_code == 403, (method, url, response.text)
    for url in (INCIDENTS, f"{INCIDENTS}/{number}", f"{INCIDENTS}/{number}/timeline"):
        assert reader.get(url).status_code == 200, url
    reader.close()
    assert [e["kind"] for e in api.get(f"{INCIDENTS}/{number}/timeline").json()] == ["created"]


def test_the_list_filters_sorts_and_pages(api: Any) -> None:
    api.login_as("alice", "analyst")
    alice = user_id(api, "alice")
    made = [
        opened(api, title="Phishing wave", severity="low"),
        opened(api, title="Ransomware on ws-12", severity="critical", assigned_analyst_id=alice),
        opened(api, title="Phishing, second wave", severity="high"),
        opened(api, title="Port scan", severity="medium"),
    ]
    api.patch(f"{INCIDENTS}/{made[3]['id']}", json={"status": "contained"})

    def numbers(**params: Any) -> list[str]:
        response = api.get(INCIDENTS, params=params)
        assert response.status_code == 200, response.text
        return [i["incident_number"] for i in response.json()["items"]]

    newest_first = [m["incident_number"] for m in reversed(made)]
    assert numbers() == newest_first
    assert numbers(sort="created") == newest_first[::-1]
    assert numbers(sort="-severity") == [made[i]["incident_number"] for i in (1, 2, 3, 0)]
    assert numbers(sort="severity") == [made[i]["incident_number"] for i in (0, 3, 2, 1)]
    assert numbers(q="PHISHING") == [made[2]["incident_number"], made[0]["incident_number"]]
    assert numbers(q=made[1]["incident_number"]) == [made[1]["incident_number"]]
    assert numbers(status="contained") == [made[3]["incident_number"]]
    assert numbers(severity="critical") == [made[1]["incident_number"]]
    assert numbers(assigned_analyst_id=alice) == [made[1]["incident_number"]]

    for sort in ("-severity", "updated", "-created"):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = api.get(INCIDENTS, params=params).json()
            assert page["total"] == 4
            seen += [i["incident_number"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == numbers(sort=sort), sort
    first = api.get(INCIDENTS, params={"limit": 1, "sort": "-severity"}).json()
    wrong = api.get(INCIDENTS, params={"cursor": first["next_cursor"], "sort": "created"})
    assert wrong.status_code == 422
    assert api.get(INCIDENTS, params={"cursor": "garbage"}).status_code == 422


def test_unknown_incidents_and_bad_bodies_are_answered_as_problems(api: Any) -> None:
    api.login_as("alice", "analyst")
    assert api.get(f"{INCIDENTS}/INC-1999-0001").status_code == 404
    assert api.get(f"{INCIDENTS}/no-such-thing").status_code == 404
    assert api.get(f"{INCIDENTS}/{uuid.uuid4()}/timeline").status_code == 404
    assert api.post(INCIDENTS, json={"title": "  "}).status_code == 422
    assert api.post(INCIDENTS, json={"title": "x", "severity": "info"}).status_code == 422
    number = opened(api)["incident_number"]
    assert api.patch(f"{INCIDENTS}/{number}", json={"timeline": []}).status_code == 422
    assert api.patch(f"{INCIDENTS}/{number}", json={"title": None}).status_code == 422
    assert (
        api.patch(f"{INCIDENTS}/{number}", json={"assigned_analyst_id": str(uuid.uuid4())})
    ).status_code == 422
    assert api.post(f"{INCIDENTS}/{number}/notes", json={"text": ""}).status_code == 422
