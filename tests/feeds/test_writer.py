"""Long runs store through a writer process: same results as in process, on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from krsn.db import Database
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.models import IntelligenceStatus, ThreatIntelligence
from krsn.feeds.pipeline import SourceRef, ingest
from krsn.feeds.sources import ensure_source
from krsn.feeds.writer import WriterFailed
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import Kind


def source(db: Database, name: str = "feed-a") -> SourceRef:
    with db.transaction() as session:
        return ensure_source(session, actor=Actor.system(), name=name, reliability=80)


def rows(values: list[str]) -> list[ParsedRow]:
    return [
        ParsedRow(line=i + 1, value=v, tags=("botnet",), malware_family="Qakbot")
        for i, v in enumerate(values)
    ]


def count(db: Database, model: type) -> int:
    with db.transaction(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


class TenSlash8:
    def match(self, kind: Kind, value: str) -> str | None:
        return "rfc1918" if kind is Kind.IPV4 and value.startswith("10.") else None


VALUES = [f"w{i}.example.net" for i in range(240)] + [f"10.0.0.{i}" for i in range(1, 61)]


def test_a_long_run_hands_storing_to_a_writer_process_with_the_same_result(db: Database):
    ref = source(db)
    progress: list[int] = []
    summary = ingest(
        db,
        rows=[*rows(VALUES), ParsedRow(line=301, value="not a value")],
        source=ref,
        suppressor=TenSlash8(),
        batch_size=50,
        parallel_after=100,
        on_progress=progress.append,
    )
    assert (summary.parsed, summary.new, summary.rejected, summary.suppressed) == (301, 300, 1, 60)
    assert progress == sorted(progress) and progress[-1] == 301
    assert count(db, ThreatIndicator) == 300 and count(db, ThreatIntelligence) == 300
    with db.transaction(readonly=True) as session:
        stopped = session.scalar(
            select(func.count())
            .select_from(ThreatIntelligence)
            .where(ThreatIntelligence.status == IntelligenceStatus.FALSE_POSITIVE)
        )
        indicator = session.scalars(
            select(ThreatIndicator).where(ThreatIndicator.indicator_value == "w239.example.net")
        ).one()
    assert stopped == 60
    assert indicator.metadata_["malware_families"] == ["Qakbot"]

    again = ingest(db, rows=rows(VALUES), source=ref, batch_size=50, parallel_after=100)
    assert (again.new, again.updated, again.unchanged) == (0, 300, 300)
    assert count(db, ThreatIntelligence) == 300


def test_a_run_stopped_while_the_writer_works_keeps_every_batch_it_sent(db: Database):
    ref = source(db)

    def dying() -> Iterator[ParsedRow]:
        yield from rows(VALUES)[:250]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(db, rows=dying(), source=ref, batch_size=50, parallel_after=100)
    assert count(db, ThreatIndicator) == 250
    summary = ingest(db, rows=rows(VALUES), source=ref, batch_size=50, parallel_after=100)
    assert (summary.new, summary.updated) == (50, 250)


def test_a_failing_writer_is_a_clear_error_and_keeps_what_it_committed(db: Database):
    ref = source(db)
    # A source that does not exist breaks the records' foreign key in the writer.
    ghost = SourceRef(id=ref.id.__class__(int=1), name="ghost", reliability=None)
    first = ingest(db, rows=rows(VALUES[:100]), source=ref, batch_size=50, parallel_after=None)
    assert first.new == 100
    with pytest.raises(WriterFailed, match="storing a batch failed"):
        ingest(db, rows=rows(VALUES[100:]), source=ghost, batch_size=50, parallel_after=0)
    assert count(db, ThreatIntelligence) == 100
