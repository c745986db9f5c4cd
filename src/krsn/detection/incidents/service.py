"""Incidents: numbered cases an analyst works from open to resolved, with the alerts and
indicators behind them and a timeline of everything done to them.

Every function that changes an incident locks its row first, appends its own timeline
entry, audits the change and queues a change event (sent once the transaction commits).
Nothing here commits: the request, command or job that calls it owns the transaction.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from krsn.db.pagination import MAX_LIMIT, PageResult
from krsn.db.types import utcnow
from krsn.detection import events
from krsn.detection.incidents import numbering, timeline
from krsn.detection.incidents.schemas import (
    IncidentAlertRead,
    IncidentDetail,
    IncidentIndicatorRead,
    IncidentRead,
    IncidentSort,
    TimelineEntry,
)
from krsn.detection.incidents.timeline import EntryKind
from krsn.detection.models import (
    Alert,
    AlertSeverity,
    AlertStatus,
    Incident,
    IncidentAlert,
    IncidentIndicator,
    IncidentRelationship,
    IncidentStatus,
)
from krsn.errors import Conflict, Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import User
from krsn.indicators.models import Severity, ThreatIndicator
from krsn.sharing import knowledge, links

RESOURCE = "incident"
ALERT_LINK = "incident_alert"
INDICATOR_LINK = "incident_indicator"

CREATED = "incident.created"
UPDATED = "incident.updated"

# Incident severity has no "info": an informational alert worth an incident is a low one.
SEVERITY_OF_ALERT: dict[AlertSeverity, Severity] = {
    AlertSeverity.CRITICAL: Severity.CRITICAL,
    AlertSeverity.HIGH: Severity.HIGH,
    AlertSeverity.MEDIUM: Severity.MEDIUM,
    AlertSeverity.LOW: Severity.LOW,
    AlertSeverity.INFO: Severity.LOW,
}

FLOW = (
    IncidentStatus.OPEN,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.CONTAINED,
    IncidentStatus.RESOLVED,
)

EDITABLE = frozenset(
    {
        "title",
        "description",
        "severity",
        "status",
        "assigned_analyst_id",
        "affected_assets",
        "resolution_summary",
    }
)
# The timeline changes with every write and keeps its own history; the audit leaves it out.
AUDITED = [c.key for c in Incident.__mapper__.column_attrs if c.key != "timeline"]

MAX_TITLE = 500

E = TypeVar("E", bound=enum.Enum)


def next_statuses(current: IncidentStatus) -> list[IncidentStatus]:
    """Where an incident may go from ``current``: any later step, or back to investigating
    once resolved."""
    if current is IncidentStatus.RESOLVED:
        return [IncidentStatus.INVESTIGATING]
    return list(FLOW[FLOW.index(current) + 1 :])


# --- finding one ------------------------------------------------------------------------------


def _incident_id(session: Session, key: str | uuid.UUID) -> uuid.UUID:
    if isinstance(key, uuid.UUID):
        return key
    text = key.strip()
    if numbering.is_number(text):
        found = session.scalar(select(Incident.id).where(Incident.incident_number == text.upper()))
        if found is None:
            raise NotFound(f"No incident numbered {text.upper()}.")
        return found
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(
            f"No incident {text[:80]!r}: give its id or its number, such as INC-2026-0001."
        ) from None


def get_incident(session: Session, key: str | uuid.UUID) -> Incident:
    """The incident with this id or number (``INC-2026-0001``); ``NotFound`` otherwise."""
    incident = session.get(Incident, _incident_id(session, key))
    if incident is None:
        raise NotFound(f"No incident {key}.")
    return incident


def locked(session: Session, key: str | uuid.UUID) -> Incident:
    """The incident, its row locked until the transaction ends and read after the lock, so
    a change (a timeline append) starts from what the last writer committed.

    On SQLite the write transaction already holds the database's writer lock.
    """
    incident_id = _incident_id(session, key)
    incident = session.scalar(
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if incident is None:
        raise NotFound(f"No incident {key}.")
    return incident


# --- reading ----------------------------------------------------------------------------------


def _usernames(session: Session, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = sorted({u for u in user_ids if u is not None})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {row_id: name for row_id, name in rows}


def _counts(session: Session, column: Any, owner_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not owner_ids:
        return {}
    rows = session.execute(
        select(column, func.count()).where(column.in_(owner_ids)).group_by(column)
    )
    return {owner: int(count) for owner, count in rows}


def reads(session: Session, incidents: Sequence[Incident]) -> list[IncidentRead]:
    """Incidents as the API shows them, with a few queries for all of them."""
    ids = [i.id for i in incidents]
    names = _usernames(session, (i.assigned_analyst_id for i in incidents))
    alert_counts = _counts(session, IncidentAlert.incident_id, ids)
    indicator_counts = _counts(session, IncidentIndicator.incident_id, ids)
    return [
        IncidentRead(
            id=i.id,
            incident_number=i.incident_number,
            title=i.title,
            description=i.description,
            severity=i.severity,
            status=i.status,
            assigned_analyst_id=i.assigned_analyst_id,
            assigned_analyst=names.get(i.assigned_analyst_id) if i.assigned_analyst_id else None,
            affected_assets=[str(a) for a in i.affected_assets or ()],
            resolution_summary=i.resolution_summary,
            created_at=i.created_at,
            updated_at=i.updated_at,
            resolved_at=i.resolved_at,
            alert_count=alert_counts.get(i.id, 0),
            indicator_count=indicator_counts.get(i.id, 0),
        )
        for i in incidents
    ]


def read(session: Session, incident: Incident) -> IncidentRead:
    """One incident as the API shows it."""
    return reads(session, [incident])[0]


def alert_links(
    session: Session, incident_id: uuid.UUID, *, alert_id: uuid.UUID | None = None
) -> list[IncidentAlertRead]:
    """The alerts linked to an incident (or only this one), oldest link first."""
    statement = (
        select(IncidentAlert, Alert)
        .join(Alert, Alert.id == IncidentAlert.alert_id)
        .where(IncidentAlert.incident_id == incident_id)
        .order_by(IncidentAlert.linked_at, IncidentAlert.id)
    )
    if alert_id is not None:
        statement = statement.where(IncidentAlert.alert_id == alert_id)
    return [
        IncidentAlertRead(
            alert_id=alert.id,
            title=alert.title,
            severity=alert.severity,
            status=alert.status,
            priority=alert.priority,
            linked_at=link.linked_at,
            linked_by=link.linked_by,
            notes=link.notes,
        )
        for link, alert in session.execute(statement)
    ]


def indicator_links(
    session: Session, incident_id: uuid.UUID, *, indicator_id: uuid.UUID | None = None
) -> list[IncidentIndicatorRead]:
    """The indicators linked to an incident (or only this one), oldest link first."""
    statement = (
        select(IncidentIndicator, ThreatIndicator)
        .join(ThreatIndicator, ThreatIndicator.id == IncidentIndicator.indicator_id)
        .where(IncidentIndicator.incident_id == incident_id)
        .order_by(IncidentIndicator.added_at, IncidentIndicator.id)
    )
    if indicator_id is not None:
        statement = statement.where(IncidentIndicator.indicator_id == indicator_id)
    return [
        IncidentIndicatorRead(
            indicator_id=indicator.id,
            indicator_value=indicator.indicator_value,
            indicator_type=indicator.indicator_type,
            relationship_type=link.relationship_type,
            added_at=link.added_at,
            added_by=link.added_by,
            notes=link.notes,
        )
        for link, indicator in session.execute(statement)
    ]


def detail(session: Session, incident: Incident) -> IncidentDetail:
    """An incident with its linked alerts and indicators."""
    return IncidentDetail(
        **read(session, incident).model_dump(),
        alerts=alert_links(session, incident.id),
        indicators=indicator_links(session, incident.id),
    )


def timeline_of(session: Session, key: str | uuid.UUID) -> list[TimelineEntry]:
    """The incident's timeline, oldest entry first."""
    incident = get_incident(session, key)
    return [TimelineEntry.model_validate(e) for e in timeline.entries(incident)]


