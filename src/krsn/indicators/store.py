"""The indicator store: batched upserts of reported indicators, one row per canonical value.

Reports are merged by ``hash_signature`` (the deduplication key): the first batch that
sees a value inserts it, later reports merge their source, tags and malware family into
its metadata and recompute its score (see :mod:`krsn.indicators.scoring`). Nothing is
written for a report that changes nothing: ``last_seen_at`` only moves when it advances by
more than :data:`LAST_SEEN_GRAIN`, so re-ingesting a known feed costs reads, not writes.

Inserts use ``ON CONFLICT DO NOTHING`` on the unique signature, so two runs that report the
same new value at once never create two rows: the one that loses re-reads the winner's row.

This is the ingestion hot path, so statements go straight to the driver with values already
in the engine's storage form (:class:`StorageForm`): one ``executemany`` on SQLite, ``COPY``
into a staging table and one ``INSERT … SELECT`` on PostgreSQL. Metadata is merged once per
distinct (stored document, report) pair in a batch, not once per row.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.indicators import scoring
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import Indicator, Kind
from krsn.osint.search.schema import INDICATORS, bulk_indexed

LAST_SEEN_GRAIN = timedelta(hours=1)

_standard_json = json.JSONEncoder(separators=(",", ":")).encode


def compact_json(document: Any) -> str:
    """A document as compact JSON text: every byte is written twice (log, then table) for a
    million rows, and encoding is a fifth of the Python time of storing a batch."""
    try:
        return orjson.dumps(document).decode()
    except TypeError:
        # What orjson refuses and the standard encoder writes: integers wider than 64 bits
        # and non-string keys, which feeds' raw rows may hold.
        return _standard_json(document)


@dataclass(slots=True)
class Report:
    """One source saying that an indicator is malicious."""

    indicator: Indicator
    seen_at: datetime
    confidence: float
    """The report's source confidence, 0–100 (see scoring.source_confidence)."""
    first_seen: datetime | None = None
    tags: tuple[str, ...] = ()
    malware_family: str | None = None
    suppressed_by: str | None = None
    """The warninglist that stops this value; stored inactive, with the reason."""


@dataclass
class UpsertResult:
    """Which signatures were new, which changed, which were already as reported."""

    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    new: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    unchanged: set[str] = field(default_factory=set)
    false_positive: set[str] = field(default_factory=set)
    """Known indicators an analyst marked false positive: reports never re-activate them."""


