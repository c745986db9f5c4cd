"""What a rule would have fired on past data: a replay that writes nothing.

The events of a period are read back in time order: each sighting (the ``sightings`` table,
with its indicator and watchlist item) as a sighting observation, and each record ingested
from a feed (``threat_intelligence``, with its indicator, source and feed) as an ingest
observation. They go through the rule compiled exactly as the engine compiles it, one at a
time, as if each had been evaluated when it happened; threshold and time-based state lives
in memory. Indicators are read as they are now (their tags, scores and confidence), their
threat score decayed to the time of each event, and ML rules read today's predictions.
"""

from __future__ import annotations

import heapq
import itertools
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.detection.models import CorrelationRule, RuleType, Sighting, Watchlist, WatchlistItem
from krsn.detection.observations import Firing, Observation, Origin, WatchlistHit
from krsn.detection.rules import engine
from krsn.detection.rules.engine import CompiledRule
from krsn.errors import Invalid
from krsn.feeds.models import ThreatFeed, ThreatIntelligence, ThreatSource
from krsn.indicators import scoring
from krsn.indicators.lookup import LookupIndicator
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import KIND_BY_VALUE, Indicator, normalise

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "DryRunReport",
    "KeyCount",
    "SampleFiring",
    "dry_run",
    "dry_run_rule",
    "parse_moment",
    "parse_period",
]

DEFAULT_LIMIT: Final = 100_000
"""The most events one dry run reads unless told otherwise."""
MAX_LIMIT: Final = 1_000_000
MAX_SAMPLES: Final = 100
TOP_KEYS: Final = 50
_CHUNK: Final = 500

Progress = Callable[[int, int], None]
"""Told (events read, events it will read) as the replay goes."""


@dataclass(frozen=True, slots=True)
class SampleFiring:
    """One firing of the replay, as an alert would show it."""

    key: str
    title: str
    severity: str
    origin: str
    value: str
    observed_at: datetime
    indicator_id: str | None
    indicator_value: str | None


@dataclass(frozen=True, slots=True)
class KeyCount:
    key: str
    count: int


@dataclass
class DryRunReport:
    """What a rule would have fired between ``since`` and ``until``."""

    rule_id: uuid.UUID | None
    rule_name: str
    rule_type: str
    since: datetime
    until: datetime
    events_total: int
    """Events in the period (sightings and ingested records)."""
    events_scanned: int
    sightings_scanned: int
    ingests_scanned: int
    firings: int
    distinct_keys: int
    capped: bool
    """Whether the period held more events than the limit: only the earliest were read."""
    scanned_until: datetime | None
    """The time of the last event read."""
    keys: list[KeyCount] = field(default_factory=list)
    """The keys that fired most, with how often (at most 50)."""
    samples: list[SampleFiring] = field(default_factory=list)
    """The first firings, in time order."""


# --- the period -----------------------------------------------------------------------------

_DURATION: Final = re.compile(r"(\d{1,6})\s*([smhdw])")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, *, now: datetime, field: str) -> datetime:
    """A time given as a duration back from ``now`` (``30m``, ``12h``, ``7d``, ``2w``) or as
    an ISO 8601 time (UTC unless it says)."""
    given = text.strip()
    found = _DURATION.fullmatch(given)
    try:
        if found:
            return now - timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
        moment = datetime.fromisoformat(given)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise Invalid(
            field, f"{text!r} is neither a duration such as 30m, 12h or 7d nor an ISO 8601 time"
        ) from None


def parse_period(
    since: str, until: str | None, *, now: datetime, prefix: str = ""
) -> tuple[datetime, datetime | None]:
    """The start and the end (None: now) of a period given as :func:`parse_moment` reads
    them; a fault names ``since`` or ``until`` after ``prefix`` (``--`` for the command
    line's options)."""
    start = parse_moment(since, now=now, field=f"{prefix}since")
    end = None if until is None else parse_moment(until, now=now, field=f"{prefix}until")
    return start, end


# --- running ------------------------------------------------------------------------------


def dry_run_rule(
    session: Session,
    rule: CorrelationRule,
    *,
    since: datetime,
    until: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    samples: int = 20,
    progress: Progress | None = None,
) -> DryRunReport:
    """What a saved rule (active or not) would have fired in the period."""
    return dry_run(
        session,
        rule_type=rule.rule_type,
        definition=rule.rule_definition,
        confidence_threshold=rule.confidence_threshold,
        time_window_minutes=rule.time_window_minutes,
        parameters=rule.parameters,
        name=rule.name,
        rule_id=rule.id,
        since=since,
        until=until,
        limit=limit,
        samples=samples,
        progress=progress,
    )


