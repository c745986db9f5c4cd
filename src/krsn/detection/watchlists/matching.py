"""Which watchlist items observables hit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from krsn.detection.observations import Observation


def attach_hits(session: Session, observations: Sequence[Observation], *, now: datetime) -> None:
    """Fill each observation's ``watchlist_hits`` with the active, unexpired items it hits."""
