"""Notification channels and the notifications an alert queues on them.

A channel belongs to a user (it gets every alert at or above its ``min_severity``) or to a
correlation rule (it gets that rule's alerts at or above its ``min_severity``). A new alert
queues one ``pending`` notification per matching active channel, in the transaction that
raises the alert; :mod:`krsn.detection.notify.delivery` sends them later, outside any
transaction, so a dead endpoint never holds up ingestion.

Who sees what (:class:`Audience`): a user their own channels and notifications, analysts
also every rule's, admins and the command line everything. Whatever a caller cannot see is
answered as absent (404), never as forbidden.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from pydantic import ValidationError
from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session

from krsn.config import Settings
from krsn.db.pagination import PageResult, paginate
from krsn.db.types import utcnow
from krsn.detection.models import (
    Alert,
    AlertSeverity,
    CorrelationRule,
    Notification,
    NotificationChannel,
    NotificationStatus,
    NotificationType,
)
from krsn.detection.notify.channels import notifier_for
from krsn.detection.notify.channels.base import Notifier, allowed_hosts
from krsn.errors import Conflict, Forbidden, Invalid, NotFound
from krsn.feeds.egress import DestinationUnreachable, EgressRefused, check_destination
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import Role, User

__all__ = [
    "ALERT_EVENT",
    "CHANNEL_RESOURCE",
    "NOTIFICATION_RESOURCE",
    "Audience",
    "alert_link",
    "alert_snapshot",
    "create_channel",
    "delete_channel",
    "get_channel",
    "get_notification",
    "list_channels",
    "list_notifications",
    "queue_for_alert",
    "queue_for_alerts",
    "retry_notification",
    "update_channel",
]

ALERT_EVENT: Final = "alert.created"
ESCALATED_EVENT: Final = "alert.escalated"
CHANNEL_RESOURCE: Final = "notification_channel"
NOTIFICATION_RESOURCE: Final = "notification"

# Least to most severe: an alert meets a channel's minimum when it ranks at or above it.
_RANK: Final = {
    AlertSeverity.INFO: 0,
    AlertSeverity.LOW: 1,
    AlertSeverity.MEDIUM: 2,
    AlertSeverity.HIGH: 3,
    AlertSeverity.CRITICAL: 4,
}
# The audited columns of a channel: ``secrets`` is never copied into the audit log.
_CHANNEL_FIELDS: Final = [
    "id",
    "name",
    "user_id",
    "rule_id",
    "notification_type",
    "config",
    "min_severity",
    "is_active",
    "created_by",
]
_TITLE_LIMIT = 500


def _rank(severity: AlertSeverity | str) -> int:
    return _RANK[AlertSeverity(severity)]


def _at_or_below(severity: AlertSeverity | str) -> list[AlertSeverity]:
    """The channel minimums an alert of ``severity`` meets."""
    return [s for s, rank in _RANK.items() if rank <= _rank(severity)]


# --- who sees what ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Whose channels and notifications a caller may see and change."""

    user_id: uuid.UUID | None
    everything: bool = False
    """Admins and the command line."""
    rules: bool = False
    """Analysts: every rule's channels and their notifications too."""

    @classmethod
    def of(cls, *, user_id: uuid.UUID, role: Role) -> Audience:
        return cls(
            user_id=user_id,
            everything=role is Role.ADMIN,
            rules=role in (Role.ADMIN, Role.ANALYST),
        )

    @classmethod
    def all(cls) -> Audience:
        return cls(user_id=None, everything=True, rules=True)

    def sees_channel(self, channel: NotificationChannel) -> bool:
        if self.everything:
            return True
        if channel.rule_id is not None:
            return self.rules
        return self.user_id is not None and channel.user_id == self.user_id

    def sees_notification(self, notification: Notification) -> bool:
        if self.everything:
            return True
        if notification.user_id is None:
            return self.rules
        return notification.user_id == self.user_id

    def channels(self, statement: Select[Any]) -> Select[Any]:
        if self.everything:
            return statement
        mine = NotificationChannel.user_id == self.user_id if self.user_id else false()
        rules = NotificationChannel.rule_id.is_not(None) if self.rules else false()
        return statement.where(or_(mine, rules))

    def notifications(self, statement: Select[Any]) -> Select[Any]:
        if self.everything:
            return statement
        mine = Notification.user_id == self.user_id if self.user_id else false()
        rules = Notification.user_id.is_(None) if self.rules else false()
        return statement.where(or_(mine, rules))


