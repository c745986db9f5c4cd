"""Ingestion end to end on both engines: dedup, merge, suppression, bad rows, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from krsn.db import Database
from krsn.feeds.formats.base import ParsedRow, ParseError
from krsn.feeds.models import IntelligenceStatus, ThreatIntelligence
from krsn.feeds.pipeline import SourceRef, ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import Kind
from krsn.indicators.scoring import combined_confidence


def source(db: Database, name: str = "feed-a", reliability: float | None = 80) -> SourceRef:
    with db.transaction() as session:
        return ensure_source(session, actor=Actor.system(), name=name, reliability=reliability)


def rows(values: list[str], **fields: object) -> list[ParsedRow]:
    return [ParsedRow(line=i + 1, value=v, **fields) for i, v in enumerate(values)]  # type: ignore[arg-type]


class NoPrivate:
    """A stand-in warninglist made of one real rule: the RFC 1918 10/8 range."""

    def match(self, kind: Kind, value: str) -> str | None:
        return "rfc1918" if kind is Kind.IPV4 and value.startswith("10.") else None


def count(db: Database, model: type) -> int:
    with db.transaction(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_feed_run_stores_each_canonical_value_once(db: Database):
    ref = source(db)
    values = [
        "hxxp://evil[.]example[.]com/a",
        "http://EVIL.example.com/a",
        "1.2.3.4",
        "1[.]2.3.4",
        "d41d8cd98f00b204e9800998ecf8427e",
        "bad..domain",
        "evil.com",
    ]
    summary = ingest(db, rows=rows(values), source=ref, batch_size=3)
    assert summary.parsed == 7
    assert summary.rejected == 1 and summary.errors[0]["line"] == 6
    assert summary.new == 4
    assert count(db, ThreatIndicator) == 4
    assert count(db, ThreatIntelligence) == 4


def test_running_the_same_feed_again_creates_nothing_and_writes_nothing(db: Database):
    ref = source(db)
    values = [f"198.51.100.{i}" for i in range(1, 60)] + [f"host{i}.example.org" for i in range(40)]
    first = ingest(db, rows=rows(values), source=ref, batch_size=25)
    assert first.new == 99
    with db.transaction(readonly=True) as session:
        before = {r.id: r.updated_at for r in session.scalars(select(ThreatIndicator))}
    again = ingest(db, rows=rows(values), source=ref, batch_size=25)
    assert (again.new, again.updated, again.unchanged) == (0, 99, 99)
    with db.transaction(readonly=True) as session:
        after = {r.id: r.updated_at for r in session.scalars(select(ThreatIndicator))}
    assert after == before
    assert count(db, ThreatIntelligence) == 99


def test_a_second_source_raises_confidence_and_keeps_first_seen(db: Database):
    a, b = source(db, "a", 60), source(db, "b", 70)
    early = datetime(2026, 1, 1, tzinfo=UTC)
    ingest(db, rows=rows(["203.0.113.9"], first_seen=early, tags=("c2",)), source=a)
    ingest(db, rows=rows(["203.0.113.9"], malware_family="Emotet", tags=("botnet",)), source=b)
    with db.transaction(readonly=True) as session:
        indicator = session.scalar(select(ThreatIndicator))
        assert indicator is not None
        meta = indicator.metadata_ or {}
        assert indicator.first_seen_at == early
        assert meta["tags"] == ["botnet", "c2"]
        assert meta["malware_families"] == ["Emotet"]
        # 60 % × 50 % default and 70 % × 50 %: 30 and 35, combined by noisy-OR.
        assert meta["score"]["factors"]["source_confidences"] == {"a": 30.0, "b": 35.0}
        assert float(indicator.confidence_score or 0) == combined_confidence([30.0, 35.0])
        assert meta["score"]["factors"]["malware_family_bonus"] == 10.0
        records = session.scalars(select(ThreatIntelligence)).all()
        assert len(records) == 2


def test_a_warninglisted_value_is_kept_inactive_with_the_list_that_stopped_it(db: Database):
    ref = source(db)
    summary = ingest(db, rows=rows(["10.1.2.3", "192.0.2.77"]), source=ref, suppressor=NoPrivate())
    assert summary.suppressed == 1 and summary.new == 2
    with db.transaction(readonly=True) as session:
        stopped = session.scalar(
            select(ThreatIndicator).where(ThreatIndicator.indicator_value == "10.1.2.3")
        )
        assert stopped is not None and stopped.is_active is False
        assert (stopped.metadata_ or {})["suppressed_by"] == "rfc1918"
        record = session.scalar(
            select(ThreatIntelligence).where(ThreatIntelligence.indicator_id == stopped.id)
        )
        assert record is not None
        assert record.status == IntelligenceStatus.FALSE_POSITIVE
        assert record.processed_data["suppressed_by"] == "rfc1918"


def test_parse_errors_are_reported_with_their_line_and_good_rows_still_land(db: Database):
    ref = source(db)
    mixed: list[ParsedRow | ParseError] = [
        ParsedRow(line=1, value="198.51.100.1"),
        ParseError(line=2, reason="row has 2 columns, the rules need 4"),
        ParsedRow(line=3, value="not an indicator at all"),
        ParsedRow(line=4, value="198.51.100.2"),
    ]
    summary = ingest(db, rows=mixed, source=ref)
    assert summary.new == 2
    assert [e["line"] for e in summary.errors] == [2, 3]
    assert "columns" in summary.errors[0]["reason"]


def test_a_run_killed_halfway_keeps_its_batches_and_a_rerun_duplicates_nothing(db: Database):
    ref = source(db)
    values = [f"kill{i}.example.net" for i in range(30)]

    def dying() -> Iterator[ParsedRow]:
        yield from rows(values)[:25]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(db, rows=dying(), source=ref, batch_size=10)
    assert count(db, ThreatIndicator) == 20
    summary = ingest(db, rows=rows(values), source=ref, batch_size=10)
    assert summary.new == 10 and summary.updated == summary.unchanged == 20
    assert count(db, ThreatIndicator) == 30


def test_two_overlapping_runs_at_once_never_duplicate_an_indicator(db: Database):
    a, b = source(db, "a"), source(db, "b")
    shared = [f"shared{i}.example.net" for i in range(300)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(ref: SourceRef, values: list[str]) -> None:
        try:
            start.wait()
            ingest(db, rows=rows(values), source=ref, batch_size=50)
        except BaseException as exc:  # reported through the list
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(a, shared + [f"a{i}.example.net" for i in range(50)])),
        threading.Thread(target=run, args=(b, list(reversed(shared)))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(db, ThreatIndicator) == 350
    with db.transaction(readonly=True) as session:
        both = session.scalar(
            select(ThreatIndicator).where(ThreatIndicator.indicator_value == "shared7.example.net")
        )
        assert both is not None
        assert set((both.metadata_ or {})["sources"]) == {"a", "b"}


def test_confidence_comes_from_the_row_then_the_run_default(db: Database):
    ref = source(db, "graded", 50)
    ingest(
        db,
        rows=[
            ParsedRow(line=1, value="198.51.100.50", confidence=90),
            ParsedRow(line=2, value="198.51.100.51"),
        ],
        source=ref,
        default_confidence=40,
    )
    with db.transaction(readonly=True) as session:
        scores = {
            i.indicator_value: (i.metadata_ or {})["sources"]["graded"]
            for i in session.scalars(select(ThreatIndicator))
        }
    assert scores == {"198.51.100.50": 45.0, "198.51.100.51": 20.0}