class StorageForm:
    """Values as one engine stores them, for statements sent straight to the driver.

    SQLite keeps UUIDs as 32 hex digits, timestamps as naive UTC text in SQLAlchemy's
    format (so text order is time order) and booleans as 0/1; PostgreSQL takes UUID text,
    aware datetimes and booleans. JSON is ``json.dumps`` text on both, as SQLAlchemy writes it.
    """

    __slots__ = ("_read", "_written", "postgresql", "sqlite")

    def __init__(self, connection: Connection) -> None:
        self.postgresql = connection.dialect.name == "postgresql"
        self.sqlite = not self.postgresql
        self._written: dict[datetime, Any] = {}
        self._read: dict[Any, datetime] = {}

    def param(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in this driver's placeholder style."""
        return sql.replace("?", "%s") if self.postgresql else sql

    def time(self, value: datetime) -> Any:
        """A timestamp as stored (feeds repeat theirs, so each is converted once)."""
        stored = self._written.get(value)
        if stored is None:
            if self.postgresql:
                stored = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            else:
                naive = value
                if naive.tzinfo is not None:
                    naive = naive.astimezone(UTC).replace(tzinfo=None)
                stored = naive.isoformat(" ", "microseconds")
            self._written[value] = stored
        return stored

    def read_time(self, stored: Any) -> datetime | None:
        """A stored timestamp back as an aware UTC datetime."""
        if stored is None:
            return None
        moment = self._read.get(stored)
        if moment is None:
            moment = stored if isinstance(stored, datetime) else datetime.fromisoformat(stored)
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
            self._read[stored] = moment
        return moment

    def uuid(self, value: uuid.UUID | None) -> str | None:
        """A UUID as stored."""
        if value is None:
            return None
        return str(value) if self.postgresql else value.hex

    def new_ids(self, count: int) -> list[str]:
        """``count`` new UUIDs (version 7: time-ordered, so inserts append to the key index)."""
        millis = time.time_ns() // 1_000_000
        head = (millis << 80) | (0x7 << 76) | (int.from_bytes(os.urandom(2)) & 0xFFF) << 64
        start = int.from_bytes(os.urandom(8)) & ((1 << 61) - 1)
        variant = 0b10 << 62
        ids = [f"{head | variant | (start + i):032x}" for i in range(count)]
        if self.postgresql:
            ids = [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in ids]
        return ids

    def id_list(self, ids: Iterable[str]) -> Any:
        """A list of keys as one parameter (a JSON array on SQLite, an array on PostgreSQL)."""
        return list(ids) if self.postgresql else json.dumps(list(ids))

    def in_list(self, column: str, cast: str = "") -> str:
        """``column`` is one of the list passed as :meth:`id_list`."""
        if self.postgresql:
            return f"{column} = ANY(%s{cast}[])" if cast else f"{column} = ANY(%s)"
        return f"{column} IN (SELECT value FROM json_each(?))"  # noqa: S608

    def fetch(self, connection: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows of a query as the driver returns them (plain tuples, no result processing)."""
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def copy(
        self,
        connection: Connection,
        table: str,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
    ) -> None:
        """``COPY`` rows into a PostgreSQL table in the connection's transaction."""
        driver = connection.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)


@dataclass(slots=True)
class _Merged:
    indicator: Indicator
    seen_at: datetime
    first_seen: datetime
    confidence: float
    tags: set[str]
    families: set[str]
    suppressed_by: str | None


def _merge_batch(reports: Sequence[Report]) -> dict[str, _Merged]:
    merged: dict[str, _Merged] = {}
    for report in reports:
        key = report.indicator.signature
        first = report.first_seen or report.seen_at
        current = merged.get(key)
        if current is None:
            merged[key] = _Merged(
                report.indicator,
                report.seen_at,
                min(first, report.seen_at),
                report.confidence,
                set(report.tags),
                {report.malware_family} if report.malware_family else set(),
                report.suppressed_by,
            )
            continue
        current.seen_at = max(current.seen_at, report.seen_at)
        current.first_seen = min(current.first_seen, first)
        current.confidence = max(current.confidence, report.confidence)
        current.tags.update(report.tags)
        if report.malware_family:
            current.families.add(report.malware_family)
        current.suppressed_by = current.suppressed_by or report.suppressed_by
    return merged


def _metadata(item: _Merged, source: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    meta: dict[str, Any] = dict(previous or {})
    sources = dict(meta.get("sources") or {})
    sources[source] = item.confidence
    tags = sorted(set(meta.get("tags") or ()) | item.tags)
    families = sorted(set(meta.get("malware_families") or ()) | item.families)
    # An analyst's edits (metadata.analyst) outlive every report: tags stay in ``tags``
    # (which only grows), an overridden confidence keeps replacing the sources' one.
    analyst = meta.get("analyst") or {}
    meta.update(
        kind=item.indicator.kind.value,
        sources=sources,
        tags=tags,
        malware_families=families,
        score=scoring.explain(
            item.indicator.kind,
            sources,
            malware_families=families,
            confidence_override=analyst.get("confidence_override"),
        ),
    )
    if item.suppressed_by or meta.get("suppressed_by"):
        meta["suppressed_by"] = meta.get("suppressed_by") or item.suppressed_by
    return meta


@dataclass(frozen=True, slots=True)
class _Merge:
    """A merged metadata document in storage form, and whether it equals the stored one."""

    same: bool
    text: str
    severity: str
    confidence: float
    threat_score: float
    active: bool
    false_positive: bool


class _Merger:
    """Metadata merges memoised per batch: feeds repeat the same tags, family and source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.memo: dict[tuple[Any, ...], _Merge] = {}

    def __call__(self, item: _Merged, stored: str | None, *, new: bool) -> _Merge:
        key = (
            new,
            stored,
            item.indicator.kind,
            item.confidence,
            frozenset(item.tags),
            frozenset(item.families),
            item.suppressed_by,
        )
        merge = self.memo.get(key)
        if merge is None:
            previous = None if new or stored is None else json.loads(stored)
            meta = _metadata(item, self.source, previous)
            score = meta["score"]
            false_positive = bool((meta.get("analyst") or {}).get("false_positive"))
            merge = self.memo[key] = _Merge(
                same=not new and meta == previous,
                text=compact_json(meta),
                severity=score["severity"],
                confidence=score["confidence"],
                threat_score=score["threat_score"],
                # A report never re-activates what an analyst marked a false positive.
                active=meta.get("suppressed_by") is None and not false_positive,
                false_positive=false_positive,
            )
        return merge


# Statements below name only these constants; every value is a bound parameter (S608).
_TABLE = ThreatIndicator.__tablename__
INSERT_COLUMNS = (
    "id",
    "indicator_value",
    "indicator_type",
    "severity",
    "confidence_score",
    "threat_score",
    "metadata",
    "first_seen_at",
    "last_seen_at",
    "created_at",
    "updated_at",
    "is_active",
    "hash_signature",
)
_STAGE = "krsn_stage_threat_indicators"


def _known(connection: Connection, form: StorageForm, signatures: list[str]) -> list[Any]:
    meta = "metadata::text" if form.postgresql else "metadata"
    ident = "id::text" if form.postgresql else "id"
    sql = (
        f"SELECT hash_signature, {ident}, {meta}, first_seen_at, last_seen_at, is_active "  # noqa: S608
        f"FROM {_TABLE} WHERE {form.in_list('hash_signature')}"
    )
    return form.fetch(connection, sql, (form.id_list(signatures),))


def _insert(connection: Connection, form: StorageForm, rows: list[tuple[Any, ...]]) -> set[str]:
    """Insert rows (sorted by signature) unless their value exists; the signatures inserted."""
    columns = ", ".join(INSERT_COLUMNS)
    if form.sqlite:
        marks = ", ".join("?" * len(INSERT_COLUMNS))
        sql = f"INSERT INTO {_TABLE} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
        with bulk_indexed(connection, INDICATORS):
            done = connection.exec_driver_sql(sql, rows)
        if done.rowcount == len(rows):
            return {row[-1] for row in rows}
        # Some were there already: ask who owns each signature.
        owners = dict(
            form.fetch(
                connection,
                f"SELECT hash_signature, id FROM {_TABLE} WHERE {form.in_list('hash_signature')}",  # noqa: S608
                (form.id_list(row[-1] for row in rows),),
            )
        )
        return {row[-1] for row in rows if owners.get(row[-1]) == row[0]}
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
        f"(LIKE {_TABLE} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    connection.exec_driver_sql(f"TRUNCATE {_STAGE}")
    form.copy(connection, _STAGE, INSERT_COLUMNS, rows)
    # One key order for every writer, so concurrent runs queue instead of deadlocking.
    inserted = connection.exec_driver_sql(
        f"INSERT INTO {_TABLE} ({columns}) SELECT {columns} FROM {_STAGE} "  # noqa: S608
        "ORDER BY hash_signature ON CONFLICT DO NOTHING RETURNING hash_signature"
    )
    return {signature for (signature,) in inserted}


def upsert_stored(
    connection: Connection,
    form: StorageForm,
    *,
    reports: Sequence[Report],
    source: str,
    now: datetime,
) -> tuple[UpsertResult, dict[str, str]]:
    """:func:`upsert_indicators` on a connection, with the ids in storage form.

    The ingestion pipeline's entry: ``result.ids`` is left empty and the second value maps
    each signature to its id as :class:`StorageForm` writes it.
    """
    result = UpsertResult()
    stored_ids: dict[str, str] = {}
    merged = _merge_batch(reports)
    if not merged:
        return result, stored_ids
    merge = _Merger(source)
    to_time = form.time
    now_stored = to_time(now)
    existing = {row[0]: row for row in _known(connection, form, list(merged))}
    fresh: list[tuple[Any, ...]] = []
    pending = [signature for signature in merged if signature not in existing]
    pending.sort()
    for signature, new_id in zip(pending, form.new_ids(len(pending)), strict=True):
        item = merged[signature]
        merged_meta = merge(item, None, new=True)
        fresh.append(
            (
                new_id,
                item.indicator.value,
                item.indicator.kind.indicator_type.value,
                merged_meta.severity,
                merged_meta.confidence,
                merged_meta.threat_score,
                merged_meta.text,
                to_time(item.first_seen),
                to_time(item.seen_at),
                now_stored,
                now_stored,
                item.suppressed_by is None,
                signature,
            )
        )
    if fresh:
        won = _insert(connection, form, fresh)
        lost = []
        for row in fresh:
            if row[-1] in won:
                stored_ids[row[-1]] = row[0]
                result.new.add(row[-1])
            else:
                lost.append(row[-1])
        if lost:
            # A concurrent run inserted these first: merge into the winner's rows.
            existing.update((row[0], row) for row in _known(connection, form, lost))

    changes: list[tuple[Any, ...]] = []
    read_time = form.read_time
    for signature, stored_id, stored_meta, first_at, last_at, active_at in existing.values():
        item = merged[signature]
        stored_ids[signature] = stored_id
        merged_meta = merge(item, stored_meta, new=False)
        if merged_meta.false_positive:
            result.false_positive.add(signature)
        stored_first = read_time(first_at)
        first_seen = min(stored_first or item.first_seen, item.first_seen)
        last_seen = read_time(last_at) or item.seen_at
        advanced = item.seen_at - last_seen > LAST_SEEN_GRAIN
        if (
            merged_meta.same
            and first_seen == stored_first
            and not advanced
            and merged_meta.active == bool(active_at)
        ):
            result.unchanged.add(signature)
            continue
        result.updated.add(signature)
        changes.append(
            (
                merged_meta.text,
                to_time(first_seen),
                to_time(item.seen_at if advanced else last_seen),
                merged_meta.confidence,
                merged_meta.threat_score,
                merged_meta.severity,
                merged_meta.active,
                now_stored,
                stored_id,
            )
        )
    if changes:
        changes.sort(key=lambda row: row[-1])
        cast = ("::jsonb", "::uuid") if form.postgresql else ("", "")
        connection.exec_driver_sql(
            form.param(
                f"UPDATE {_TABLE} SET metadata = ?{cast[0]}, first_seen_at = ?, "  # noqa: S608
                "last_seen_at = ?, confidence_score = ?, threat_score = ?, severity = ?, "
                f"is_active = ?, updated_at = ? WHERE id = ?{cast[1]}"
            ),
            changes,
        )
    return result, stored_ids


def upsert_indicators(
    session: Session, *, reports: Sequence[Report], source: str, now: datetime | None = None
) -> UpsertResult:
    """Insert new indicators and merge reports into known ones, in a few statements."""
    connection = session.connection()
    result, stored_ids = upsert_stored(
        connection, StorageForm(connection), reports=reports, source=source, now=now or utcnow()
    )
    result.ids = {signature: uuid.UUID(stored) for signature, stored in stored_ids.items()}
    return result


def kind_of(indicator: ThreatIndicator) -> Kind:
    """The fine-grained kind of a stored indicator (kept in its metadata)."""
    return Kind((indicator.metadata_ or {})["kind"])
