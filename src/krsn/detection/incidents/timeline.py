"""An incident's timeline: every change, link and note, with who made it and when.

Entries live in ``incidents.timeline``, a JSON list, oldest first::

    {"at": "2026-03-01T10:00:00+00:00",
     "actor": {"user_id": "…", "username": "alice", "via": "session"},
     "kind": "status",
     "details": {"old": "open", "new": "investigating"}}

The service appends an entry in every function that changes an incident, after locking the
incident's row, so no path forgets one and concurrent appends do not overwrite each other.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.detection.models import Incident
from krsn.identity.audit import Actor
from krsn.identity.models import User


class EntryKind(enum.StrEnum):
    """What a timeline entry records."""

    CREATED = "created"
    PROMOTED = "promoted"
    STATUS = "status"
    SEVERITY = "severity"
    ASSIGNED = "assigned"
    UPDATED = "updated"
    ALERT_LINKED = "alert_linked"
    ALERT_UNLINKED = "alert_unlinked"
    INDICATOR_LINKED = "indicator_linked"
    INDICATOR_UNLINKED = "indicator_unlinked"
    NOTE = "note"


def person(session: Session, user_id: Any) -> dict[str, Any] | None:
    """A user as the timeline names one (id and username), or None for no user."""
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return {"user_id": str(user_id), "username": user.username if user else None}


def actor_of(session: Session, actor: Actor) -> dict[str, Any]:
    """Who acted, as an entry names them: the user (when there is one) and the channel."""
    named = person(session, actor.user_id) or {"user_id": None, "username": None}
    return {**named, "via": actor.via}


def append(
    session: Session,
    incident: Incident,
    *,
    actor: Actor,
    kind: EntryKind,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add an entry to the incident's timeline and return it.

    The caller holds the incident's row lock (the service's ``locked``), read after taking
    it: otherwise two transactions appending at once would each write back a list without
    the other's entry.
    """
    entry = {
        "at": utcnow().isoformat(),
        "actor": actor_of(session, actor),
        "kind": kind.value,
        "details": details or {},
    }
    # A new list, not an append in place: the JSON column only notices assignment.
    incident.timeline = [*entries(incident), entry]
    return entry


def entries(incident: Incident) -> list[dict[str, Any]]:
    """The timeline's entries, oldest first (none for a row written without one)."""
    stored = incident.timeline
    return [e for e in stored if isinstance(e, dict)] if isinstance(stored, list) else []