# --- queueing --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def alert_link(alert_id: uuid.UUID | str) -> str:
    """The path of an alert in the UI; deliveries put the public address in front."""
    return f"/alerts/{alert_id}"


class AlertView(Protocol):
    """What a notification reads of an alert: an ``Alert`` row, or the plain record of one
    just inserted in bulk (the alert service does not build a row object per new alert)."""

    id: uuid.UUID
    rule_id: uuid.UUID | None
    indicator_id: uuid.UUID | None
    title: str
    description: str | None
    severity: Any
    status: Any
    priority: Any
    alert_data: dict[str, Any] | None
    triggered_at: datetime | None
    last_seen_at: datetime | None
    occurrence_count: int


def alert_snapshot(alert: AlertView) -> dict[str, Any]:
    """The alert as notifications carry it: JSON-safe, frozen when the notification is queued."""
    data = dict(alert.alert_data or {})
    severity = AlertSeverity(alert.severity)
    return _plain(
        {
            "id": alert.id,
            "title": alert.title,
            "description": alert.description,
            "severity": severity.value,
            "status": getattr(alert.status, "value", alert.status),
            "priority": getattr(alert.priority, "value", alert.priority),
            "rule_id": alert.rule_id,
            "rule_name": data.get("rule_name"),
            "indicator_id": alert.indicator_id,
            "indicator": data.get("canonical") or data.get("value"),
            "indicator_kind": data.get("kind"),
            "triggered_at": alert.triggered_at.isoformat() if alert.triggered_at else None,
            "last_seen_at": alert.last_seen_at.isoformat() if alert.last_seen_at else None,
            "occurrence_count": alert.occurrence_count,
            "data": data,
        }
    )


def _text(snapshot: Mapping[str, Any]) -> str:
    lines = [str(snapshot["title"])]
    lines.append(
        f"Severity: {snapshot['severity']} · priority: {snapshot.get('priority') or '-'}"
        f" · status: {snapshot.get('status') or '-'}"
    )
    if snapshot.get("indicator"):
        kind = f" ({snapshot['indicator_kind']})" if snapshot.get("indicator_kind") else ""
        lines.append(f"Indicator: {snapshot['indicator']}{kind}")
    if snapshot.get("rule_name"):
        lines.append(f"Rule: {snapshot['rule_name']}")
    if snapshot.get("triggered_at"):
        lines.append(f"Raised: {snapshot['triggered_at']}")
    if snapshot.get("description"):
        lines += ["", str(snapshot["description"])]
    return "\n".join(lines)


