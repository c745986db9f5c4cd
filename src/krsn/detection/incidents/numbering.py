"""Incident numbers: ``INC-2026-0001``, one sequence a year, handed out race-free.

The number comes from one atomic statement on the year's counter row, an insert that turns
into an increment when the row exists, so two transactions (or processes) creating incidents
at once never take the same number and never skip one: on PostgreSQL the second waits for
the first's row lock, on SQLite for the writer's lock.
"""

from __future__ import annotations

import re

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from krsn.detection.models import IncidentCounter

NUMBER = re.compile(r"^INC-(?P<year>\d{4})-(?P<serial>\d{4,})$", re.IGNORECASE)
"""What an incident number looks like; the serial widens past 9999."""


def format_number(year: int, serial: int) -> str:
    """``INC-YYYY-NNNN``: four digits at least, more when the year runs past 9999."""
    return f"INC-{year:04d}-{serial:04d}"


def is_number(text: str) -> bool:
    """Whether ``text`` reads as an incident number (any case)."""
    return NUMBER.match(text.strip()) is not None


def next_number(session: Session, *, year: int) -> str:
    """Take the next number of ``year`` in the caller's transaction.

    The counter's row stays locked until that transaction ends, so keep what follows short.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    counting = (
        insert(IncidentCounter)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[IncidentCounter.year],
            set_={"last_number": IncidentCounter.last_number + 1},
        )
        .returning(IncidentCounter.last_number)
    )
    serial = session.execute(counting).scalar_one()
    return format_number(year, int(serial))
