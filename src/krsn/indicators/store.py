"""The indicator store: batched upserts of reported indicators, one row per canonical value.

Reports are merged by ``hash_signature`` (the deduplication key): the first batch that
sees a value inserts it, later reports merge their source, tags and malware family into
its metadata and recompute its score (see :mod:`krsn.indicators.scoring`). Nothing is
written for a report that changes nothing: ``last_seen_at`` only moves when it advances by
more than :data:`LAST_SEEN_GRAIN`, so re-ingesting a known feed costs reads, not writes.

Inserts use ``ON CONFLICT DO NOTHING`` on the unique signature, so two runs that report the
same new value at once never create two rows: the one that loses re-reads the winner's row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.indicators import scoring
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import Indicator, Kind

LAST_SEEN_GRAIN = timedelta(hours=1)


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
    meta.update(
        kind=item.indicator.kind.value,
        sources=sources,
        tags=tags,
        malware_families=families,
        score=scoring.explain(item.indicator.kind, sources, malware_families=families),
    )
    if item.suppressed_by or meta.get("suppressed_by"):
        meta["suppressed_by"] = meta.get("suppressed_by") or item.suppressed_by
    return meta


def _insert(session: Session) -> Any:
    # Core, not ORM: rows are plain dicts keyed by column name, no object per row.
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(ThreatIndicator.__table__).on_conflict_do_nothing()


def _existing(session: Session, signatures: list[str]) -> dict[str, Any]:
    rows = session.execute(
        select(
            ThreatIndicator.hash_signature,
            ThreatIndicator.id,
            ThreatIndicator.metadata_,
            ThreatIndicator.first_seen_at,
            ThreatIndicator.last_seen_at,
            ThreatIndicator.is_active,
        ).where(ThreatIndicator.hash_signature.in_(signatures))
    )
    return {row.hash_signature: row for row in rows}


def upsert_indicators(
    session: Session, *, reports: Sequence[Report], source: str, now: datetime | None = None
) -> UpsertResult:
    """Insert new indicators and merge reports into known ones, in a few statements."""
    now = now or utcnow()
    result = UpsertResult()
    merged = _merge_batch(reports)
    if not merged:
        return result
    existing = _existing(session, list(merged))
    fresh: list[dict[str, Any]] = []
    for signature, item in merged.items():
        if signature in existing:
            continue
        meta = _metadata(item, source, None)
        score = meta["score"]
        new_id = uuid.uuid4()
        result.ids[signature] = new_id
        fresh.append(
            {
                "id": new_id,
                "indicator_value": item.indicator.value,
                "indicator_type": item.indicator.kind.indicator_type,
                "severity": score["severity"],
                "confidence_score": score["confidence"],
                "threat_score": score["threat_score"],
                "metadata": meta,
                "first_seen_at": item.first_seen,
                "last_seen_at": item.seen_at,
                "created_at": now,
                "updated_at": now,
                "is_active": item.suppressed_by is None,
                "hash_signature": signature,
            }
        )
    if fresh:
        # One key order for every writer, so concurrent runs queue instead of deadlocking.
        fresh.sort(key=lambda row: row["hash_signature"])
        session.connection().execute(_insert(session), fresh)
        # A concurrent run may have inserted some of these first: read back who owns each,
        # and only the rows another run won need their full state.
        owned = session.execute(
            select(ThreatIndicator.hash_signature, ThreatIndicator.id).where(
                ThreatIndicator.hash_signature.in_([row["hash_signature"] for row in fresh])
            )
        )
        owners = {signature: owner for signature, owner in owned}
        lost = [
            row["hash_signature"] for row in fresh if owners[row["hash_signature"]] != row["id"]
        ]
        for row in fresh:
            if owners[row["hash_signature"]] == row["id"]:
                result.new.add(row["hash_signature"])
        if lost:
            existing.update(_existing(session, lost))
            for signature in lost:
                result.ids.pop(signature, None)

    changes: list[dict[str, Any]] = []
    for signature, row in existing.items():
        item = merged[signature]
        result.ids[signature] = row.id
        meta = _metadata(item, source, row.metadata_)
        first_seen = min(row.first_seen_at or item.first_seen, item.first_seen)
        last_seen = row.last_seen_at or item.seen_at
        advanced = item.seen_at - last_seen > LAST_SEEN_GRAIN
        active = meta.get("suppressed_by") is None
        if (
            meta == row.metadata_
            and first_seen == row.first_seen_at
            and not advanced
            and (active == row.is_active)
        ):
            result.unchanged.add(signature)
            continue
        score = meta["score"]
        result.updated.add(signature)
        changes.append(
            {
                "b_id": row.id,
                "b_metadata": meta,
                "b_first_seen_at": first_seen,
                "b_last_seen_at": item.seen_at if advanced else last_seen,
                "b_confidence_score": score["confidence"],
                "b_threat_score": score["threat_score"],
                "b_severity": score["severity"],
                "b_is_active": active,
                "b_updated_at": now,
            }
        )
    if changes:
        changes.sort(key=lambda row: row["b_id"])
        statement = (
            update(ThreatIndicator.__table__)  # type: ignore[arg-type]
            .where(ThreatIndicator.__table__.c.id == bindparam("b_id"))
            .values(
                metadata=bindparam("b_metadata"),
                first_seen_at=bindparam("b_first_seen_at"),
                last_seen_at=bindparam("b_last_seen_at"),
                confidence_score=bindparam("b_confidence_score"),
                threat_score=bindparam("b_threat_score"),
                severity=bindparam("b_severity"),
                is_active=bindparam("b_is_active"),
                updated_at=bindparam("b_updated_at"),
            )
        )
        session.connection().execute(statement, changes)
    return result


def kind_of(indicator: ThreatIndicator) -> Kind:
    """The fine-grained kind of a stored indicator (kept in its metadata)."""
    return Kind((indicator.metadata_ or {})["kind"])