def dry_run(
    session: Session,
    *,
    rule_type: RuleType | str,
    definition: Any,
    confidence_threshold: float | Decimal | None = None,
    time_window_minutes: int | None = None,
    parameters: dict[str, Any] | None = None,
    name: str = "unsaved rule",
    rule_id: uuid.UUID | None = None,
    since: datetime,
    until: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    samples: int = 20,
    progress: Progress | None = None,
) -> DryRunReport:
    """Replay the period's events, earliest first and at most ``limit`` of them, through a
    rule (saved or not: it is checked as a save would check it), writing nothing."""
    rule = engine.compile_rule(
        rule_id=rule_id,
        name=name,
        rule_type=rule_type,
        definition=definition,
        confidence_threshold=confidence_threshold,
        time_window_minutes=time_window_minutes,
        parameters=parameters,
    )
    until = _utc(until) if until is not None else utcnow()
    since = _utc(since)
    if since >= until:
        raise Invalid("since", "must be before until")
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"must be from 1 to {MAX_LIMIT}")
    if not 0 <= samples <= MAX_SAMPLES:
        raise Invalid("samples", f"must be from 0 to {MAX_SAMPLES}")

    total = _count(session, _sightings_query(since, until)) + _count(
        session, _ingests_query(since, until)
    )
    planned = min(total, limit)
    report = DryRunReport(
        rule_id=rule_id,
        rule_name=name,
        rule_type=rule.rule_type.value,
        since=since,
        until=until,
        events_total=total,
        events_scanned=0,
        sightings_scanned=0,
        ingests_scanned=0,
        firings=0,
        distinct_keys=0,
        capped=total > limit,
        scanned_until=None,
    )
    if progress is not None:
        progress(0, planned)
    replay = engine.Replay([rule])
    keys: Counter[str] = Counter()
    events = heapq.merge(
        _sightings(session, since, until),
        _ingests(session, since, until),
        key=lambda o: o.observed_at,
    )
    while report.events_scanned < planned:
        chunk = list(itertools.islice(events, min(_CHUNK, planned - report.events_scanned)))
        if not chunk:
            break
        scores = _chunk_scores(session, rule, chunk)
        for observation in chunk:
            for firing in replay.step(observation, scores):
                report.firings += 1
                keys[firing.key] += 1
                if len(report.samples) < samples:
                    report.samples.append(_sample(firing))
            if observation.origin is Origin.SIGHTING:
                report.sightings_scanned += 1
            else:
                report.ingests_scanned += 1
        report.events_scanned += len(chunk)
        report.scanned_until = chunk[-1].observed_at
        if progress is not None:
            progress(report.events_scanned, planned)
    report.distinct_keys = len(keys)
    report.keys = [KeyCount(key, count) for key, count in keys.most_common(TOP_KEYS)]
    return report


def _chunk_scores(
    session: Session, rule: CompiledRule, chunk: Sequence[Observation]
) -> engine.Scores:
    """The scores of an ML rule for a chunk, read in one go, served one event at a time."""
    if rule.rule_type is not RuleType.ML:
        return lambda _rule, batch: [(None, "none")] * len(batch)
    admitted = [o for o in chunk if rule.admits(o)]
    found = dict(zip(map(id, admitted), engine.stored_scores(session, rule, admitted), strict=True))
    return lambda _rule, batch: [found.get(id(o), (None, "none")) for o in batch]


def _sample(firing: Firing) -> SampleFiring:
    observation = firing.observation
    indicator = observation.indicator
    return SampleFiring(
        key=firing.key,
        title=firing.title,
        severity=firing.severity.value,
        origin=observation.origin.value,
        value=observation.value,
        observed_at=observation.observed_at,
        indicator_id=None if indicator is None else indicator.id,
        indicator_value=None if indicator is None else indicator.indicator_value,
    )


# --- reading the past -----------------------------------------------------------------------

_INDICATOR_COLUMNS: Final = (
    ThreatIndicator.id.label("indicator_id"),
    ThreatIndicator.indicator_value,
    ThreatIndicator.indicator_type,
    ThreatIndicator.severity,
    ThreatIndicator.confidence_score,
    ThreatIndicator.threat_score,
    ThreatIndicator.first_seen_at,
    ThreatIndicator.last_seen_at,
    ThreatIndicator.metadata_.label("indicator_metadata"),
)


def _sightings_query(since: datetime, until: datetime) -> Select[Any]:
    return (
        select(
            Sighting.id,
            Sighting.observed_at.label("at"),
            Sighting.value,
            Sighting.matched,
            Sighting.host,
            Sighting.sensor,
            Sighting.log_source,
            Sighting.context,
            *_INDICATOR_COLUMNS,
            WatchlistItem.id.label("item_id"),
            WatchlistItem.watchlist_id,
            WatchlistItem.item_type,
            WatchlistItem.item_value,
            Watchlist.name.label("watchlist_name"),
            Watchlist.list_type,
        )
        .select_from(Sighting)
        .outerjoin(ThreatIndicator, ThreatIndicator.id == Sighting.indicator_id)
        .outerjoin(WatchlistItem, WatchlistItem.id == Sighting.watchlist_item_id)
        .outerjoin(Watchlist, Watchlist.id == WatchlistItem.watchlist_id)
        .where(Sighting.observed_at >= since, Sighting.observed_at < until)
    )


