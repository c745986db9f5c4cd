"""Alerts: raised from firings with deduplication, then triaged by analysts.

Deduplication: a firing carries a key (the rule and the indicator, the watchlist item and the
value, …). While an alert with that key is open or under investigation and was last seen
within the firing's window, a new firing updates it (``occurrence_count``, ``last_seen_at``)
instead of raising another. On PostgreSQL the keys of a batch are locked (transaction-scoped
advisory locks, in a fixed order) before they are looked up, so two processes raising the
same key at once still make one alert; SQLite serialises writers already.

A whitelist item (a suppressing watchlist hit) turns a firing into a suppression record
instead of an alert, counted the same way, so what was stopped stays visible.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from krsn.db.pagination import PageResult, paginate_sorted
from krsn.db.types import utcnow
from krsn.detection import events
from krsn.detection.models import (
    Alert,
    AlertPriority,
    AlertSeverity,
    AlertStatus,
    AlertSuppression,
    CorrelationRule,
    IncidentAlert,
)
from krsn.detection.observations import Firing
from krsn.errors import Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import User
from krsn.indicators.models import Severity, ThreatIndicator
from krsn.sharing import knowledge

DEFAULT_WINDOW_MINUTES: Final = 60
"""The deduplication window of a firing that names none."""

ACTIVE_STATUSES: Final = (AlertStatus.OPEN, AlertStatus.INVESTIGATING)
CLOSED_STATUSES: Final = (AlertStatus.RESOLVED, AlertStatus.FALSE_POSITIVE)

SEVERITY_ORDER: Final = {
    AlertSeverity.INFO: 0,
    AlertSeverity.LOW: 1,
    AlertSeverity.MEDIUM: 2,
    AlertSeverity.HIGH: 3,
    AlertSeverity.CRITICAL: 4,
}
PRIORITY_OF: Final = {
    AlertSeverity.CRITICAL: AlertPriority.URGENT,
    AlertSeverity.HIGH: AlertPriority.HIGH,
    AlertSeverity.MEDIUM: AlertPriority.NORMAL,
    AlertSeverity.LOW: AlertPriority.LOW,
    AlertSeverity.INFO: AlertPriority.LOW,
}
_TITLE_LIMIT: Final = 500
_KEY_LIMIT: Final = 255
_RESOURCE: Final = "alert"


def alert_severity(severity: Severity | str | None, default: AlertSeverity) -> AlertSeverity:
    """An indicator's severity as an alert severity (they share their names)."""
    if severity is None:
        return default
    try:
        return AlertSeverity(str(severity))
    except ValueError:
        return default


@dataclass
class NewAlert:
    """An alert just inserted in bulk, as a plain record of its columns."""

    id: uuid.UUID
    indicator_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    assigned_user_id: uuid.UUID | None
    title: str
    description: str | None
    severity: AlertSeverity
    priority: AlertPriority
    status: AlertStatus
    alert_data: dict[str, Any] | None
    triggered_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_notes: str | None
    metadata_: dict[str, Any] | None
    last_seen_at: datetime | None
    dedup_key: str | None
    occurrence_count: int


_ALERTS: Final = cast(Table, Alert.__table__)
# The record's fields are the table's columns, in the same order (``metadata_`` is the
# ``metadata`` column): rows read with these columns build records positionally.
_FIELDS: Final = tuple(f.name for f in fields(NewAlert))
_COLUMNS: Final = [_ALERTS.c[name.removesuffix("_")] for name in _FIELDS]


def _records(session: Session, statement: Select[Any]) -> list[NewAlert]:
    """Alerts as plain records: the hot path reads and updates them without ORM objects."""
    return [NewAlert(*row) for row in session.execute(statement)]


@dataclass
class AlertOutcome:
    """What one batch of firings did."""

    created: list[NewAlert] = field(default_factory=list)
    updated: list[NewAlert] = field(default_factory=list)
    escalated: dict[uuid.UUID, AlertSeverity] = field(default_factory=dict)
    """Updated alerts whose severity rose, with the severity they had."""
    suppressed: int = 0


@dataclass
class _Group:
    """The firings of one key in one batch: the first describes the alert."""

    firing: Firing
    count: int
    first_at: datetime
    last_at: datetime


