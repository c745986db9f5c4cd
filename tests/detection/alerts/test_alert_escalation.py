"""A deduplicated alert whose severity rises notifies the channels that did not want it at
its former severity, once, as an escalation; the others heard of it already."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from detection_support import add_user
from krsn.config import Settings
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.alerts.service import raise_alerts
from krsn.detection.models import Alert, AlertSeverity, Notification
from krsn.detection.notify import service as notify
from krsn.detection.observations import Firing, Observation, Origin
from krsn.identity.audit import Actor
from krsn.identity.models import Role

SETTINGS = Settings(egress_allow_private=True)


def firing(severity: AlertSeverity) -> Firing:
    observation = Observation(
        origin=Origin.SIGHTING,
        value="evil.example.org",
        kind="domain",
        canonical="evil.example.org",
        observed_at=utcnow(),
        host="ws-1",
    )
    return Firing(
        rule_id=None,
        rule_name="sighting of a known indicator",
        rule_type="sighting",
        severity=severity,
        title="Sighting of domain evil.example.org",
        key="indicator:escalation-test",
        observation=observation,
    )


def channel(session: object, name: str, owner: uuid.UUID, min_severity: AlertSeverity) -> None:
    notify.create_channel(
        session,  # type: ignore[arg-type]
        actor=Actor.system(),
        audience=notify.Audience.all(),
        settings=SETTINGS,
        name=name,
        notification_type="email",
        config={"to": f"{name}@example.org"},
        min_severity=min_severity,
        user_id=owner,
    )


def test_only_channels_that_missed_the_lower_severity_hear_of_the_escalation(
    db: Database,
) -> None:
    with db.transaction() as session:
        owner = add_user(session, "nadia", role=Role.ANALYST)
        channel(session, "everything", owner, AlertSeverity.LOW)
        channel(session, "serious", owner, AlertSeverity.HIGH)
        raise_alerts(session, firings=[firing(AlertSeverity.MEDIUM)], now=utcnow())
    with db.transaction() as session:
        outcome = raise_alerts(session, firings=[firing(AlertSeverity.HIGH)], now=utcnow())
        assert list(outcome.escalated.values()) == [AlertSeverity.MEDIUM]
    with db.transaction() as session:
        again = raise_alerts(session, firings=[firing(AlertSeverity.HIGH)], now=utcnow())
        assert again.escalated == {}
    with db.transaction(readonly=True) as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.severity is AlertSeverity.HIGH and alert.occurrence_count == 3
        sent = [
            (n.title, (n.notification_data or {})["event"])
            for n in session.scalars(select(Notification).order_by(Notification.created_at))
        ]
    assert [event for _, event in sent] == ["alert.created", "alert.escalated"]
    assert sent[1][0].startswith("[HIGH]")
