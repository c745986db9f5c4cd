"""Change events (an alert raised or changed, an incident opened or changed) published after
the transaction that made them commits: a listener never hears of a change that was rolled
back, and never before it can read it.

Services call :func:`publish` with the session they write through; the live stream's bus
(:mod:`krsn.detection.stream.bus`) receives the events of each commit, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING = "krsn_events"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """``topic`` is ``alert.created``, ``alert.updated``, ``incident.created``,
    ``incident.updated``; ``payload`` is JSON-safe (the resource as the API shows it)."""

    topic: str
    payload: dict[str, Any]


Sink = Callable[[list[ChangeEvent]], None]
_sinks: list[Sink] = []


def add_sink(sink: Sink) -> None:
    """Hand every committed batch of events to ``sink`` (the stream bus registers here)."""
    if sink not in _sinks:
        _sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    if sink in _sinks:
        _sinks.remove(sink)


def publish(session: Session, topic: str, payload: dict[str, Any]) -> None:
    """Queue an event; it goes out when ``session``'s transaction commits."""
    session.info.setdefault(_PENDING, []).append(ChangeEvent(topic, payload))


@event.listens_for(Session, "after_commit")
def _send(session: Session) -> None:
    events: list[ChangeEvent] = session.info.pop(_PENDING, [])
    if not events:
        return
    for sink in list(_sinks):
        try:
            sink(events)
        except Exception:
            # The change is committed; a broken listener must not turn it into an error.
            log.exception("a change-event sink failed on %d event(s)", len(events))


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_PENDING, None)
