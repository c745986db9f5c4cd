"""Which channels a new alert queues notifications on, in one query, on both engines."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from detection_support import add_rule, add_user
from krsn.config import Settings
from krsn.db import Database
from krsn.detection.models import (
    Alert,
    AlertSeverity,
    Notification,
    NotificationStatus,
)
from krsn.detection.notify import service
from krsn.identity.audit import Actor
from krsn.identity.models import Role

SETTINGS = Settings(egress_allow_private=True)


def user(session: Any, name: str, *, active: bool = True) -> uuid.UUID:
    return add_user(session, name, role=Role.USER, active=active)


def channel(session: Any, name: str, **values: Any) -> uuid.UUID:
    made, _ = service.create_channel(
        session,
        actor=Actor.system(),
        audience=service.Audience.all(),
        settings=SETTINGS,
        name=name,
        notification_type="email",
        config={"to": f"{name}@example.org"},
        **values,
    )
    return made.id


def alert(session: Any, severity: AlertSeverity, rule_id: uuid.UUID | None = None) -> Alert:
    row = Alert(
        title=f"{severity.value} alert",
        severity=severity,
        rule_id=rule_id,
        triggered_at=datetime.now(UTC),
        alert_data={"canonical": "evil.example", "kind": "domain", "rule_name": "r"},
    )
    session.add(row)
    session.flush()
    return row


def test_a_new_alert_reaches_its_rules_channels_and_users_at_its_severity(
    db: Database, tmp_path: Path
) -> None:
    with db.transaction() as session:
        ann, bob, gone = (
            user(session, "ann"),
            user(session, "bob"),
            user(session, "gone", active=False),
        )
        watched, other = add_rule(session, "watched"), add_rule(session, "other")
        ids = {
            "ann-high": channel(session, "ann-high", user_id=ann, min_severity="high"),
            "bob-low": channel(session, "bob-low", user_id=bob),
            "bob-off": channel(session, "bob-off", user_id=bob, is_active=False),
            "gone-user": channel(session, "gone-user", user_id=gone),
            "watched": channel(session, "watched", rule_id=watched, min_severity="info"),
            "watched-critical": channel(
                session, "watched-critical", rule_id=watched, min_severity="critical"
            ),
            "other-rule": channel(session, "other-rule", rule_id=other, min_severity="info"),
        }
        names = {v: k for k, v in ids.items()}

        medium = alert(session, AlertSeverity.MEDIUM, watched)
        queued = service.queue_for_alert(session, medium, created=True)
        session.flush()
        assert sorted(names[n.channel_id] for n in queued) == ["bob-low", "watched"]

        critical = alert(session, AlertSeverity.CRITICAL)
        queued_critical = service.queue_for_alert(session, critical, created=True)
        assert sorted(names[n.channel_id] for n in queued_critical) == ["ann-high", "bob-low"]

        info = alert(session, AlertSeverity.INFO, watched)
        queued_info = service.queue_for_alert(session, info, created=True)
        # The default minimum is low: info reaches only channels that asked for it.
        assert [names[n.channel_id] for n in queued_info] == ["watched"]

    with db.transaction(readonly=True) as session:
        rows = {
            n.channel_id: n
            for n in session.scalars(select(Notification).where(Notification.alert_id == medium.id))
        }
    for_bob, for_rule = rows[ids["bob-low"]], rows[ids["watched"]]
    assert for_bob.user_id == bob
    assert for_rule.user_id is None  # a rule's channel has no person behind it
    for row in (for_bob, for_rule):
        assert row.status is NotificationStatus.PENDING
        assert row.retry_count == 0
        assert row.title == "[MEDIUM] medium alert"
        assert abs(row.next_attempt_at - datetime.now(UTC)) < timedelta(minutes=1)
        data = row.notification_data
        assert json.loads(json.dumps(data)) == data
        assert data["event"] == "alert.created"
        assert data["alert"]["id"] == str(medium.id)
        assert data["alert"]["rule_id"] == str(watched)
        assert data["alert"]["indicator"] == "evil.example"
        assert "evil.example (domain)" in (row.message or "")


def test_an_updated_alert_notifies_nobody(db: Database) -> None:
    with db.transaction() as session:
        channel(session, "mine", user_id=user(session, "carl"))
        repeat = alert(session, AlertSeverity.CRITICAL)
        assert service.queue_for_alert(session, repeat, created=False) == []
        session.flush()
        assert session.scalar(select(func.count()).select_from(Notification)) == 0


def test_queueing_many_alerts_reads_the_channels_once(db: Database) -> None:
    with db.transaction() as session:
        dora = user(session, "dora")
        watched = add_rule(session, "watched")
        channel(session, "mine", user_id=dora)
        channel(session, "rules", rule_id=watched)
        alerts = [alert(session, AlertSeverity.HIGH, watched) for _ in range(5)]
        session.flush()
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        engine = session.get_bind().engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            queued = service.queue_for_alerts(session, alerts)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(statements) == 1
        assert len(queued) == 10
