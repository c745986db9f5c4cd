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

import gc
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.pipeline import on_ingest
from krsn.feeds.formats.base import ParsedRow, ParseError
from krsn.feeds.models import IntelligenceStatus, ThreatIntelligence
from krsn.feeds.writer import Writer
from krsn.indicators import scoring
from krsn.indicators.normalise import KIND_BY_VALUE, Indicator, Kind, Rejected, normalise
from krsn.indicators.store import (
    LAST_SEEN_GRAIN,
    Report,
    StorageForm,
    compact_json,
    upsert_stored,
)
from krsn.osint.entities.resolution import link_indicators

DEFAULT_BATCH = 20_000
# A writer process costs about a second to start: only runs this long repay it.
PARALLEL_AFTER = 100_000
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
    name: str | None = None


@dataclass
class IngestSummary:
    """What one run did; also what ``feed_statistics`` records."""

    parsed: int = 0
    new: int = 0
    updated: int = 0
    """Known indicators the run reported again (first seen kept, last seen advanced)."""
    unchanged: int = 0
    """Of ``updated``, those whose stored row already said everything: nothing written."""
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

    def count(self, stored: tuple[int, int, int]) -> None:
        """Add what :func:`store_batch` stored."""
        new, updated, unchanged = stored
        self.new += new
        self.updated += updated
        self.unchanged += unchanged

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
    found = KIND_BY_VALUE.get(kind)
    if found is not None:
        return found
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


@dataclass(slots=True)
class Prepared:
    """One accepted value, ready to store: everything that needs no database."""

    indicator: Indicator
    report: Report
    raw_text: str
    """``threat_intelligence.raw_data`` as stored (compact JSON)."""
    processed: dict[str, Any]
    """``processed_data`` without what storing adds (last seen, verdicts)."""


def prepare_batch(
    rows: Sequence[ParsedRow],
    *,
    source: SourceRef,
    feed: FeedRef | None,
    suppressor: Suppressor | None,
    summary: IngestSummary,
    default_confidence: float | None = None,
    now: datetime,
) -> list[Prepared]:
    """Normalise and check one batch; rejected and suppressed values go into ``summary``.

    A row's own confidence wins; else the feed's default; else ``default_confidence``.
    """
    if feed is not None and feed.default_confidence is not None:
        default_confidence = feed.default_confidence
    prepared: list[Prepared] = []
    keep = prepared.append
    check = suppressor.match if suppressor else None
    reliability = source.reliability
    confidences: dict[float | None, float] = {}
    dumps = compact_json
    for row in rows:
        result = normalise(row.value, expected=_expected(row.kind) if row.kind else None)
        if type(result) is Rejected:
            summary.add_error(row.line, result.reason, row.value)
            continue
        assert isinstance(result, Indicator)
        stopped = check(result.kind, result.value) if check else None
        if stopped:
            summary.suppressed += 1
        given = row.confidence if row.confidence is not None else default_confidence
        confidence = confidences.get(given)
        if confidence is None:
            confidence = confidences[given] = scoring.source_confidence(reliability, given)
        keep(
            Prepared(
                result,
                Report(
                    result,
                    row.last_seen or now,
                    confidence,
                    row.first_seen,
                    row.tags,
                    row.malware_family,
                    stopped,
                ),
                dumps(dict(row.raw) if row.raw is not None else {"value": row.value}),
                _processed(row, result),
            )
        )
    return prepared