def queue_for_alerts(
    session: Session,
    alerts: Sequence[AlertView],
    *,
    escalated_from: Mapping[uuid.UUID, AlertSeverity] | None = None,
) -> list[Notification]:
    """Queue (status pending) a notification on every active channel that wants each of
    these new alerts: one query for the channels, whatever the number of alerts.

    An alert in ``escalated_from`` is not new: its severity rose from the one given, and
    only the channels that did not want it at that severity hear of it now."""
    if not alerts:
        return []
    if any(a.id is None for a in alerts):
        session.flush()  # the notifications point at the alerts by id
    rules = {a.rule_id for a in alerts if a.rule_id is not None}
    highest = max((AlertSeverity(a.severity) for a in alerts), key=_rank)
    for_rules = NotificationChannel.rule_id.in_(rules) if rules else false()
    channels = session.execute(
        select(
            NotificationChannel.id,
            NotificationChannel.user_id,
            NotificationChannel.rule_id,
            NotificationChannel.notification_type,
            NotificationChannel.min_severity,
        )
        .outerjoin(User, User.id == NotificationChannel.user_id)
        .where(
            NotificationChannel.is_active.is_(True),
            NotificationChannel.min_severity.in_(_at_or_below(highest)),
            or_(NotificationChannel.user_id.is_(None), User.is_active.is_(True)),
            or_(
                and_(
                    NotificationChannel.rule_id.is_(None), NotificationChannel.user_id.is_not(None)
                ),
                for_rules,
            ),
        )
        .order_by(NotificationChannel.created_at, NotificationChannel.id)
    ).all()
    now = utcnow()
    queued: list[Notification] = []
    for alert in alerts:
        snapshot: dict[str, Any] | None = None
        before = escalated_from.get(alert.id) if escalated_from else None
        for channel in channels:
            if channel.rule_id is not None and channel.rule_id != alert.rule_id:
                continue
            if _rank(alert.severity) < _rank(channel.min_severity):
                continue
            if before is not None and _rank(before) >= _rank(channel.min_severity):
                continue  # told when the alert was raised at its former severity
            if snapshot is None:
                snapshot = alert_snapshot(alert)
            queued.append(
                Notification(
                    id=uuid.uuid4(),
                    user_id=channel.user_id,
                    alert_id=alert.id,
                    channel_id=channel.id,
                    notification_type=channel.notification_type,
                    title=f"[{snapshot['severity'].upper()}] {alert.title}"[:_TITLE_LIMIT],
                    message=_text(snapshot),
                    notification_data={
                        "event": ALERT_EVENT if before is None else ESCALATED_EVENT,
                        "link": alert_link(alert.id),
                        "alert": snapshot,
                    },
                    status=NotificationStatus.PENDING,
                    created_at=now,
                    retry_count=0,
                    next_attempt_at=now,
                )
            )
    session.add_all(queued)
    return queued


def queue_for_alert(session: Session, alert: Alert, *, created: bool) -> list[Notification]:
    """Queue (status pending) a notification on every active channel that wants this alert.

    Only a new alert notifies: a deduplicated repeat (``created=False``) notifies nobody.
    """
    if not created:
        return []
    return queue_for_alerts(session, [alert])


# --- channels --------------------------------------------------------------------------------


def get_channel(
    session: Session, channel_id: uuid.UUID, *, audience: Audience
) -> NotificationChannel:
    """A channel the audience may see; NotFound otherwise."""
    channel = session.get(NotificationChannel, channel_id)
    if channel is None or not audience.sees_channel(channel):
        raise NotFound(f"No notification channel {channel_id}.")
    return channel


def list_channels(
    session: Session,
    *,
    audience: Audience,
    limit: int,
    cursor: str | None = None,
    user_id: uuid.UUID | None = None,
    rule_id: uuid.UUID | None = None,
    notification_type: NotificationType | None = None,
    is_active: bool | None = None,
) -> PageResult[NotificationChannel]:
    """The channels the audience sees, oldest first, filtered by what is given."""
    statement = audience.channels(select(NotificationChannel))
    if user_id is not None:
        statement = statement.where(NotificationChannel.user_id == user_id)
    if rule_id is not None:
        statement = statement.where(NotificationChannel.rule_id == rule_id)
    if notification_type is not None:
        statement = statement.where(NotificationChannel.notification_type == notification_type)
    if is_active is not None:
        statement = statement.where(NotificationChannel.is_active.is_(is_active))
    return paginate(
        session,
        statement,
        order_by=[NotificationChannel.created_at, NotificationChannel.id],
        limit=limit,
        cursor=cursor,
        descending=False,
    )


