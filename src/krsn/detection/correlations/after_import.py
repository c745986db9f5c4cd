"""Correlations discovered right after a one-off import (``krsn misp import``, ``krsn stix
import``): feed runs correlate at their end; an import does the same for what it changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from krsn.db import Database
from krsn.detection.correlations.service import discover
from krsn.identity.audit import Actor


def correlate_since(database: Database, *, actor: Actor, since: datetime) -> dict[str, Any]:
    """Discover the correlations of the indicators changed since ``since``, in a transaction
    of its own; the counts of pairs created and updated."""
    with database.transaction() as session:
        report = discover(session, actor=actor, since=since)
    return {
        "indicators": report.indicators,
        "created": sum(report.created.values()),
        "updated": sum(report.updated.values()),
    }
