"""Incidents through the service, on both engines: the status flow, resolution, the timeline,
links, promotion of an alert, the audit rows and the change events."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from krsn.db import Database
from krsn.detection import events
from krsn.detection.events import ChangeEvent
from krsn.detection.incidents import service
from krsn.detection.incidents.timeline import EntryKind
from krsn.detection.models import (
    Alert,
    AlertSeverity,
    AlertStatus,
    Incident,
    IncidentIndicator,
    IncidentRelationship,
    IncidentStatus,
)
from krsn.errors import Conflict, Invalid, NotFound
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog, Role
from krsn.identity.users import create_user
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator

# --- rows the tests start from ----------------------------------------------------------------


def make_user(db: Database, username: str, role: Role = Role.ANALYST) -> Actor:
    with db.transaction() as session:
        user, _ = create_user(
            session,
            actor=Actor.system(),
            username=username,
            email=f"{username}@example.org",
            role=role,
            password="Correct-Horse-Battery-42",
        )
    return Actor(user_id=user.id, via="session")


def make_indicator(db: Database, value: str = "evil.example.com") -> uuid.UUID:
    with db.transaction() as session:
        row = ThreatIndicator(
            indicator_value=value, indicator_type=IndicatorType.DOMAIN, hash_signature=value
        )
        session.add(row)
        session.flush()
        return row.id


def make_alert(
    db: Database,
    *,
    title: str = "Beacon to evil.example.com",
    severity: AlertSeverity = AlertSeverity.HIGH,
    indicator_id: uuid.UUID | None = None,
    assigned_user_id: uuid.UUID | None = None,
    status: AlertStatus = AlertStatus.OPEN,
) -> uuid.UUID:
    with db.transaction() as session:
        row = Alert(
            title=title,
            description="Seen from host ws-12.",
            severity=severity,
            status=status,
            indicator_id=indicator_id,
            assigned_user_id=assigned_user_id,
        )
        session.add(row)
        session.flush()
        return row.id


def open_incident(db: Database, actor: Actor, **fields: Any) -> Incident:
    with db.transaction() as session:
        return service.create_incident(
            session, actor=actor, title=fields.pop("title", "Phishing wave"), **fields
        )


def kinds(db: Database, incident_id: uuid.UUID) -> list[str]:
    with db.transaction(readonly=True) as session:
        return [e.kind.value for e in service.timeline_of(session, incident_id)]


def audit_actions(db: Database, resource_type: str) -> list[str]:
    with db.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(AuditLog.action)
                .where(AuditLog.resource_type == resource_type)
                .order_by(AuditLog.created_at, AuditLog.id)
            )
        )


# --- status flow ------------------------------------------------------------------------------


def test_status_moves_forward_step_by_step_and_reopens_after_resolution(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    for step in ("investigating", "contained"):
        with db.transaction() as session:
            changed = service.set_status(session, actor=alice, key=incident.id, status=step)
            assert changed.status == IncidentStatus(step)
            assert changed.resolved_at is None
    with db.transaction() as session:
        resolved = service.set_status(
            session,
            actor=alice,
            key=incident.id,
            status=IncidentStatus.RESOLVED,
            resolution_summary="Mailbox rules removed, credentials rotated.",
        )
        assert resolved.resolved_at is not None
    with db.transaction() as session:
        reopened = service.set_status(
            session, actor=alice, key=incident.id, status=IncidentStatus.INVESTIGATING
        )
    with db.transaction(readonly=True) as session:
        stored = session.get(Incident, incident.id)
        assert stored is not None
        assert stored.status is IncidentStatus.INVESTIGATING
        assert stored.resolved_at is None
        assert reopened.resolution_summary == "Mailbox rules removed, credentials rotated."


def test_a_step_may_be_skipped_forward(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    with db.transaction() as session:
        service.set_status(
            session,
            actor=alice,
            key=incident.incident_number,
            status="resolved",
            resolution_summary="A test message, not phishing.",
        )
    with db.transaction(readonly=True) as session:
        assert service.get_incident(session, incident.id).status is IncidentStatus.RESOLVED


@pytest.mark.parametrize(
    ("path", "refused", "allowed"),
    [
        (["investigating"], "open", "contained, resolved"),
        (["contained"], "investigating", "resolved"),
        (["contained"], "open", "resolved"),
        (["resolved"], "contained", "investigating"),
        (["resolved"], "open", "investigating"),
    ],
)
def test_going_back_is_refused_naming_the_allowed_next_states(
    db: Database, path: list[str], refused: str, allowed: str
) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    for step in path:
        with db.transaction() as session:
            service.set_status(
                session, actor=alice, key=incident.id, status=step, resolution_summary="done"
            )
    with pytest.raises(Invalid) as refusal, db.transaction() as session:
        service.set_status(session, actor=alice, key=incident.id, status=refused)
    assert refusal.value.field == "status"
    assert refusal.value.reason.endswith(f"can only move to {allowed}")
    with db.transaction(readonly=True) as session:
        assert service.get_incident(session, incident.id).status == IncidentStatus(path[-1])


def test_resolving_needs_a_summary_given_now_or_already_there(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    with pytest.raises(Invalid) as refusal, db.transaction() as session:
        service.set_status(session, actor=alice, key=incident.id, status="resolved")
    assert refusal.value.field == "resolution_summary"
    with pytest.raises(Invalid), db.transaction() as session:
        service.set_status(
            session, actor=alice, key=incident.id, status="resolved", resolution_summary="   "
        )
    with db.transaction(readonly=True) as session:
        assert service.get_incident(session, incident.id).status is IncidentStatus.OPEN

    with db.transaction() as session:
        service.update_incident(
            session, actor=alice, key=incident.id, changes={"resolution_summary": "Draft."}
        )
    with db.transaction() as session:
        resolved = service.set_status(session, actor=alice, key=incident.id, status="resolved")
        assert resolved.resolution_summary == "Draft."
    # A resolved incident keeps its summary.
    with pytest.raises(Invalid), db.transaction() as session:
        service.update_incident(
            session, actor=alice, key=incident.id, changes={"resolution_summary": None}
        )


# --- the timeline -----------------------------------------------------------------------------


def test_every_kind_of_change_lands_in_the_timeline_with_its_actor(db: Database) -> None:
    alice = make_user(db, "alice")
    bob = make_user(db, "bob")
    indicator_id = make_indicator(db)
    alert_id = make_alert(db, title="Login from a new country")
    promoted_from = make_alert(db, title="Beacon", indicator_id=make_indicator(db, "c2.example"))
    incident = open_incident(db, alice, severity=Severity.LOW)
    with db.transaction() as session:
        service.update_incident(
            session,
            actor=alice,
            key=incident.id,
            changes={
                "title": "Account takeover",
                "affected_assets": ["mail-01", "ws-12"],
                "severity": "high",
                "assigned_analyst_id": bob.user_id,
                "status": "investigating",
            },
        )
    with db.transaction() as session:
        service.add_note(session, actor=bob, key=incident.id, text="Called the user.")
        service.link_alert(session, actor=bob, key=incident.id, alert_id=alert_id, notes="same IP")
        service.link_indicator(
            session,
            actor=bob,
            key=incident.id,
            indicator_id=indicator_id,
            relationship_type=IncidentRelationship.CONSEQUENCE,
        )
    with db.transaction() as session:
        service.unlink_alert(session, actor=bob, key=incident.id, alert_id=alert_id)
        service.unlink_indicator(session, actor=bob, key=incident.id, indicator_id=indicator_id)
    with db.transaction() as session:
        promoted = service.promote_alert(session, alert_id=promoted_from, actor=alice)

    with db.transaction(readonly=True) as session:
        entries = service.timeline_of(session, incident.incident_number)
        promotion = service.timeline_of(session, promoted.id)
    assert [e.kind.value for e in entries] == [
        "created",
        "updated",
        "severity",
        "assigned",
        "status",
        "note",
        "alert_linked",
        "indicator_linked",
        "alert_unlinked",
        "indicator_unlinked",
    ]
    assert {e.kind for e in entries + promotion} == set(EntryKind)
    by_kind = {e.kind.value: e for e in entries}
    assert by_kind["created"].actor.username == "alice"
    assert by_kind["created"].actor.user_id == alice.user_id
    assert by_kind["note"].actor.username == "bob"
    assert by_kind["note"].details == {"text": "Called the user."}
    assert by_kind["updated"].details["changes"] == {
        "title": {"old": "Phishing wave", "new": "Account takeover"},
        "affected_assets": {"old": [], "new": ["mail-01", "ws-12"]},
    }
    assert by_kind["severity"].details == {"old": "low", "new": "high"}
    assert by_kind["assigned"].details["new"]["username"] == "bob"
    assert by_kind["assigned"].details["old"] is None
    assert by_kind["status"].details == {"old": "open", "new": "investigating"}
    assert by_kind["alert_linked"].details["alert_id"] == str(alert_id)
    assert by_kind["alert_linked"].details["notes"] == "same IP"
    assert by_kind["indicator_linked"].details["relationship_type"] == "consequence"
    assert by_kind["indicator_unlinked"].details["value"] == "evil.example.com"
    times = [e.at for e in entries]
    assert times == sorted(times)
    assert promotion[0].kind is EntryKind.PROMOTED
    assert promotion[0].details["alert_id"] == str(promoted_from)


def test_sending_what_is_already_there_changes_nothing(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice, severity=Severity.HIGH)
    with db.transaction() as session:
        service.update_incident(
            session,
            actor=alice,
            key=incident.id,
            changes={"title": "Phishing wave", "severity": "high", "status": "open"},
        )
    assert kinds(db, incident.id) == ["created"]
    assert audit_actions(db, "incident") == ["incident.create"]


def test_changes_are_audited_with_old_and_new_values(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    with db.transaction() as session:
        service.update_incident(
            session, actor=alice, key=incident.id, changes={"severity": "critical"}
        )
        service.add_note(session, actor=alice, key=incident.id, text="Escalated.")
    with db.transaction(readonly=True) as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.resource_id == str(incident.id))
            .order_by(AuditLog.created_at, AuditLog.id)
        ).all()
    assert [r.action for r in rows] == ["incident.create", "incident.update", "incident.note"]
    assert rows[1].old_values == {"severity": "medium"}
    assert rows[1].new_values == {"severity": "critical"}
    assert all(r.user_id == alice.user_id for r in rows)


def test_unknown_analyst_or_field_is_refused(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    with pytest.raises(Invalid) as refusal, db.transaction() as session:
        service.assign(session, actor=alice, key=incident.id, analyst_id=uuid.uuid4())
    assert refusal.value.field == "assigned_analyst_id"
    with pytest.raises(Invalid) as refusal, db.transaction() as session:
        service.update_incident(session, actor=alice, key=incident.id, changes={"timeline": []})
    assert refusal.value.field == "timeline"


def test_an_incident_is_found_by_id_or_number_in_any_case(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    with db.transaction(readonly=True) as session:
        assert service.get_incident(session, incident.incident_number.lower()).id == incident.id
        assert service.get_incident(session, str(incident.id)).id == incident.id
        for missing in ("INC-1999-0001", str(uuid.uuid4()), "not-an-incident"):
            with pytest.raises(NotFound):
                service.get_incident(session, missing)


def test_concurrent_notes_are_all_kept(db: Database) -> None:
    alice = make_user(db, "alice")
    bob = make_user(db, "bob")
    incident = open_incident(db, alice)
    first_wrote = threading.Event()
    failures: list[BaseException] = []

    def slow_note() -> None:
        try:
            with db.transaction() as session:
                service.add_note(session, actor=alice, key=incident.id, text="first")
                first_wrote.set()
                # The other note is attempted while this transaction is still open.
                time.sleep(0.5)
        except BaseException as exc:
            failures.append(exc)
            first_wrote.set()

    def quick_note() -> None:
        try:
            first_wrote.wait(10)
            with db.transaction() as session:
                service.add_note(session, actor=bob, key=incident.id, text="second")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=slow_note), threading.Thread(target=quick_note)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    with db.transaction(readonly=True) as session:
        notes = [e.details["text"] for e in service.timeline_of(session, incident.id)[1:]]
    assert notes == ["first", "second"]


# --- links ------------------------------------------------------------------------------------


def test_links_record_who_and_when_and_refuse_duplicates(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    alert_id = make_alert(db)
    indicator_id = make_indicator(db)
    with db.transaction() as session:
        alert_link = service.link_alert(session, actor=alice, key=incident.id, alert_id=alert_id)
        indicator_link = service.link_indicator(
            session, actor=alice, key=incident.id, indicator_id=indicator_id, notes="in the mail"
        )
    assert alert_link.linked_by == alice.user_id and alert_link.linked_at is not None
    assert indicator_link.added_by == alice.user_id and indicator_link.added_at is not None
    assert indicator_link.relationship_type is IncidentRelationship.RELATED
    assert indicator_link.indicator_value == "evil.example.com"

    with pytest.raises(Conflict), db.transaction() as session:
        service.link_alert(session, actor=alice, key=incident.id, alert_id=alert_id)
    with pytest.raises(Conflict), db.transaction() as session:
        service.link_indicator(
            session,
            actor=alice,
            key=incident.id,
            indicator_id=indicator_id,
            relationship_type="root_cause",
        )
    with pytest.raises(NotFound), db.transaction() as session:
        service.link_alert(session, actor=alice, key=incident.id, alert_id=uuid.uuid4())
    with pytest.raises(NotFound), db.transaction() as session:
        service.link_indicator(session, actor=alice, key=incident.id, indicator_id=uuid.uuid4())
    with pytest.raises(NotFound), db.transaction() as session:
        service.link_alert(session, actor=alice, key="INC-1999-0001", alert_id=alert_id)
    with pytest.raises(Invalid), db.transaction() as session:
        service.link_indicator(
            session,
            actor=alice,
            key=incident.id,
            indicator_id=indicator_id,
            relationship_type="cousin",
        )

    with db.transaction(readonly=True) as session:
        shown = service.detail(session, service.get_incident(session, incident.id))
    assert [a.alert_id for a in shown.alerts] == [alert_id]
    assert [i.indicator_id for i in shown.indicators] == [indicator_id]
    assert (shown.alert_count, shown.indicator_count) == (1, 1)
    assert audit_actions(db, "incident_alert") == ["incident_alert.create"]
    assert audit_actions(db, "incident_indicator") == ["incident_indicator.create"]

    with db.transaction() as session:
        service.unlink_alert(session, actor=alice, key=incident.id, alert_id=alert_id)
        service.unlink_indicator(session, actor=alice, key=incident.id, indicator_id=indicator_id)
    with pytest.raises(NotFound), db.transaction() as session:
        service.unlink_alert(session, actor=alice, key=incident.id, alert_id=alert_id)
    with db.transaction(readonly=True) as session:
        shown = service.detail(session, service.get_incident(session, incident.id))
        assert session.get(Alert, alert_id) is not None
    assert shown.alerts == [] and shown.indicators == []
    assert audit_actions(db, "incident_alert") == ["incident_alert.create", "incident_alert.delete"]


# --- promotion --------------------------------------------------------------------------------


def test_promoting_an_alert_opens_a_linked_incident_in_one_step(db: Database) -> None:
    alice = make_user(db, "alice")
    bob = make_user(db, "bob")
    indicator_id = make_indicator(db)
    alert_id = make_alert(
        db, severity=AlertSeverity.CRITICAL, indicator_id=indicator_id, assigned_user_id=bob.user_id
    )
    with db.transaction() as session:
        incident = service.promote_alert(session, alert_id=alert_id, actor=alice)
        shown = service.detail(session, incident)
    assert shown.title == "Beacon to evil.example.com"
    assert shown.description == "Seen from host ws-12."
    assert shown.severity is Severity.CRITICAL
    assert shown.status is IncidentStatus.OPEN
    assert shown.assigned_analyst == "bob"
    assert [a.alert_id for a in shown.alerts] == [alert_id]
    assert [(i.indicator_id, i.relationship_type) for i in shown.indicators] == [
        (indicator_id, IncidentRelationship.ROOT_CAUSE)
    ]
    with db.transaction(readonly=True) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert alert.status is AlertStatus.INVESTIGATING
        assert alert.acknowledged_at is not None
    assert kinds(db, incident.id) == ["promoted", "alert_linked", "indicator_linked"]
    assert audit_actions(db, "incident") == ["incident.create"]
    assert audit_actions(db, "incident_alert") == ["incident_alert.create"]
    assert audit_actions(db, "incident_indicator") == ["incident_indicator.create"]
    assert audit_actions(db, "alert") == ["alert.update"]

    with pytest.raises(Conflict) as clash, db.transaction() as session:
        service.promote_alert(session, alert_id=alert_id, actor=alice)
    assert incident.incident_number in clash.value.detail
    assert clash.value.extra["incident_number"] == incident.incident_number
    with db.transaction(readonly=True) as session:
        assert len(session.scalars(select(Incident)).all()) == 1


def test_promotion_takes_what_is_given_over_the_alerts_own(db: Database) -> None:
    alice = make_user(db, "alice")
    bob = make_user(db, "bob")
    carol = make_user(db, "carol")
    alert_id = make_alert(db, severity=AlertSeverity.INFO, assigned_user_id=bob.user_id)
    with db.transaction() as session:
        plain = service.promote_alert(session, alert_id=alert_id, actor=alice)
        assert plain.severity is Severity.LOW
        assert plain.assigned_analyst_id == bob.user_id
    other = make_alert(db, status=AlertStatus.RESOLVED, assigned_user_id=bob.user_id)
    with db.transaction() as session:
        chosen = service.promote_alert(
            session,
            alert_id=other,
            actor=alice,
            title="Ransomware staging",
            severity=Severity.HIGH,
            assigned_analyst_id=carol.user_id,
        )
        assert (chosen.title, chosen.severity) == ("Ransomware staging", Severity.HIGH)
        assert chosen.assigned_analyst_id == carol.user_id
        assert (
            session.scalars(
                select(IncidentIndicator).where(IncidentIndicator.incident_id == chosen.id)
            ).all()
            == []
        )
        assert session.get(Alert, other).status is AlertStatus.INVESTIGATING  # type: ignore[union-attr]
    with pytest.raises(NotFound), db.transaction() as session:
        service.promote_alert(session, alert_id=uuid.uuid4(), actor=alice)


def test_an_alert_linked_by_hand_cannot_be_promoted_again(db: Database) -> None:
    alice = make_user(db, "alice")
    incident = open_incident(db, alice)
    alert_id = make_alert(db)
    with db.transaction() as session:
        service.link_alert(session, actor=alice, key=incident.id, alert_id=alert_id)
    with pytest.raises(Conflict) as clash, db.transaction() as session:
        service.promote_alert(session, alert_id=alert_id, actor=alice)
    assert incident.incident_number in clash.value.detail


# --- change events ----------------------------------------------------------------------------


@pytest.fixture
def heard() -> Any:
    """The change events the sinks receive during the test."""
    received: list[ChangeEvent] = []

    def sink(batch: list[ChangeEvent]) -> None:
        received.extend(batch)

    events.add_sink(sink)
    yield received
    events.remove_sink(sink)


def test_changes_are_published_only_once_committed(db: Database, heard: list[ChangeEvent]) -> None:
    alice = make_user(db, "alice")
    alert_id = make_alert(db)
    with Session(db.engine, expire_on_commit=False) as session:
        incident = service.create_incident(session, actor=alice, title="Phishing wave")
        service.add_note(session, actor=alice, key=incident.id, text="Looking.")
        assert heard == []
        session.commit()
    assert [e.topic for e in heard] == ["incident.created", "incident.updated"]
    assert heard[0].payload["incident_number"] == incident.incident_number
    assert heard[0].payload["id"] == str(incident.id)
    assert heard[0].payload["status"] == "open"

    heard.clear()
    with Session(db.engine, expire_on_commit=False) as session:
        service.set_status(session, actor=alice, key=incident.id, status="investigating")
        service.promote_alert(session, alert_id=alert_id, actor=alice)
        session.rollback()
    assert heard == []

    with Session(db.engine, expire_on_commit=False) as session:
        promoted = service.promote_alert(session, alert_id=alert_id, actor=alice)
        session.commit()
    assert [e.topic for e in heard] == ["incident.created", "alert.updated"]
    assert heard[0].payload["alert_count"] == 1
    assert heard[1].payload == {
        "id": str(alert_id),
        "title": "Beacon to evil.example.com",
        "severity": "high",
        "status": "investigating",
        "priority": "normal",
        "assigned_user_id": None,
        "incident_number": promoted.incident_number,
    }


def test_the_transaction_scope_delivers_events_after_its_commit(
    db: Database, heard: list[ChangeEvent]
) -> None:
    alice = make_user(db, "alice")
    with db.transaction() as session:
        incident = service.create_incident(session, actor=alice, title="Phishing wave")
    assert [(e.topic, e.payload["id"]) for e in heard] == [("incident.created", str(incident.id))]
    heard.clear()
    with pytest.raises(RuntimeError), db.transaction() as session:
        service.add_note(session, actor=alice, key=incident.id, text="never kept")
        raise RuntimeError("abandon the transaction")
    assert heard == []