def _checked_destinations(notifier: Notifier, config: Any, settings: Settings) -> None:
    """Refuse a URL whose host is private, loopback or link-local unless an admin allowed it."""
    for field, url in notifier.destinations(config).items():
        try:
            check_destination(
                url,
                allow_private=settings.egress_allow_private,
                allowed_hosts=allowed_hosts(settings),
            )
        except EgressRefused as exc:
            address = exc.extra.get("address")
            where = f" ({address})" if address else ""
            raise Invalid(
                f"config.{field}",
                f"{url} leads to a private, loopback or link-local address{where}, which "
                "notifications may not reach; an admin may allow the host with "
                "KRSN_EGRESS_ALLOWED_HOSTS",
            ) from None
        except DestinationUnreachable as exc:
            raise Invalid(
                f"config.{field}", f"{exc.detail} A channel needs a host that resolves."
            ) from None
        except ValueError as exc:
            raise Invalid(f"config.{field}", f"is not a URL ({exc})") from None


def _split(
    notifier: Notifier, given: Mapping[str, Any], settings: Settings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A config validated by its notifier and checked against the egress policy, as the
    public part and the secret part."""
    try:
        config = notifier.config_model.model_validate(dict(given))
    except ValidationError as exc:
        error = exc.errors()[0]
        place = ".".join(str(p) for p in error.get("loc", ()))
        raise Invalid(
            f"config.{place}" if place else "config", error.get("msg", "invalid")
        ) from None
    _checked_destinations(notifier, config, settings)
    values = config.model_dump(mode="json")
    public = {k: v for k, v in values.items() if k not in notifier.secret_fields}
    secrets = {
        k: v for k, v in values.items() if k in notifier.secret_fields and v not in (None, "", {})
    }
    return public, secrets


def _record(
    session: Session,
    channel: NotificationChannel,
    *,
    actor: Actor,
    action: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"{CHANNEL_RESOURCE}.{action}",
        resource_type=CHANNEL_RESOURCE,
        resource_id=channel.id,
        old_values=old,
        new_values=new,
        details=details,
    )


def create_channel(
    session: Session,
    *,
    actor: Actor,
    audience: Audience,
    settings: Settings,
    name: str,
    notification_type: NotificationType | str,
    config: Mapping[str, Any],
    min_severity: AlertSeverity | str = AlertSeverity.LOW,
    is_active: bool = True,
    rule_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> tuple[NotificationChannel, dict[str, str]]:
    """A new channel, audited (its secrets left out), with the secrets the platform made
    for it (a webhook signing secret), to be shown once."""
    notifier = notifier_for(notification_type)
    unusable = notifier.check(settings)
    if unusable:
        raise Invalid("notification_type", unusable)
    if rule_id is not None and user_id is not None:
        raise Invalid("rule_id", "a channel is for a rule or for a user, not both")
    if rule_id is not None:
        if not audience.rules:
            raise Forbidden("Only analysts and admins add channels to a rule.")
        if session.get(CorrelationRule, rule_id) is None:
            raise Invalid("rule_id", f"no correlation rule {rule_id}")
    else:
        if user_id is None:
            user_id = audience.user_id
        if user_id is None:
            raise Invalid("user_id", "name the user or the rule the channel is for")
        if user_id != audience.user_id and not audience.everything:
            raise Forbidden("Only admins add channels for another user.")
        if session.get(User, user_id) is None:
            raise Invalid("user_id", f"no user {user_id}")
    completed, generated = notifier.complete(dict(config))
    public, secrets = _split(notifier, completed, settings)
    channel = NotificationChannel(
        id=uuid.uuid4(),
        name=name,
        user_id=user_id,
        rule_id=rule_id,
        notification_type=notifier.kind,
        config=public,
        secrets=secrets or None,
        min_severity=AlertSeverity(min_severity),
        is_active=is_active,
        created_by=actor.user_id,
    )
    session.add(channel)
    session.flush()
    _record(
        session,
        channel,
        actor=actor,
        action="create",
        new=audit.snapshot(channel, _CHANNEL_FIELDS),
        details={"secrets_set": sorted(secrets)} if secrets else None,
    )
    return channel, generated


_UPDATABLE: Final = frozenset({"name", "config", "min_severity", "is_active"})


def update_channel(
    session: Session,
    channel: NotificationChannel,
    *,
    actor: Actor,
    settings: Settings,
    changes: Mapping[str, Any],
) -> NotificationChannel:
    """Change the fields given; a new config replaces the old, keeping the stored secrets it
    leaves out. Audited with old and new values; changed secrets are named, never copied."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise Invalid(sorted(unknown)[0], "cannot be changed; make a new channel instead")
    before = audit.snapshot(channel, _CHANNEL_FIELDS)
    secrets_before = dict(channel.secrets or {})
    for key in ("name", "min_severity", "is_active"):
        value = changes.get(key)
        if value is None:
            if key in changes:
                raise Invalid(key, "cannot be null")
            continue
        setattr(channel, key, AlertSeverity(value) if key == "min_severity" else value)
    if changes.get("config") is not None:
        notifier = notifier_for(channel.notification_type)
        given = dict(changes["config"])
        kept = {k: v for k, v in secrets_before.items() if k not in given}
        merged = {**kept, **given}
        _, generated = notifier.complete(merged)
        if generated:
            # A secret made here could not be shown: the change answers with the channel.
            raise Invalid(
                f"config.{sorted(generated)[0]}",
                "give the new value, or leave the field out to keep the current one",
            )
        public, secrets = _split(notifier, merged, settings)
        channel.config = public
        channel.secrets = secrets or None
    elif "config" in changes:
        raise Invalid("config", "cannot be null")
    session.flush()
    old, new = audit.changes(before, audit.snapshot(channel, _CHANNEL_FIELDS))
    secrets_after = dict(channel.secrets or {})
    touched = sorted(
        k
        for k in set(secrets_before) | set(secrets_after)
        if secrets_before.get(k) != secrets_after.get(k)
    )
    if old or new or touched:
        _record(
            session,
            channel,
            actor=actor,
            action="update",
            old=old,
            new=new,
            details={"secrets_changed": touched} if touched else None,
        )
    return channel


def delete_channel(session: Session, channel: NotificationChannel, *, actor: Actor) -> None:
    """Delete a channel, audited; its notifications stay, without a channel."""
    snapshot = audit.snapshot(channel, _CHANNEL_FIELDS)
    _record(session, channel, actor=actor, action="delete", old=snapshot)
    session.delete(channel)
    session.flush()


# --- notifications ---------------------------------------------------------------------------


def get_notification(
    session: Session, notification_id: uuid.UUID, *, audience: Audience
) -> Notification:
    """A notification the audience may see; NotFound otherwise."""
    notification = session.get(Notification, notification_id)
    if notification is None or not audience.sees_notification(notification):
        raise NotFound(f"No notification {notification_id}.")
    return notification


def list_notifications(
    session: Session,
    *,
    audience: Audience,
    limit: int,
    cursor: str | None = None,
    status: NotificationStatus | None = None,
    channel_id: uuid.UUID | None = None,
    alert_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> PageResult[Notification]:
    """The notifications the audience sees, newest first, filtered by what is given."""
    statement = audience.notifications(select(Notification))
    for column, value in (
        (Notification.status, status),
        (Notification.channel_id, channel_id),
        (Notification.alert_id, alert_id),
        (Notification.user_id, user_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return paginate(
        session,
        statement,
        order_by=[Notification.created_at, Notification.id],
        limit=limit,
        cursor=cursor,
    )


def retry_notification(
    session: Session, notification: Notification, *, actor: Actor, now: datetime | None = None
) -> Notification:
    """Queue a failed notification again, with a fresh set of attempts; audited."""
    if notification.status is not NotificationStatus.FAILED:
        raise Conflict(
            f"Only failed notifications are retried; this one is {notification.status.value}.",
        )
    before = {"status": notification.status.value, "retry_count": notification.retry_count}
    notification.status = NotificationStatus.PENDING
    notification.retry_count = 0
    notification.next_attempt_at = now or utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"{NOTIFICATION_RESOURCE}.retry",
        resource_type=NOTIFICATION_RESOURCE,
        resource_id=notification.id,
        old_values=before,
        new_values={"status": notification.status.value, "retry_count": 0},
    )
    return notification


def owners(session: Session, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """User names by id, for tables that show who a channel belongs to."""
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())
