"""temporal pairs: one source, first seen within the window; bursts are no evidence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.correlations.discovery import WINDOW, DiscoveryReport, Limits, discover
from krsn.detection.models import CorrelationType, ThreatCorrelation
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator

SYSTEM = Actor.system()
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def report(db: Database, source: str, seen: dict[str, datetime]) -> set[uuid.UUID]:
    """A source reports each value first seen at its time; the ids of the values."""
    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name=source, reliability=70)
    rows = [ParsedRow(line=i + 1, value=v, first_seen=t) for i, (v, t) in enumerate(seen.items())]
    ingest(db, source=ref, rows=rows)
    with db.transaction(readonly=True) as session:
        return set(
            session.scalars(
                select(ThreatIndicator.id).where(ThreatIndicator.indicator_value.in_(seen))
            )
        )


def run(db: Database, **scope: Any) -> DiscoveryReport:
    with db.transaction() as session:
        return discover(session, now=utcnow(), **scope)


def temporal(db: Database) -> dict[frozenset[str], dict[str, Any]]:
    primary, related = aliased(ThreatIndicator), aliased(ThreatIndicator)
    statement = (
        select(ThreatCorrelation, primary.indicator_value, related.indicator_value)
        .join(primary, primary.id == ThreatCorrelation.primary_indicator_id)
        .join(related, related.id == ThreatCorrelation.related_indicator_id)
        .where(ThreatCorrelation.correlation_type == CorrelationType.TEMPORAL)
    )
    with db.transaction(readonly=True) as session:
        return {
            frozenset((a, b)): {
                "score": float(row.correlation_score),
                "data": row.correlation_data,
                "primary": row.primary_indicator_id,
                "related": row.related_indicator_id,
            }
            for row, a, b in session.execute(statement)
        }


def test_first_seen_within_the_window_pairs_and_just_outside_does_not(db: Database):
    ids = report(
        db,
        "sensor",
        {
            "first.example.com": T0,
            "198.51.100.1": T0 + WINDOW,  # exactly the window: together
            "198.51.100.2": T0 + 2 * WINDOW + timedelta(seconds=1),  # a second too late
            "198.51.100.3": T0 + 3 * WINDOW + timedelta(seconds=1),  # the window after it
        },
    )

    run(db, indicator_ids=ids)

    found = temporal(db)
    assert set(found) == {
        frozenset({"first.example.com", "198.51.100.1"}),
        frozenset({"198.51.100.2", "198.51.100.3"}),
    }
    pair = found[frozenset({"first.example.com", "198.51.100.1"})]
    assert pair["primary"] < pair["related"]
    (evidence,) = pair["data"]["evidence"]
    assert evidence["delta_seconds"] == WINDOW.total_seconds()
    assert evidence["source"] == "sensor"
    assert pair["data"]["window_seconds"] == WINDOW.total_seconds()


def test_closer_in_time_scores_higher(db: Database):
    report(
        db,
        "sensor",
        {
            "a.example.com": T0,
            "b.example.com": T0 + timedelta(seconds=10),
            "c.example.com": T0 + timedelta(hours=1),
            "d.example.com": T0 + timedelta(hours=1, minutes=4),
        },
    )

    run(db)

    found = temporal(db)
    close = found[frozenset({"a.example.com", "b.example.com"})]["score"]
    far = found[frozenset({"c.example.com", "d.example.com"})]["score"]
    assert close > far > 0


def test_other_sources_at_the_same_moment_are_not_together(db: Database):
    first = report(db, "one source", {"one.example.com": T0})
    second = report(db, "another source", {"two.example.com": T0})

    result = run(db, indicator_ids=first | second)

    assert temporal(db) == {}
    assert result.found["temporal"] == 0


def test_a_burst_is_skipped_and_reported(db: Database):
    limits = Limits(max_neighbours=5)
    burst = {f"192.0.2.{i}": T0 + timedelta(seconds=i) for i in range(1, 8)}
    quiet = {
        "quiet.example.com": T0 + timedelta(hours=2),
        "calm.example.com": T0 + timedelta(hours=2, seconds=30),
    }
    ids = report(db, "bulk feed", {**burst, **quiet})

    result = run(db, indicator_ids=ids, limits=limits)

    assert set(temporal(db)) == {frozenset(quiet)}
    (skipped,) = [g for g in result.skipped if g.correlation_type == "temporal"]
    assert skipped.size == len(burst)
    assert skipped.key.startswith("bulk feed ")
    assert result.skipped_total == 1