def _ingests_query(since: datetime, until: datetime) -> Select[Any]:
    return (
        select(
            ThreatIntelligence.id,
            ThreatIntelligence.ingested_at.label("at"),
            *_INDICATOR_COLUMNS,
            ThreatSource.name.label("source_name"),
            ThreatFeed.feed_name,
        )
        .select_from(ThreatIntelligence)
        .join(ThreatIndicator, ThreatIndicator.id == ThreatIntelligence.indicator_id)
        .outerjoin(ThreatSource, ThreatSource.id == ThreatIntelligence.source_id)
        .outerjoin(ThreatFeed, ThreatFeed.id == ThreatIntelligence.feed_id)
        .where(ThreatIntelligence.ingested_at >= since, ThreatIntelligence.ingested_at < until)
    )


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _pages(session: Session, query: Select[Any], at: Any, ident: Any) -> Iterator[Any]:
    """The rows of ``query`` in (time, id) order, a keyset page at a time: two streams are
    read side by side, so neither holds a cursor open on the connection."""
    last: tuple[datetime, Any] | None = None
    while True:
        page = query
        if last is not None:
            page = page.where(or_(at > last[0], and_(at == last[0], ident > last[1])))
        rows = session.execute(page.order_by(at, ident).limit(_CHUNK)).all()
        yield from rows
        if len(rows) < _CHUNK:
            return
        last = (rows[-1].at, rows[-1].id)


def _sightings(session: Session, since: datetime, until: datetime) -> Iterator[Observation]:
    for row in _pages(session, _sightings_query(since, until), Sighting.observed_at, Sighting.id):
        at = _utc(row.at)
        indicator = _indicator(row, at)
        reading = normalise(row.value)
        if isinstance(reading, Indicator):
            kind, canonical = reading.kind.value, reading.value
        else:
            kind = _kind_of(row.indicator_metadata) or "unknown"
            canonical = row.value
        hits = []
        if row.item_id is not None:
            hits.append(
                WatchlistHit(
                    item_id=row.item_id,
                    watchlist_id=row.watchlist_id,
                    watchlist_name=row.watchlist_name,
                    list_type=row.list_type,
                    item_type=row.item_type,
                    item_value=row.item_value,
                )
            )
        yield Observation(
            origin=Origin.SIGHTING,
            value=row.value,
            kind=kind,
            canonical=canonical,
            observed_at=at,
            indicator=indicator,
            matched=row.matched,
            host=row.host,
            sensor=row.sensor,
            log_source=row.log_source,
            context=row.context if isinstance(row.context, dict) else {},
            watchlist_hits=hits,
        )


def _ingests(session: Session, since: datetime, until: datetime) -> Iterator[Observation]:
    query = _ingests_query(since, until)
    for row in _pages(session, query, ThreatIntelligence.ingested_at, ThreatIntelligence.id):
        at = _utc(row.at)
        indicator = _indicator(row, at)
        assert indicator is not None
        yield Observation(
            origin=Origin.INGEST,
            value=row.indicator_value,
            kind=_kind_of(row.indicator_metadata) or "unknown",
            canonical=row.indicator_value,
            observed_at=at,
            indicator=indicator,
            matched=row.indicator_value,
            source=row.source_name,
            feed=row.feed_name,
        )


def _kind_of(metadata: Any) -> str | None:
    kind = metadata.get("kind") if isinstance(metadata, dict) else None
    return kind if isinstance(kind, str) else None


def _strings(items: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in items) if isinstance(items, list) else ()


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _indicator(row: Any, at: datetime) -> LookupIndicator | None:
    """The row's indicator as a lookup would have shown it at ``at``."""
    if row.indicator_id is None:
        return None
    metadata = row.indicator_metadata if isinstance(row.indicator_metadata, dict) else {}
    threat = _number(row.threat_score)
    last_seen = None if row.last_seen_at is None else _utc(row.last_seen_at)
    kind = KIND_BY_VALUE.get(_kind_of(metadata) or "")
    decayed = None
    if kind is not None and threat is not None and last_seen is not None:
        # Seen again after the event: at the event it was as fresh as could be.
        decayed = scoring.decayed_score(kind, threat, last_seen=min(last_seen, at), now=at)
    return LookupIndicator(
        id=str(row.indicator_id),
        indicator_value=row.indicator_value,
        indicator_type=row.indicator_type,
        severity=row.severity,
        confidence_score=_number(row.confidence_score),
        threat_score=threat,
        decayed_threat_score=decayed,
        first_seen_at=None if row.first_seen_at is None else _utc(row.first_seen_at),
        last_seen_at=last_seen,
        tags=_strings(metadata.get("tags")),
        malware_families=_strings(metadata.get("malware_families")),
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