def bounded_key(key: str) -> str:
    """A deduplication key that fits its column: a long one (a long URL in it) keeps its
    start and ends in a digest of the whole."""
    if len(key) <= _KEY_LIMIT:
        return key
    return key[: _KEY_LIMIT - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()


def _group(firings: Iterable[Firing]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for firing in firings:
        at = firing.observation.observed_at
        key = bounded_key(firing.key)
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(firing, 1, at, at)
            continue
        group.count += 1
        group.first_at = min(group.first_at, at)
        group.last_at = max(group.last_at, at)
        if SEVERITY_ORDER[firing.severity] > SEVERITY_ORDER[group.firing.severity]:
            group.firing = firing
    return groups


def _lock_keys(session: Session, keys: Sequence[str]) -> None:
    """Serialise concurrent raisers of the same keys (PostgreSQL; SQLite's writers already
    are). Sorted, so two batches sharing keys never wait on each other in a cycle."""
    if session.get_bind().dialect.name != "postgresql":
        return
    locks = sorted({zlib.crc32(key.encode()) for key in keys})
    session.execute(
        text("SELECT pg_advisory_xact_lock(8462, k) FROM unnest(CAST(:keys AS int[])) AS k"),
        {"keys": [lock - 2**31 for lock in locks]},
    )


def _suppressions(firings: Sequence[Firing]) -> tuple[list[Firing], list[tuple[Firing, Any]]]:
    """The firings to raise, and (firing, whitelist hit) pairs to record instead."""
    raised: list[Firing] = []
    stopped: list[tuple[Firing, Any]] = []
    for firing in firings:
        hit = next((h for h in firing.observation.watchlist_hits if h.suppresses), None)
        if hit is None:
            raised.append(firing)
        else:
            stopped.append((firing, hit))
    return raised, stopped


def _record_suppressions(
    session: Session, stopped: Sequence[tuple[Firing, Any]], *, now: datetime
) -> int:
    if not stopped:
        return 0
    by_key: dict[tuple[uuid.UUID, str], tuple[Firing, int]] = {}
    for firing, hit in stopped:
        pair = (hit.item_id, bounded_key(firing.key))
        known = by_key.get(pair)
        by_key[pair] = (firing, (known[1] if known else 0) + 1)
    item_ids = {item for item, _ in by_key}
    existing: dict[tuple[uuid.UUID | None, str], AlertSuppression] = {
        (row.watchlist_item_id, row.dedup_key): row
        for row in session.scalars(
            select(AlertSuppression).where(
                AlertSuppression.watchlist_item_id.in_(item_ids),
                AlertSuppression.dedup_key.in_({key for _, key in by_key}),
            )
        )
    }
    for (item_id, key), (firing, count) in by_key.items():
        row = existing.get((item_id, key))
        if row is not None:
            row.occurrence_count += count
            row.last_seen_at = now
            continue
        indicator = firing.observation.indicator
        session.add(
            AlertSuppression(
                watchlist_item_id=item_id,
                indicator_id=uuid.UUID(indicator.id) if indicator else None,
                rule_id=firing.rule_id,
                value=firing.observation.canonical[:2048],
                dedup_key=key,
                title=firing.title[:_TITLE_LIMIT],
                occurrence_count=count,
                first_seen_at=now,
                last_seen_at=now,
            )
        )
    return sum(count for _, count in by_key.values())


def _alert_data(group: _Group) -> dict[str, Any]:
    firing = group.firing
    observation = firing.observation
    data: dict[str, Any] = {
        "origin": observation.origin.value,
        "value": observation.value,
        "canonical": observation.canonical,
        "kind": observation.kind,
        "matched": observation.matched,
        "rule_type": firing.rule_type,
        "rule_name": firing.rule_name,
        "first_event_at": group.first_at.isoformat(),
        "evidence": firing.evidence,
    }
    context = {
        name: getattr(observation, name)
        for name in ("host", "sensor", "log_source", "source", "feed")
        if getattr(observation, name)
    }
    if observation.context:
        context["context"] = observation.context
    if context:
        data["seen"] = context
    if observation.watchlist_hits:
        data["watchlists"] = [
            {
                "watchlist": hit.watchlist_name,
                "list_type": hit.list_type.value,
                "item": hit.item_value,
                "item_id": str(hit.item_id),
            }
            for hit in observation.watchlist_hits
        ]
    return data


def raise_alerts(session: Session, *, firings: Sequence[Firing], now: datetime) -> AlertOutcome:
    """Raise or update one alert per firing key; record suppressed firings instead.

    Changed alerts are published as change events after commit and queue notifications
    (new alerts only) in the caller's transaction.
    """
    outcome = AlertOutcome()
    if not firings:
        return outcome
    raised, stopped = _suppressions(firings)
    outcome.suppressed = _record_suppressions(session, stopped, now=now)
    groups = _group(raised)
    if not groups:
        return outcome
    keys = sorted(groups)
    _lock_keys(session, keys)
    longest = max((g.firing.window_minutes or DEFAULT_WINDOW_MINUTES) for g in groups.values())
    rows: list[dict[str, Any]] = []
    fresh: list[Firing] = []
    open_alerts: dict[str, NewAlert] = {}
    for alert in _records(
        session,
        select(*_COLUMNS)
        .where(
            Alert.dedup_key.in_(keys),
            Alert.status.in_(ACTIVE_STATUSES),
            Alert.last_seen_at >= now - timedelta(minutes=longest),
        )
        .order_by(Alert.last_seen_at),
    ):
        # The most recent open alert of a key wins: ordered ascending, it is written last.
        if alert.dedup_key is not None:
            open_alerts[alert.dedup_key] = alert
    for key in keys:
        group = groups[key]
        firing = group.firing
        window = timedelta(minutes=firing.window_minutes or DEFAULT_WINDOW_MINUTES)
        known = open_alerts.get(key)
        if (
            known is not None
            and known.last_seen_at is not None
            and known.last_seen_at >= (now - window)
        ):
            known.occurrence_count += group.count
            known.last_seen_at = max(now, group.last_at)
            if SEVERITY_ORDER[firing.severity] > SEVERITY_ORDER[known.severity]:
                outcome.escalated[known.id] = known.severity
                known.severity = firing.severity
            outcome.updated.append(known)
            continue
        indicator = firing.observation.indicator
        row = {
            "id": uuid.uuid4(),
            "indicator_id": uuid.UUID(indicator.id) if indicator else None,
            "rule_id": firing.rule_id,
            "assigned_user_id": None,
            "title": firing.title[:_TITLE_LIMIT],
            "description": _description(firing),
            "severity": firing.severity,
            "priority": firing.priority
            if firing.priority is not AlertPriority.NORMAL
            else PRIORITY_OF[firing.severity],
            "status": AlertStatus.OPEN,
            "alert_data": _alert_data(group),
            "triggered_at": now,
            "acknowledged_at": None,
            "resolved_at": None,
            "resolution_notes": None,
            "metadata_": None,
            "last_seen_at": max(now, group.last_at),
            "dedup_key": key,
            "occurrence_count": group.count,
        }
        rows.append(row)
        fresh.append(firing)
    if outcome.updated:
        session.execute(
            update(_ALERTS)
            .where(_ALERTS.c.id == bindparam("key"))
            .values(
                occurrence_count=bindparam("count"),
                last_seen_at=bindparam("seen"),
                severity=bindparam("severity"),
            ),
            [
                {
                    "key": a.id,
                    "count": a.occurrence_count,
                    "seen": a.last_seen_at,
                    "severity": a.severity,
                }
                for a in outcome.updated
            ],
        )
    if rows:
        # One statement for the batch's new alerts: a burst of sightings can raise hundreds.
        session.execute(insert(Alert), rows)
        # Plain records for what follows (notifications, counts): an ORM object per row
        # would cost more than the insert.
        outcome.created = [NewAlert(**row) for row in rows]
    session.flush()
    _announce(session, outcome, new_rows=rows, fired=fresh)
    return outcome


def _description(firing: Firing) -> str:
    observation = firing.observation
    where = ", ".join(
        f"{name} {getattr(observation, name)}"
        for name in ("host", "sensor", "log_source", "source", "feed")
        if getattr(observation, name)
    )
    seen = "reported by a feed" if observation.origin.value == "ingest" else "seen"
    text_ = f"{observation.canonical} ({observation.kind}) {seen}"
    if where:
        text_ += f" ({where})"
    if observation.matched and observation.matched != observation.canonical:
        text_ += f", inside {observation.matched}"
    return text_ + f" at {observation.observed_at.isoformat()}; {firing.rule_name}."


def _announce(
    session: Session,
    outcome: AlertOutcome,
    *,
    new_rows: Sequence[dict[str, Any]],
    fired: Sequence[Firing],
) -> None:
    from krsn.detection.notify.service import queue_for_alerts

    queue_for_alerts(session, outcome.created)
    if outcome.escalated:
        queue_for_alerts(
            session,
            [alert for alert in outcome.updated if alert.id in outcome.escalated],
            escalated_from=outcome.escalated,
        )
    for row, firing in zip(new_rows, fired, strict=True):
        events.publish(session, "alert.created", _new_payload(row, firing))
    for shown in payloads(session, outcome.updated):
        events.publish(session, "alert.updated", shown)


def _new_payload(row: dict[str, Any], firing: Firing) -> dict[str, Any]:
    """A new alert as the API shows it, from what raised it (nothing to look up yet)."""
    indicator = firing.observation.indicator
    shown = {name: _json_safe(row[name]) for name in _SHOWN}
    shown["metadata"] = None
    shown["indicator_value"] = indicator.indicator_value if indicator else None
    shown["indicator_type"] = indicator.indicator_type.value if indicator else None
    shown["rule_name"] = firing.rule_name if firing.rule_id is not None else None
    shown["assigned_username"] = None
    shown["incident"] = None
    return shown


# --- reading --------------------------------------------------------------------------------


def payload(session: Session, alert: Alert) -> dict[str, Any]:
    """The alert as the API shows it, JSON-safe (for change events and notifications)."""
    return payloads(session, [alert])[0]


def payloads(session: Session, alerts: Sequence[Alert | NewAlert]) -> list[dict[str, Any]]:
    """:func:`payload` of many alerts, with one query per related table for them all."""
    # Built by hand rather than through the response model: a batch of sightings can raise
    # hundreds of alerts, and each change event carries one.
    return [
        {name: _json_safe(value) for name, value in row.items()}
        for row in describe(session, alerts)
    ]


def describe(session: Session, alerts: Sequence[Alert | NewAlert]) -> list[dict[str, Any]]:
    """Alerts with the names of what they point to (indicator value, rule, assignee,
    incident), fetched in one query each for a whole page."""
    indicator_ids = {a.indicator_id for a in alerts if a.indicator_id}
    rule_ids = {a.rule_id for a in alerts if a.rule_id}
    user_ids = {a.assigned_user_id for a in alerts if a.assigned_user_id}
    alert_ids = [a.id for a in alerts]
    indicators: dict[uuid.UUID, tuple[str, Any]] = (
        {
            row_id: (value, kind)
            for row_id, value, kind in session.execute(
                select(
                    ThreatIndicator.id,
                    ThreatIndicator.indicator_value,
                    ThreatIndicator.indicator_type,
                ).where(ThreatIndicator.id.in_(indicator_ids))
            )
        }
        if indicator_ids
        else {}
    )
    rules: dict[uuid.UUID, str] = (
        {
            row_id: name
            for row_id, name in session.execute(
                select(CorrelationRule.id, CorrelationRule.name).where(
                    CorrelationRule.id.in_(rule_ids)
                )
            )
        }
        if rule_ids
        else {}
    )
    users: dict[uuid.UUID, str] = (
        {
            row_id: name
            for row_id, name in session.execute(
                select(User.id, User.username).where(User.id.in_(user_ids))
            )
        }
        if user_ids
        else {}
    )
    incidents = _incidents_of(session, alert_ids)
    shaped = []
    for alert in alerts:
        row = {name: getattr(alert, name) for name in _SHOWN}
        row["metadata"] = alert.metadata_
        value, kind = (
            indicators.get(alert.indicator_id, _NOTHING) if alert.indicator_id else _NOTHING
        )
        row["indicator_value"] = value
        row["indicator_type"] = kind.value if kind is not None else None
        row["rule_name"] = rules.get(alert.rule_id) if alert.rule_id else None
        row["assigned_username"] = (
            users.get(alert.assigned_user_id) if alert.assigned_user_id else None
        )
        row["incident"] = incidents.get(alert.id)
        shaped.append(row)
    return shaped


# What the API shows of an alert's own columns (its metadata is shown as ``metadata``).
_SHOWN: Final = tuple(name for name in _FIELDS if name != "metadata_")
_NOTHING: Final = (None, None)


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _incidents_of(session: Session, alert_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    if not alert_ids:
        return {}
    from krsn.detection.models import Incident

    rows = session.execute(
        select(IncidentAlert.alert_id, Incident.id, Incident.incident_number)
        .join(Incident, Incident.id == IncidentAlert.incident_id)
        .where(IncidentAlert.alert_id.in_(alert_ids))
    )
    return {alert_id: {"id": str(i), "incident_number": n} for alert_id, i, n in rows}


def get_alert(session: Session, alert_id: uuid.UUID, *, lock: bool = False) -> Alert:
    statement = select(Alert).where(Alert.id == alert_id)
    if lock:
        statement = statement.with_for_update()
    alert = session.scalar(statement)
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    return alert


SORTS: Final[Mapping[str, InstrumentedAttribute[Any]]] = {
    "triggered": Alert.triggered_at,
    "last_seen": Alert.last_seen_at,
    "occurrences": Alert.occurrence_count,
}


@dataclass
class AlertFilters:
    status: Sequence[AlertStatus] = ()
    severity: Sequence[AlertSeverity] = ()
    priority: AlertPriority | None = None
    assigned_user_id: uuid.UUID | None = None
    unassigned: bool = False
    rule_id: uuid.UUID | None = None
    indicator_id: uuid.UUID | None = None
    q: str | None = None
    triggered_after: datetime | None = None
    triggered_before: datetime | None = None


def _where(filters: AlertFilters) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    if filters.status:
        terms.append(Alert.status.in_(list(filters.status)))
    if filters.severity:
        terms.append(Alert.severity.in_(list(filters.severity)))
    if filters.priority is not None:
        terms.append(Alert.priority == filters.priority)
    if filters.assigned_user_id is not None:
        terms.append(Alert.assigned_user_id == filters.assigned_user_id)
    if filters.unassigned:
        terms.append(Alert.assigned_user_id.is_(None))
    if filters.rule_id is not None:
        terms.append(Alert.rule_id == filters.rule_id)
    if filters.indicator_id is not None:
        terms.append(Alert.indicator_id == filters.indicator_id)
    if filters.q:
        needle = f"%{filters.q.lower()}%"
        terms.append(or_(func.lower(Alert.title).like(needle), Alert.title.like(needle)))
    if filters.triggered_after is not None:
        terms.append(Alert.triggered_at >= filters.triggered_after)
    if filters.triggered_before is not None:
        terms.append(Alert.triggered_at < filters.triggered_before)
    return terms


def list_alerts(
    session: Session,
    *,
    filters: AlertFilters,
    sort: str = "-triggered",
    limit: int = 50,
    cursor: str | None = None,
) -> PageResult[Alert]:
    """Alerts matching the filters, newest first unless ``sort`` says otherwise."""
    statement: Select[Any] = select(Alert).where(*_where(filters))
    return paginate_sorted(
        session,
        statement,
        sort=sort,
        columns=SORTS,
        tie=Alert.id,
        limit=limit,
        cursor=cursor,
    )


def counts_by(
    session: Session, *, statuses: Sequence[AlertStatus] = ACTIVE_STATUSES
) -> dict[str, int]:
    """How many alerts of these statuses there are per severity (the dashboard's figure)."""
    rows = session.execute(
        select(Alert.severity, func.count())
        .where(Alert.status.in_(list(statuses)))
        .group_by(Alert.severity)
    )
    return {severity.value: count for severity, count in rows}


# --- triage ---------------------------------------------------------------------------------


def _changed(session: Session, alert: Alert, *, actor: Actor, before: dict[str, Any]) -> None:
    # Subscribers hear of an alert only when its audit row says something changed.
    if knowledge.changed(session, alert, actor=actor, resource_type=_RESOURCE, before=before):
        events.publish(session, "alert.updated", payload(session, alert))


def _user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise Invalid("assigned_user_id", f"no active user {user_id}")
    return user


def update_alert(
    session: Session,
    *,
    actor: Actor,
    alert_id: uuid.UUID,
    changes: Mapping[str, Any],
    now: datetime | None = None,
) -> Alert:
    """Change an alert's status, priority, severity, assignee or resolution notes.

    Statuses: open and investigating are active; resolved and false_positive close it (and
    set ``resolved_at``); a closed alert may be reopened. Moving to investigating
    acknowledges it (``acknowledged_at``) when that was not done yet.
    """
    allowed = {"status", "priority", "severity", "assigned_user_id", "resolution_notes"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise Invalid(unknown[0], "cannot be changed on an alert")
    now = now or utcnow()
    alert = get_alert(session, alert_id, lock=True)
    before = audit.snapshot(alert)
    if "assigned_user_id" in changes:
        assignee = changes["assigned_user_id"]
        alert.assigned_user_id = None if assignee is None else _user(session, assignee).id
    if "priority" in changes and changes["priority"] is not None:
        alert.priority = AlertPriority(changes["priority"])
    if "severity" in changes and changes["severity"] is not None:
        alert.severity = AlertSeverity(changes["severity"])
    if "resolution_notes" in changes:
        alert.resolution_notes = changes["resolution_notes"]
    if "status" in changes and changes["status"] is not None:
        _set_status(alert, AlertStatus(changes["status"]), now=now)
    _changed(session, alert, actor=actor, before=before)
    return alert


def _set_status(alert: Alert, status: AlertStatus, *, now: datetime) -> None:
    if status in ACTIVE_STATUSES:
        if status is AlertStatus.INVESTIGATING and alert.acknowledged_at is None:
            alert.acknowledged_at = now
        alert.resolved_at = None
    elif alert.status not in CLOSED_STATUSES or alert.resolved_at is None:
        alert.resolved_at = now
    alert.status = status


def acknowledge(
    session: Session, *, actor: Actor, alert_id: uuid.UUID, now: datetime | None = None
) -> Alert:
    """Take an alert on: investigating, acknowledged now, assigned to the actor if nobody."""
    now = now or utcnow()
    alert = get_alert(session, alert_id, lock=True)
    if alert.status in CLOSED_STATUSES:
        raise Invalid("status", f"the alert is {alert.status.value}; reopen it first")
    before = audit.snapshot(alert)
    _set_status(alert, AlertStatus.INVESTIGATING, now=now)
    if alert.assigned_user_id is None and actor.user_id is not None:
        alert.assigned_user_id = actor.user_id
    _changed(session, alert, actor=actor, before=before)
    return alert


def resolve(
    session: Session,
    *,
    actor: Actor,
    alert_id: uuid.UUID,
    notes: str | None,
    false_positive: bool = False,
    mark_indicator: bool = False,
    now: datetime | None = None,
) -> Alert:
    """Close an alert as resolved or as a false positive, with notes.

    With ``mark_indicator`` (false positives only), the indicator's intelligence is marked
    false positive too, in the same transaction and audited as its own change.
    """
    if mark_indicator and not false_positive:
        raise Invalid("mark_indicator", "only a false positive can mark its indicator")
    now = now or utcnow()
    alert = get_alert(session, alert_id, lock=True)
    before = audit.snapshot(alert)
    if notes is not None:
        alert.resolution_notes = notes
    _set_status(
        alert, AlertStatus.FALSE_POSITIVE if false_positive else AlertStatus.RESOLVED, now=now
    )
    if mark_indicator:
        if alert.indicator_id is None:
            raise Invalid("mark_indicator", "this alert has no indicator to mark")
        from krsn.indicators.service import update_indicator

        update_indicator(
            session,
            actor=actor,
            key=str(alert.indicator_id),
            changes={"false_positive": True},
            now=now,
        )
        data = dict(alert.alert_data or {})
        data["indicator_marked_false_positive"] = True
        alert.alert_data = data
    _changed(session, alert, actor=actor, before=before)
    return alert
