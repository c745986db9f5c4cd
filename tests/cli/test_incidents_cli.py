"""``krsn incidents``: open, work and resolve an incident, link what explains it, promote an
alert, and read it all back with ``--json``, on both engines."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from krsn.detection.models import Alert, AlertSeverity, AlertStatus, Incident
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.identity.users import create_user
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.normalise import Indicator, normalise


def normalised(value: str) -> Indicator:
    result = normalise(value)
    assert isinstance(result, Indicator), result
    return result


def add_rows(cli: Any) -> dict[str, str]:
    """An analyst, an indicator and an alert on it; their ids (and the analyst's name)."""
    with cli.database.transaction() as session:
        user, _ = create_user(
            session,
            actor=Actor.system(),
            username="bob",
            email="bob@example.org",
            role=Role.ANALYST,
            password="Correct-Horse-Battery-42",
        )
        indicator = ThreatIndicator(
            indicator_value="evil.example.com",
            indicator_type=IndicatorType.DOMAIN,
            # The real deduplication key: the commands find indicators by value through it.
            hash_signature=normalised("evil.example.com").signature,
        )
        session.add(indicator)
        session.flush()
        alert = Alert(
            title="Beacon to evil.example.com",
            severity=AlertSeverity.CRITICAL,
            indicator_id=indicator.id,
        )
        loose = Alert(title="Odd login", severity=AlertSeverity.LOW)
        session.add_all([alert, loose])
        session.flush()
        return {
            "user": str(user.id),
            "indicator": str(indicator.id),
            "alert": str(alert.id),
            "loose": str(loose.id),
        }


def test_an_incident_is_opened_worked_and_resolved_from_the_command_line(cli: Any) -> None:
    rows = add_rows(cli)
    created = cli.json(
        "incidents", "create", "--title", "Phishing wave", "--severity", "high",
        "--asset", "mail-01", "--asset", "ws-12", "--analyst", "bob",
    )  # fmt: skip
    number = created["incident_number"]
    assert created["assigned_analyst"] == "bob"
    assert created["affected_assets"] == ["mail-01", "ws-12"]

    cli.ok("incidents", "status", number, "investigating")
    cli.ok("incidents", "note", number, "Sender blocked at the gateway.")
    cli.ok("incidents", "link-alert", number, rows["loose"], "--notes", "same sender")
    # By value, defanged: the indicator is found as it is stored.
    cli.ok(
        "incidents",
        "link-indicator",
        number,
        "evil[.]example[.]com",
        "--relationship",
        "root_cause",
    )
    refused = cli.failed("incidents", "link-alert", number, rows["loose"])
    assert "already linked" in refused.stderr
    unresolved = cli.failed("incidents", "resolve", number, "--summary", "  ")
    assert "resolution_summary" in unresolved.stderr
    backwards = cli.failed("incidents", "status", number, "open")
    # Rich wraps long messages to the terminal's width.
    assert "can only move to contained, resolved" in " ".join(backwards.stderr.split())
    cli.ok("incidents", "resolve", number, "--summary", "Mails purged, sender blocked.")

    shown = cli.json("incidents", "show", number)
    assert shown["status"] == "resolved" and shown["resolved_at"]
    assert [a["alert_id"] for a in shown["alerts"]] == [rows["loose"]]
    assert shown["alerts"][0]["notes"] == "same sender"
    assert [(i["indicator_id"], i["relationship_type"]) for i in shown["indicators"]] == [
        (rows["indicator"], "root_cause")
    ]
    assert [e["kind"] for e in shown["timeline"]] == [
        "created",
        "status",
        "note",
        "alert_linked",
        "indicator_linked",
        "updated",
        "status",
    ]
    assert all(e["actor"]["via"] == "cli" for e in shown["timeline"])
    assert cli.json("incidents", "timeline", number) == shown["timeline"]

    cli.ok("incidents", "unlink-alert", number, rows["loose"])
    cli.ok("incidents", "unlink-indicator", number, "evil.example.com")
    cli.ok("incidents", "status", number, "investigating")
    cli.ok("incidents", "assign", number, "--unassign")
    cli.ok("incidents", "update", number, "--title", "Phishing wave (March)", "--clear-assets")
    after = cli.json("incidents", "show", number)
    assert after["alerts"] == [] and after["indicators"] == []
    assert (after["status"], after["resolved_at"]) == ("investigating", None)
    assert after["assigned_analyst"] is None
    assert (after["title"], after["affected_assets"]) == ("Phishing wave (March)", [])
    assert [e["kind"] for e in after["timeline"]][-5:] == [
        "alert_unlinked",
        "indicator_unlinked",
        "status",
        "assigned",
        "updated",
    ]
    # Two status moves, the resolution, the reopening, the unassignment, the edit.
    assert len(cli.audit("incident.update", created["id"])) == 5
    assert len(cli.audit("incident.create", created["id"])) == 1
    assert len(cli.audit("incident.note", created["id"])) == 1

    # People read a table, a header and the timeline.
    table = cli.ok("incidents", "show", number).stdout
    assert number in table and "Timeline (12)" in table and "Sender" in table


def test_an_alert_is_promoted_from_the_command_line(cli: Any) -> None:
    rows = add_rows(cli)
    promoted = cli.json("incidents", "promote", rows["alert"], "--analyst", "bob")
    assert promoted["severity"] == "critical"
    assert promoted["assigned_analyst_id"] == rows["user"]
    assert [(i["indicator_id"], i["relationship_type"]) for i in promoted["indicators"]] == [
        (rows["indicator"], "root_cause")
    ]
    again = cli.failed("incidents", "promote", rows["alert"])
    assert promoted["incident_number"] in again.stderr
    with cli.database.transaction(readonly=True) as session:
        alert = session.get(Alert, uuid.UUID(rows["alert"]))
        assert alert is not None and alert.status is AlertStatus.INVESTIGATING
        assert len(session.scalars(select(Incident)).all()) == 1
    assert len(cli.audit("incident.create", promoted["id"])) == 1

    listed = cli.json("incidents", "list", "--severity", "critical", "--analyst", "bob")
    assert [i["incident_number"] for i in listed["items"]] == [promoted["incident_number"]]
    assert listed["total"] == 1
    assert cli.json("incidents", "list", "--status", "resolved")["items"] == []
    timeline = cli.json("incidents", "timeline", promoted["incident_number"])
    assert timeline[0]["kind"] == "promoted"
    assert "Beacon" in cli.ok("incidents", "list").stdout


def test_unknown_things_fail_with_a_message(cli: Any) -> None:
    add_rows(cli)
    assert "INC-1999-0001" in cli.failed("incidents", "show", "INC-1999-0001").stderr
    assert "not an id" in cli.failed("incidents", "promote", "not-a-uuid").stderr
    assert cli.failed("incidents", "promote", str(uuid.uuid4())).stderr
    assert cli.failed("incidents", "create", "--title", "x", "--analyst", "nobody").stderr
    number = cli.json("incidents", "create", "--title", "Port scan")["incident_number"]
    assert cli.failed("incidents", "link-indicator", number, "unknown.example.org").stderr
    assert cli.failed("incidents", "assign", number).stderr
    assert cli.failed("incidents", "update", number).stderr
