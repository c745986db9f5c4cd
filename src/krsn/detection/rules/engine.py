"""Evaluation of the active correlation rules over observations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from krsn.detection.observations import Firing, Observation


def evaluate(
    session: Session, observations: Sequence[Observation], *, now: datetime
) -> list[Firing]:
    """The firings of every active rule over these observations, in the caller's
    transaction (threshold and time-based rules keep their state in ``rule_matches``)."""
    return []