def store_batch(
    session: Session,
    *,
    prepared: Sequence[Prepared],
    source: SourceRef,
    feed: FeedRef | None,
    run_id: str,
    now: datetime,
) -> tuple[int, int, int]:
    """Upsert the indicators and record the intelligence of one prepared batch in the
    caller's transaction; returns how many indicators were new, reported again, unchanged."""
    if not prepared:
        return 0, 0, 0
    connection = session.connection()
    form = StorageForm(connection)
    stored, ids = upsert_stored(
        connection, form, reports=[p.report for p in prepared], source=source.name, now=now
    )
    _record_intelligence(
        connection,
        form,
        prepared=prepared,
        ids=ids,
        fresh=stored.new,
        false_positive=stored.false_positive,
        source=source,
        feed=feed,
        run_id=run_id,
        now=now,
    )
    on_ingest(
        session,
        indicators=[p.indicator for p in prepared if p.report.suppressed_by is None],
        source=source.name,
        feed=feed.name if feed is not None else None,
        now=now,
    )
    changed = stored.new | stored.updated
    if changed:
        # An investigation's entity with this value joins the indicator in the graph, and a
        # new or rescored indicator is new evidence for the entities already linked to it.
        link_indicators(session, indicator_ids=[uuid.UUID(str(ids[s])) for s in changed])
    known = len(stored.updated) + len(stored.unchanged)
    return len(stored.new), known, len(stored.unchanged)


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
    """Normalise, check and store one batch of parsed rows in the caller's transaction."""
    now = now or utcnow()
    prepared = prepare_batch(
        rows,
        source=source,
        feed=feed,
        suppressor=suppressor,
        summary=summary,
        default_confidence=default_confidence,
        now=now,
    )
    summary.count(
        store_batch(session, prepared=prepared, source=source, feed=feed, run_id=run_id, now=now)
    )


# Statements below name only these constants; every value is a bound parameter (S608).
_RECORDS = ThreatIntelligence.__tablename__
_RECORD_COLUMNS = (
    "id",
    "indicator_id",
    "source_id",
    "feed_id",
    "raw_data",
    "processed_data",
    "status",
    "source_confidence",
    "ingested_at",
    "processed_at",
    "correlation_id",
)


def _known_records(
    connection: Connection,
    form: StorageForm,
    indicator_ids: list[str],
    source_id: str | None,
    feed_id: str | None,
) -> dict[str, tuple[str, str | None, str | None]]:
    """Each indicator's record from this source and feed: id, processed text, its last_seen."""
    if not indicator_ids:
        return {}
    if form.postgresql:
        sql = (
            "SELECT id::text, indicator_id::text, processed_data::text, "  # noqa: S608
            f"processed_data->>'last_seen' FROM {_RECORDS} "
            f"WHERE {form.in_list('indicator_id', '::uuid')} AND source_id = %s::uuid "
            "AND feed_id IS NOT DISTINCT FROM %s::uuid"
        )
    else:
        sql = (
            "SELECT id, indicator_id, processed_data, json_extract(processed_data, '$.last_seen') "  # noqa: S608
            # Unary plus: look up by indicator, not by source (which holds the whole feed).
            f"FROM {_RECORDS} WHERE {form.in_list('indicator_id')} AND +source_id = ? "
            "AND +feed_id IS ?"
        )
    rows = form.fetch(connection, sql, (form.id_list(indicator_ids), source_id, feed_id))
    return {indicator_id: (record_id, text, seen) for record_id, indicator_id, text, seen in rows}


