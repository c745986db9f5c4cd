"""From parsed feed rows to stored intelligence: normalise, check warninglists, upsert.

``ingest`` is the job: it reads rows in batches and commits each batch in its own
transaction, so a run killed halfway keeps what it committed and a second run merges into
it without duplicates. ``ingest_batch`` is the service each transaction calls.

For every accepted value one ``threat_intelligence`` record per (indicator, source, feed)
holds what the feed said (raw and processed data); a value a warninglist stops is kept as
an inactive indicator whose metadata names the list, and its record is marked
``false_positive``. Rejected values are counted and reported with their line and reason.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.feeds.formats.base import ParsedRow, ParseError
from krsn.feeds.models import IntelligenceStatus, ThreatIntelligence
from krsn.indicators import scoring
from krsn.indicators.normalise import Indicator, Kind, Rejected, normalise
from krsn.indicators.store import LAST_SEEN_GRAIN, Report, upsert_indicators

DEFAULT_BATCH = 5000
MAX_REPORTED_ERRORS = 1000


class Suppressor(Protocol):
    """Anything that says which warninglist, if any, stops a canonical value."""

    def match(self, kind: Kind, value: str) -> str | None: ...


@dataclass(frozen=True)
class SourceRef:
    """The provider a run reports for."""

    id: uuid.UUID
    name: str
    reliability: float | None


@dataclass(frozen=True)
class FeedRef:
    id: uuid.UUID
    default_confidence: float | None


@dataclass
class IngestSummary:
    """What one run did; also what ``feed_statistics`` records."""

    parsed: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    suppressed: int = 0
    duration_s: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add_error(self, line: int, reason: str, value: str | None = None) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            entry: dict[str, Any] = {"line": line, "reason": reason}
            if value is not None:
                entry["value"] = value[:200]
            self.errors.append(entry)

    def as_dict(self) -> dict[str, Any]:
        return {
            "parsed": self.parsed,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "suppressed": self.suppressed,
            "duration_s": round(self.duration_s, 3),
            "errors": self.errors,
        }


def _expected(kind: str | None) -> Kind | None:
    if kind is None:
        return None
    try:
        return Kind(kind)
    except ValueError:
        return None


def _processed(row: ParsedRow, indicator: Indicator) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": indicator.kind.value,
        "value": indicator.value,
        "line": row.line,
    }
    if row.first_seen:
        data["first_seen"] = row.first_seen.isoformat()
    if row.tags:
        data["tags"] = list(row.tags)
    if row.malware_family:
        data["malware_family"] = row.malware_family
    if row.description:
        data["description"] = row.description
    if row.extra:
        data["extra"] = row.extra
    return data


def ingest_batch(
    session: Session,
    *,
    rows: Sequence[ParsedRow],
    source: SourceRef,
    feed: FeedRef | None,
    suppressor: Suppressor | None,
    run_id: str,
    summary: IngestSummary,
    default_confidence: float | None = None,
    now: datetime | None = None,
) -> None:
    """Normalise, check and store one batch of parsed rows in the caller's transaction.

    A row's own confidence wins; else the feed's default; else ``default_confidence``.
    """
    now = now or utcnow()
    if feed is not None and feed.default_confidence is not None:
        default_confidence = feed.default_confidence
    accepted: list[tuple[ParsedRow, Indicator, Report]] = []
    for row in rows:
        result = normalise(row.value, expected=_expected(row.kind))
        if isinstance(result, Rejected):
            summary.add_error(row.line, result.reason, row.value)
            continue
        stopped = suppressor.match(result.kind, result.value) if suppressor else None
        if stopped:
            summary.suppressed += 1
        confidence = scoring.source_confidence(
            source.reliability,
            row.confidence if row.confidence is not None else default_confidence,
        )
        report = Report(
            indicator=result,
            seen_at=row.last_seen or now,
            confidence=confidence,
            first_seen=row.first_seen,
            tags=row.tags,
            malware_family=row.malware_family,
            suppressed_by=stopped,
        )
        accepted.append((row, result, report))
    if not accepted:
        return
    stored = upsert_indicators(
        session, reports=[r for _, _, r in accepted], source=source.name, now=now
    )
    summary.new += len(stored.new)
    summary.updated += len(stored.updated)
    summary.unchanged += len(stored.unchanged)
    _record_intelligence(
        session, accepted=accepted, ids=stored.ids, source=source, feed=feed, run_id=run_id, now=now
    )


def _record_intelligence(
    session: Session,
    *,
    accepted: list[tuple[ParsedRow, Indicator, Report]],
    ids: dict[str, uuid.UUID],
    source: SourceRef,
    feed: FeedRef | None,
    run_id: str,
    now: datetime,
) -> None:
    table = cast(Table, ThreatIntelligence.__table__)
    latest: dict[uuid.UUID, tuple[ParsedRow, Indicator, Report]] = {}
    for entry in accepted:
        latest[ids[entry[1].signature]] = entry
    query = select(table.c.id, table.c.indicator_id, table.c.processed_data).where(
        table.c.indicator_id.in_(list(latest)),
        table.c.source_id == source.id,
        table.c.feed_id == feed.id if feed else table.c.feed_id.is_(None),
    )
    known = {row.indicator_id: row for row in session.connection().execute(query)}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for indicator_id, (row, indicator, report) in sorted(latest.items()):
        processed = _processed(row, indicator)
        processed["last_seen"] = report.seen_at.isoformat()
        status = (
            IntelligenceStatus.FALSE_POSITIVE
            if report.suppressed_by
            else IntelligenceStatus.PROCESSED
        )
        if report.suppressed_by:
            processed["suppressed_by"] = report.suppressed_by
        previous = known.get(indicator_id)
        if previous is None:
            inserts.append(
                {
                    "id": uuid.uuid4(),
                    "indicator_id": indicator_id,
                    "source_id": source.id,
                    "feed_id": feed.id if feed else None,
                    "raw_data": dict(row.raw) if row.raw is not None else {"value": row.value},
                    "processed_data": processed,
                    "status": status,
                    "source_confidence": report.confidence,
                    "ingested_at": now,
                    "processed_at": now,
                    "correlation_id": run_id,
                }
            )
            continue
        before = dict(previous.processed_data or {})
        seen_before = before.get("last_seen")
        moved = seen_before is None or (
            report.seen_at - datetime.fromisoformat(seen_before) > LAST_SEEN_GRAIN
        )
        if not moved:
            processed["last_seen"] = seen_before
        if processed != before:
            updates.append(
                {
                    "b_id": previous.id,
                    "b_processed": processed,
                    "b_at": now,
                    "b_confidence": report.confidence,
                }
            )
    connection = session.connection()
    if inserts:
        connection.execute(table.insert(), inserts)
    if updates:
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                processed_data=bindparam("b_processed"),
                processed_at=bindparam("b_at"),
                source_confidence=bindparam("b_confidence"),
            ),
            updates,
        )


def _batches(
    rows: Iterable[ParsedRow | ParseError], size: int, summary: IngestSummary
) -> Iterator[list[ParsedRow]]:
    iterator = iter(rows)
    while True:
        chunk = list(islice(iterator, size))
        if not chunk:
            return
        good: list[ParsedRow] = []
        for item in chunk:
            if isinstance(item, ParseError):
                summary.add_error(item.line, item.reason)
            else:
                good.append(item)
        summary.parsed += len(chunk)
        yield good


def ingest(
    database: Database,
    *,
    rows: Iterable[ParsedRow | ParseError],
    source: SourceRef,
    feed: FeedRef | None = None,
    suppressor: Suppressor | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
    run_id: str | None = None,
    default_confidence: float | None = None,
) -> IngestSummary:
    """Ingest rows, committing every batch; returns what the run did."""
    summary = IngestSummary()
    run_id = run_id or f"run-{uuid.uuid4()}"
    started = time.perf_counter()
    for batch in _batches(rows, batch_size, summary):
        with database.transaction() as session:
            ingest_batch(
                session,
                rows=batch,
                source=source,
                feed=feed,
                suppressor=suppressor,
                run_id=run_id,
                summary=summary,
                default_confidence=default_confidence,
            )
        if on_progress:
            on_progress(summary.parsed)
    summary.duration_s = time.perf_counter() - started
    return summary