# --- listing ----------------------------------------------------------------------------------

_RANKS = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}
_RANK = case(
    {severity.value: rank for severity, rank in _RANKS.items()}, value=Incident.severity, else_=0
)


@dataclass(frozen=True)
class _Key:
    """One part of a list's order: the expression, how a cursor spells its value back."""

    expression: ColumnElement[Any] | InstrumentedAttribute[Any]
    parse: Callable[[str], Any]
    of: Callable[[Incident], Any]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


_CREATED = _Key(Incident.created_at, _moment, lambda i: i.created_at.isoformat())
_UPDATED = _Key(Incident.updated_at, _moment, lambda i: i.updated_at.isoformat())
_ID = _Key(Incident.id, uuid.UUID, lambda i: str(i.id))
_SORT_KEYS: dict[str, list[_Key]] = {
    "created": [_CREATED, _ID],
    "updated": [_UPDATED, _ID],
    # Within one severity the newest first when the most severe come first, and back.
    "severity": [_Key(_RANK, int, lambda i: str(_RANKS[i.severity])), _CREATED, _ID],
}
_FOREIGN = "not a cursor this API issued; start again without it"


def _write_cursor(sort: str, incident: Incident, keys: list[_Key]) -> str:
    text = json.dumps([sort, *(key.of(incident) for key in keys)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_cursor(cursor: str, sort: str, keys: list[_Key]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        if not isinstance(raw, list) or len(raw) != len(keys) + 1:
            raise ValueError("wrong shape")
        if not all(isinstance(value, str) and "\x00" not in value for value in raw):
            raise ValueError("not a cursor value")
        issued_for, *values = raw
        if issued_for != sort:
            raise Invalid("cursor", "issued for another sort order; start again without it")
        return [key.parse(value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise Invalid("cursor", _FOREIGN) from None


def _beyond(keys: list[_Key], values: list[Any], *, descending: bool) -> ColumnElement[bool]:
    # (a, b, c) < (x, y, z) spelled out: row-value comparisons differ between engines.
    clauses = []
    for index, key in enumerate(keys):
        equal = [keys[i].expression == values[i] for i in range(index)]
        beyond = key.expression < values[index] if descending else key.expression > values[index]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def incident_query(
    session: Session,
    *,
    status: IncidentStatus | None = None,
    severity: Severity | None = None,
    assigned_analyst_id: uuid.UUID | None = None,
    q: str | None = None,
) -> Select[Any]:
    """The incidents matching every filter given; ``q`` is part of the title or the number,
    in any case."""
    statement = select(Incident)
    if status is not None:
        statement = statement.where(Incident.status == IncidentStatus(status))
    if severity is not None:
        statement = statement.where(Incident.severity == Severity(severity))
    if assigned_analyst_id is not None:
        statement = statement.where(Incident.assigned_analyst_id == assigned_analyst_id)
    if q is not None:
        statement = statement.where(
            or_(
                links.name_matches(session, Incident.title, q),
                Incident.incident_number.contains(q.strip().upper(), autoescape=True),
            )
        )
    return statement


def list_incidents(
    session: Session,
    *,
    status: IncidentStatus | None = None,
    severity: Severity | None = None,
    assigned_analyst_id: uuid.UUID | None = None,
    q: str | None = None,
    sort: str = IncidentSort.CREATED_DESC,
    limit: int = 50,
    cursor: str | None = None,
) -> PageResult[Incident]:
    """A keyset page of the incidents matching the filters, in ``sort`` order (one of
    :class:`IncidentSort`, newest first by default)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    sort = str(sort)
    keys = _SORT_KEYS.get(sort.removeprefix("-"))
    if keys is None:
        raise Invalid("sort", f"must be one of {', '.join(s.value for s in IncidentSort)}")
    descending = sort.startswith("-")
    statement = incident_query(
        session, status=status, severity=severity, assigned_analyst_id=assigned_analyst_id, q=q
    )
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    if cursor:
        statement = statement.where(
            _beyond(keys, _read_cursor(cursor, sort, keys), descending=descending)
        )
    ordering = [k.expression.desc() if descending else k.expression.asc() for k in keys]
    rows = list(session.scalars(statement.order_by(*ordering).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _write_cursor(sort, rows[-1], keys)
    return PageResult(items=rows, total=int(total or 0), limit=limit, next_cursor=next_cursor)


# --- checking what callers give ------------------------------------------------------------


def _member(kind: type[E], field: str, value: Any) -> E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in kind)
        raise Invalid(field, f"{value!r} is not one of {choices}") from None


def _title(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise Invalid("title", "an incident needs a title")
    if len(text) > MAX_TITLE:
        raise Invalid("title", f"must be at most {MAX_TITLE} characters")
    return text


def _text(value: Any) -> str | None:
    """Free text, with blank read as none."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _assets(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise Invalid("affected_assets", "must be a list of names")
    assets: list[str] = []
    for item in value:
        name = str(item).strip()
        if name and name not in assets:
            assets.append(name)
    return assets


def _analyst(session: Session, user_id: Any) -> uuid.UUID | None:
    """The id of the user an incident is assigned to, checked: an existing, active user."""
    if user_id is None:
        return None
    try:
        wanted = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise Invalid("assigned_analyst_id", f"{user_id!r} is not a user id") from None
    user = session.get(User, wanted)
    if user is None:
        raise Invalid("assigned_analyst_id", f"no user has the id {wanted}")
    if not user.is_active:
        raise Invalid("assigned_analyst_id", f"{user.username} is disabled; pick an active user")
    return wanted


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _publish(session: Session, topic: str, incident: Incident) -> None:
    session.flush()
    events.publish(session, topic, read(session, incident).model_dump(mode="json"))


# --- creating ---------------------------------------------------------------------------------


def _new_incident(
    session: Session,
    *,
    actor: Actor,
    title: str,
    description: str | None,
    severity: Severity,
    assigned_analyst_id: uuid.UUID | None,
    affected_assets: list[str],
    kind: EntryKind,
    details: dict[str, Any],
    audit_details: dict[str, Any] | None = None,
) -> Incident:
    number = numbering.next_number(session, year=utcnow().year)
    incident = Incident(
        id=uuid.uuid4(),
        incident_number=number,
        title=title,
        description=description,
        severity=severity,
        status=IncidentStatus.OPEN,
        assigned_analyst_id=assigned_analyst_id,
        affected_assets=affected_assets,
        timeline=[],
    )
    timeline.append(
        session,
        incident,
        actor=actor,
        kind=kind,
        details={
            "incident_number": number,
            "title": title,
            "severity": severity.value,
            "assigned": timeline.person(session, assigned_analyst_id),
            **details,
        },
    )
    audit.created(session, incident, actor=actor, resource_type=RESOURCE, details=audit_details)
    return incident


def create_incident(
    session: Session,
    *,
    actor: Actor,
    title: str,
    description: str | None = None,
    severity: Severity | str = Severity.MEDIUM,
    assigned_analyst_id: uuid.UUID | None = None,
    affected_assets: Iterable[str] | None = None,
) -> Incident:
    """A new open incident with the next number of the year, audited, its timeline begun."""
    incident = _new_incident(
        session,
        actor=actor,
        title=_title(title),
        description=_text(description),
        severity=_member(Severity, "severity", severity),
        assigned_analyst_id=_analyst(session, assigned_analyst_id),
        affected_assets=_assets(affected_assets),
        kind=EntryKind.CREATED,
        details={},
    )
    _publish(session, CREATED, incident)
    return incident


# --- changing ---------------------------------------------------------------------------------


def _transition(incident: Incident, wanted: IncidentStatus) -> None:
    current = incident.status
    allowed = next_statuses(current)
    if wanted not in allowed:
        names = ", ".join(s.value for s in allowed)
        raise Invalid("status", f"an incident that is {current.value} can only move to {names}")
    incident.status = wanted
    if wanted is IncidentStatus.RESOLVED:
        incident.resolved_at = utcnow()
    elif current is IncidentStatus.RESOLVED:
        incident.resolved_at = None


def _apply(
    session: Session, incident: Incident, *, actor: Actor, changes: Mapping[str, Any]
) -> bool:
    """Apply ``changes`` and write their timeline entries and audit row; whether anything
    changed."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise Invalid(unknown[0], "not a field of an incident that can be changed")
    before = audit.snapshot(incident, AUDITED)
    appended = False

    fields: dict[str, dict[str, Any]] = {}
    cleaners: dict[str, Callable[[Any], Any]] = {
        "title": _title,
        "description": _text,
        "affected_assets": _assets,
        "resolution_summary": _text,
    }
    for field, clean in cleaners.items():
        if field not in changes:
            continue
        old, new = getattr(incident, field), clean(changes[field])
        if field == "affected_assets":
            old = list(old or ())
        if new != old:
            setattr(incident, field, new)
            fields[field] = {"old": _plain(old), "new": _plain(new)}
    if fields:
        timeline.append(
            session, incident, actor=actor, kind=EntryKind.UPDATED, details={"changes": fields}
        )
        appended = True

    if "severity" in changes:
        severity = _member(Severity, "severity", changes["severity"])
        if severity is not incident.severity:
            old_severity = incident.severity
            incident.severity = severity
            timeline.append(
                session,
                incident,
                actor=actor,
                kind=EntryKind.SEVERITY,
                details={"old": old_severity.value, "new": severity.value},
            )
            appended = True

    if "assigned_analyst_id" in changes:
        analyst = _analyst(session, changes["assigned_analyst_id"])
        if analyst != incident.assigned_analyst_id:
            old_analyst = incident.assigned_analyst_id
            incident.assigned_analyst_id = analyst
            timeline.append(
                session,
                incident,
                actor=actor,
                kind=EntryKind.ASSIGNED,
                details={
                    "old": timeline.person(session, old_analyst),
                    "new": timeline.person(session, analyst),
                },
            )
            appended = True

    if "status" in changes:
        status = _member(IncidentStatus, "status", changes["status"])
        if status is not incident.status:
            old_status = incident.status
            _transition(incident, status)
            details: dict[str, Any] = {"old": old_status.value, "new": status.value}
            if status is IncidentStatus.RESOLVED:
                details["resolution_summary"] = incident.resolution_summary
            timeline.append(session, incident, actor=actor, kind=EntryKind.STATUS, details=details)
            appended = True

    if incident.status is IncidentStatus.RESOLVED and incident.resolution_summary is None:
        raise Invalid(
            "resolution_summary",
            "a resolved incident needs a summary of what happened and what was done; "
            "send resolution_summary",
        )
    if not appended:
        return False
    session.flush()
    old_values, new_values = audit.changes(before, audit.snapshot(incident, AUDITED))
    audit.record(
        session,
        actor=actor,
        action=f"{RESOURCE}.update",
        resource_type=RESOURCE,
        resource_id=incident.id,
        old_values=old_values,
        new_values=new_values,
        details={"incident_number": incident.incident_number},
    )
    return True


def update_incident(
    session: Session, *, actor: Actor, key: str | uuid.UUID, changes: Mapping[str, Any]
) -> Incident:
    """Change the fields given (see :data:`EDITABLE`); each kind of change gets its timeline
    entry, the whole its audit row with old and new values. Sending what is already there
    changes nothing."""
    incident = locked(session, key)
    if _apply(session, incident, actor=actor, changes=changes):
        _publish(session, UPDATED, incident)
    return incident


def set_status(
    session: Session,
    *,
    actor: Actor,
    key: str | uuid.UUID,
    status: IncidentStatus | str,
    resolution_summary: str | None = None,
) -> Incident:
    """Move an incident to ``status`` (see :func:`next_statuses`); resolving needs a summary,
    given here or already there."""
    changes: dict[str, Any] = {"status": status}
    if resolution_summary is not None:
        changes["resolution_summary"] = resolution_summary
    return update_incident(session, actor=actor, key=key, changes=changes)


def assign(
    session: Session, *, actor: Actor, key: str | uuid.UUID, analyst_id: uuid.UUID | None
) -> Incident:
    """Assign the incident to this analyst, or to no one."""
    return update_incident(
        session, actor=actor, key=key, changes={"assigned_analyst_id": analyst_id}
    )


def add_note(session: Session, *, actor: Actor, key: str | uuid.UUID, text: str) -> TimelineEntry:
    """Add an analyst's note to the incident's timeline."""
    note = _text(text)
    if note is None:
        raise Invalid("text", "a note needs some text")
    incident = locked(session, key)
    entry = timeline.append(
        session, incident, actor=actor, kind=EntryKind.NOTE, details={"text": note}
    )
    audit.record(
        session,
        actor=actor,
        action=f"{RESOURCE}.note",
        resource_type=RESOURCE,
        resource_id=incident.id,
        details={"incident_number": incident.incident_number, "text": note},
    )
    _publish(session, UPDATED, incident)
    return TimelineEntry.model_validate(entry)


# --- links ------------------------------------------------------------------------------------


def _alert(session: Session, alert_id: uuid.UUID) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    return alert


def _indicator(session: Session, indicator_id: uuid.UUID) -> ThreatIndicator:
    indicator = session.get(ThreatIndicator, indicator_id)
    if indicator is None:
        raise NotFound(f"No indicator {indicator_id}.")
    return indicator


def _unlinked(session: Session, link: Any, *, actor: Actor, resource: str, number: str) -> None:
    knowledge.deleted(
        session, link, actor=actor, resource_type=resource, details={"incident_number": number}
    )


def _link_alert(
    session: Session, incident: Incident, *, actor: Actor, alert: Alert, notes: str | None
) -> IncidentAlert:
    clash = session.scalar(
        select(IncidentAlert.id).where(
            IncidentAlert.incident_id == incident.id, IncidentAlert.alert_id == alert.id
        )
    )
    if clash is not None:
        raise Conflict(
            f"Alert {alert.id} is already linked to {incident.incident_number}.", field="alert_id"
        )
    link = IncidentAlert(
        incident_id=incident.id, alert_id=alert.id, linked_by=actor.user_id, notes=_text(notes)
    )
    audit.created(
        session,
        link,
        actor=actor,
        resource_type=ALERT_LINK,
        details={"incident_number": incident.incident_number},
    )
    timeline.append(
        session,
        incident,
        actor=actor,
        kind=EntryKind.ALERT_LINKED,
        details={"alert_id": str(alert.id), "title": alert.title, "notes": link.notes},
    )
    return link


def link_alert(
    session: Session,
    *,
    actor: Actor,
    key: str | uuid.UUID,
    alert_id: uuid.UUID,
    notes: str | None = None,
) -> IncidentAlertRead:
    """Link an alert to the incident; linking it twice is a ``Conflict``."""
    incident = locked(session, key)
    alert = _alert(session, alert_id)
    _link_alert(session, incident, actor=actor, alert=alert, notes=notes)
    _publish(session, UPDATED, incident)
    return alert_links(session, incident.id, alert_id=alert.id)[0]


def unlink_alert(
    session: Session, *, actor: Actor, key: str | uuid.UUID, alert_id: uuid.UUID
) -> None:
    """Remove an alert from the incident (the alert itself stays)."""
    incident = locked(session, key)
    link = session.scalar(
        select(IncidentAlert).where(
            IncidentAlert.incident_id == incident.id, IncidentAlert.alert_id == alert_id
        )
    )
    if link is None:
        raise NotFound(f"Alert {alert_id} is not linked to {incident.incident_number}.")
    alert = _alert(session, alert_id)
    _unlinked(session, link, actor=actor, resource=ALERT_LINK, number=incident.incident_number)
    timeline.append(
        session,
        incident,
        actor=actor,
        kind=EntryKind.ALERT_UNLINKED,
        details={"alert_id": str(alert.id), "title": alert.title},
    )
    _publish(session, UPDATED, incident)


def _link_indicator(
    session: Session,
    incident: Incident,
    *,
    actor: Actor,
    indicator: ThreatIndicator,
    relationship_type: IncidentRelationship,
    notes: str | None,
) -> IncidentIndicator:
    clash = session.scalar(
        select(IncidentIndicator.id).where(
            IncidentIndicator.incident_id == incident.id,
            IncidentIndicator.indicator_id == indicator.id,
        )
    )
    if clash is not None:
        raise Conflict(
            f"Indicator {indicator.id} ({indicator.indicator_value[:80]}) is already linked to "
            f"{incident.incident_number}.",
            field="indicator_id",
        )
    link = IncidentIndicator(
        incident_id=incident.id,
        indicator_id=indicator.id,
        relationship_type=relationship_type,
        notes=_text(notes),
        added_by=actor.user_id,
    )
    audit.created(
        session,
        link,
        actor=actor,
        resource_type=INDICATOR_LINK,
        details={"incident_number": incident.incident_number},
    )
    timeline.append(
        session,
        incident,
        actor=actor,
        kind=EntryKind.INDICATOR_LINKED,
        details={
            "indicator_id": str(indicator.id),
            "value": indicator.indicator_value,
            "relationship_type": relationship_type.value,
            "notes": link.notes,
        },
    )
    return link


def link_indicator(
    session: Session,
    *,
    actor: Actor,
    key: str | uuid.UUID,
    indicator_id: uuid.UUID,
    relationship_type: IncidentRelationship | str = IncidentRelationship.RELATED,
    notes: str | None = None,
) -> IncidentIndicatorRead:
    """Link an indicator to the incident as its root cause, a related one or a consequence;
    linking it twice is a ``Conflict``."""
    relationship = _member(IncidentRelationship, "relationship_type", relationship_type)
    incident = locked(session, key)
    indicator = _indicator(session, indicator_id)
    _link_indicator(
        session,
        incident,
        actor=actor,
        indicator=indicator,
        relationship_type=relationship,
        notes=notes,
    )
    _publish(session, UPDATED, incident)
    return indicator_links(session, incident.id, indicator_id=indicator.id)[0]


def unlink_indicator(
    session: Session, *, actor: Actor, key: str | uuid.UUID, indicator_id: uuid.UUID
) -> None:
    """Remove an indicator from the incident (the indicator itself stays)."""
    incident = locked(session, key)
    link = session.scalar(
        select(IncidentIndicator).where(
            IncidentIndicator.incident_id == incident.id,
            IncidentIndicator.indicator_id == indicator_id,
        )
    )
    if link is None:
        raise NotFound(f"Indicator {indicator_id} is not linked to {incident.incident_number}.")
    indicator = _indicator(session, indicator_id)
    relationship = link.relationship_type
    _unlinked(session, link, actor=actor, resource=INDICATOR_LINK, number=incident.incident_number)
    timeline.append(
        session,
        incident,
        actor=actor,
        kind=EntryKind.INDICATOR_UNLINKED,
        details={
            "indicator_id": str(indicator.id),
            "value": indicator.indicator_value,
            "relationship_type": relationship.value if relationship else None,
        },
    )
    _publish(session, UPDATED, incident)


# --- promotion --------------------------------------------------------------------------------


def incident_of_alert(session: Session, alert_id: uuid.UUID) -> str | None:
    """The number of the (first) incident an alert is linked to, if any."""
    return session.scalar(
        select(Incident.incident_number)
        .join(IncidentAlert, IncidentAlert.incident_id == Incident.id)
        .where(IncidentAlert.alert_id == alert_id)
        .order_by(IncidentAlert.linked_at, IncidentAlert.id)
        .limit(1)
    )


def alert_payload(alert: Alert, incident_number: str | None) -> dict[str, Any]:
    """A JSON-safe summary of an alert, for the ``alert.updated`` event."""
    return {
        "id": str(alert.id),
        "title": alert.title,
        "severity": alert.severity.value,
        "status": alert.status.value,
        "priority": alert.priority.value,
        "assigned_user_id": str(alert.assigned_user_id) if alert.assigned_user_id else None,
        "incident_number": incident_number,
    }


def promote_alert(
    session: Session,
    *,
    alert_id: uuid.UUID,
    actor: Actor,
    title: str | None = None,
    severity: Severity | str | None = None,
    assigned_analyst_id: uuid.UUID | None = None,
) -> Incident:
    """Open an incident from an alert in one step.

    The incident takes the alert's title and description, a severity matching the alert's
    (info becomes low) and the alert's assignee, unless given; the alert is linked, and
    its indicator (if any) linked as the root cause; the alert moves to investigating and
    is acknowledged. An alert already part of an incident is a ``Conflict`` naming it.
    """
    # Two promotions of one alert at once: the second waits here, then sees the first's link.
    alert = session.scalar(
        select(Alert)
        .where(Alert.id == alert_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    existing = incident_of_alert(session, alert.id)
    if existing is not None:
        raise Conflict(
            f"Alert {alert.id} is already part of incident {existing}; work it there.",
            incident_number=existing,
        )
    analyst = (
        _analyst(session, assigned_analyst_id)
        if assigned_analyst_id is not None
        else alert.assigned_user_id
    )
    incident = _new_incident(
        session,
        actor=actor,
        title=_title(title) if title is not None else _title(alert.title),
        description=alert.description,
        severity=(
            _member(Severity, "severity", severity)
            if severity is not None
            else SEVERITY_OF_ALERT[alert.severity]
        ),
        assigned_analyst_id=analyst,
        affected_assets=[],
        kind=EntryKind.PROMOTED,
        details={
            "alert_id": str(alert.id),
            "alert_title": alert.title,
            "alert_severity": alert.severity.value,
        },
        audit_details={"promoted_from_alert": str(alert.id)},
    )
    _link_alert(session, incident, actor=actor, alert=alert, notes=None)
    if alert.indicator_id is not None:
        indicator = session.get(ThreatIndicator, alert.indicator_id)
        if indicator is not None:
            _link_indicator(
                session,
                incident,
                actor=actor,
                indicator=indicator,
                relationship_type=IncidentRelationship.ROOT_CAUSE,
                notes=None,
            )

    before = audit.snapshot(alert)
    if alert.status is not AlertStatus.INVESTIGATING:
        alert.status = AlertStatus.INVESTIGATING
        # Back under investigation: no longer resolved.
        alert.resolved_at = None
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
    session.flush()
    old_values, new_values = audit.changes(before, audit.snapshot(alert))
    if old_values or new_values:
        audit.record(
            session,
            actor=actor,
            action="alert.update",
            resource_type="alert",
            resource_id=alert.id,
            old_values=old_values,
            new_values=new_values,
            details={"promoted_to": incident.incident_number},
        )
    _publish(session, CREATED, incident)
    events.publish(session, "alert.updated", alert_payload(alert, incident.incident_number))
    return incident