def _record_intelligence(
    connection: Connection,
    form: StorageForm,
    *,
    prepared: Sequence[Prepared],
    ids: dict[str, str],
    fresh: set[str],
    false_positive: set[str],
    source: SourceRef,
    feed: FeedRef | None,
    run_id: str,
    now: datetime,
) -> None:
    latest: dict[str, Prepared] = {}
    for entry in prepared:
        latest[ids[entry.indicator.signature]] = entry
    source_id = form.uuid(source.id)
    feed_id = form.uuid(feed.id) if feed else None
    # An indicator this transaction created has no record yet: only known ones are looked up.
    known = _known_records(
        connection,
        form,
        [key for key, entry in latest.items() if entry.indicator.signature not in fresh],
        source_id,
        feed_id,
    )
    now_stored = form.time(now)
    seen_texts: dict[datetime, str] = {}
    seen_times: dict[str, datetime] = {}
    dumps = compact_json
    order = sorted(latest)
    new_ids = iter(form.new_ids(len(order) - len(known)))
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for indicator_id in order:
        entry = latest[indicator_id]
        report = entry.report
        processed = dict(entry.processed)
        seen_text = seen_texts.get(report.seen_at)
        if seen_text is None:
            seen_text = seen_texts[report.seen_at] = report.seen_at.isoformat()
        processed["last_seen"] = seen_text
        if report.suppressed_by:
            processed["suppressed_by"] = report.suppressed_by
            status = IntelligenceStatus.FALSE_POSITIVE.value
        elif entry.indicator.signature in false_positive:
            # What an analyst ruled a false positive stays one, whoever reports it next.
            processed["false_positive"] = "analyst"
            status = IntelligenceStatus.FALSE_POSITIVE.value
        else:
            status = IntelligenceStatus.PROCESSED.value
        previous = known.get(indicator_id)
        if previous is None:
            inserts.append(
                (
                    next(new_ids),
                    indicator_id,
                    source_id,
                    feed_id,
                    entry.raw_text,
                    dumps(processed),
                    status,
                    report.confidence,
                    now_stored,
                    now_stored,
                    run_id,
                )
            )
            continue
        record_id, before_text, seen_before = previous
        if seen_before is not None:
            before_time = seen_times.get(seen_before)
            if before_time is None:
                before_time = seen_times[seen_before] = datetime.fromisoformat(seen_before)
            if report.seen_at - before_time <= LAST_SEEN_GRAIN:
                processed["last_seen"] = seen_before
        text = dumps(processed)
        # Text we wrote compares as text; other spellings (PostgreSQL's jsonb) as documents.
        if text != before_text and (
            before_text is None or processed != (json.loads(before_text) or {})
        ):
            updates.append((text, now_stored, report.confidence, record_id))
    if inserts:
        if form.postgresql:
            form.copy(connection, _RECORDS, _RECORD_COLUMNS, inserts)
        else:
            marks = ", ".join("?" * len(_RECORD_COLUMNS))
            connection.exec_driver_sql(
                f"INSERT INTO {_RECORDS} ({', '.join(_RECORD_COLUMNS)}) VALUES ({marks})",  # noqa: S608
                inserts,
            )
    if updates:
        cast = ("::jsonb", "::uuid") if form.postgresql else ("", "")
        connection.exec_driver_sql(
            form.param(
                f"UPDATE {_RECORDS} SET processed_data = ?{cast[0]}, processed_at = ?, "  # noqa: S608
                f"source_confidence = ? WHERE id = ?{cast[1]}"
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


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector: a batch allocates many short-lived containers, and each
    full collection would walk every long-lived object (warninglists, the suffix list).
    Batch garbage holds no cycles, so reference counting frees it all the same."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    parallel_after: int | None = PARALLEL_AFTER,
) -> IngestSummary:
    """Ingest rows, committing every batch; returns what the run did.

    Once ``parallel_after`` rows are done (None: never), storing moves to a writer process
    (:mod:`krsn.feeds.writer`) so that it overlaps with preparing the next batch.
    """
    summary = IngestSummary()
    run_id = run_id or f"run-{uuid.uuid4()}"
    started = time.perf_counter()
    context: dict[str, Any] = {"source": source, "feed": feed, "run_id": run_id}
    writer: Writer | None = None
    done_rows = 0
    with _without_cycle_collection():
        try:
            for batch in _batches(rows, batch_size, summary):
                now = utcnow()
                prepared = prepare_batch(
                    batch,
                    source=source,
                    feed=feed,
                    suppressor=suppressor,
                    summary=summary,
                    default_confidence=default_confidence,
                    now=now,
                )
                if writer is None and _hand_over(database, parallel_after, summary.parsed):
                    writer = Writer(database, context=context)
                if writer is None:
                    with database.transaction() as session:
                        # Stamped inside the transaction (see krsn.indicators.ranges).
                        stamp = utcnow()
                        summary.count(store_batch(session, prepared=prepared, now=stamp, **context))
                    done_rows = summary.parsed
                    if on_progress:
                        on_progress(done_rows)
                    continue
                for counts, rows_done in writer.submit(prepared, summary.parsed):
                    summary.count(counts)
                    if on_progress:
                        on_progress(rows_done)
            if writer is not None:
                for counts, rows_done in writer.finish():
                    summary.count(counts)
                    if on_progress:
                        on_progress(rows_done)
                writer = None
        finally:
            if writer is not None:  # stopped early: the writer ends after its batch
                writer.close()
    summary.duration_s = time.perf_counter() - started
    return summary


def _hand_over(database: Database, parallel_after: int | None, parsed: int) -> bool:
    return parallel_after is not None and parsed > parallel_after and database.shareable
