"""Sightings: observables the customer's environment saw, matched as they arrive.

A batch (what a SIEM or a log shipper posts: JSON or NDJSON) is read without a model object
per item, normalised (defanged forms included), matched against the active indicators (the
same value, or an IP inside a stored range: :func:`krsn.indicators.lookup.match_normalised`)
and the watchlists, and handed to detection (:mod:`krsn.detection.pipeline`), which raises
the alerts. Matched sightings are stored; misses are only counted. A bad item is reported
with its position and reason and never stops the rest of the batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from sqlalchemy import insert
from sqlalchemy.orm import Session

from krsn.detection.models import Sighting
from krsn.detection.observations import Firing, Observation, Origin
from krsn.detection.pipeline import detect
from krsn.detection.rules.engine import STATEFUL, active_rules, evaluate
from krsn.detection.watchlists.matching import attach_hits
from krsn.errors import Invalid
from krsn.indicators.lookup import LookupIndicator, match_normalised
from krsn.indicators.normalise import Indicator, Rejected, normalise
from krsn.routing import unstorable


def _unstorable(text: str) -> str | None:
    # NUL is the usual fault; only non-ASCII text can hold a lone surrogate, so most values
    # skip the regex (a batch holds thousands).
    if text.isascii() and "\x00" not in text:
        return None
    return unstorable(text)


MAX_SIGHTINGS: Final = 50_000
"""The most sightings one batch takes."""
MAX_REPORTED: Final = 1_000
"""The most hits and rejections an answer lists one by one (all are counted)."""
_TEXT_LIMIT: Final = 255
_VALUE_LIMIT: Final = 2048
_TIME_FIELDS: Final = ("observed_at", "seen_at", "timestamp", "time")
_EPOCH_MAX: Final = 253_402_300_799  # 9999-12-31T23:59:59Z


@dataclass(slots=True)
class SightingIn:
    """One observable seen once."""

    value: str
    observed_at: datetime | None = None
    host: str | None = None
    sensor: str | None = None
    log_source: str | None = None
    context: dict[str, Any] | None = None


@dataclass
class SightingReport:
    """What a batch did."""

    received: int = 0
    rejected: int = 0
    unreadable: int = 0
    matched: int = 0
    watchlist_hits: int = 0
    stored: int = 0
    alerts_created: int = 0
    alerts_updated: int = 0
    suppressed: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, index: int | None, value: Any, reason: str) -> None:
        """Note a refused item (``index`` None: an NDJSON line that is not JSON); the first
        ``MAX_REPORTED`` are listed, all are counted by the caller."""
        if len(self.problems) < MAX_REPORTED:
            shown = value if isinstance(value, str) else None
            self.problems.append({"index": index, "value": shown, "reason": reason})

    def add(self, other: SightingReport, *, offset: int = 0) -> None:
        """Add another batch's report, its item positions shifted by ``offset``."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for listed, extra in ((self.problems, other.problems), (self.hits, other.hits)):
            for entry in extra:
                if len(listed) < MAX_REPORTED:
                    index = entry["index"]
                    listed.append({**entry, "index": None if index is None else index + offset})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_COUNTS: Final = tuple(f.name for f in fields(SightingReport) if f.type == "int")


# --- reading a batch ------------------------------------------------------------------------


def _moment(given: Any) -> datetime:
    if isinstance(given, bool):
        raise ValueError("a time is an ISO 8601 text or seconds since the epoch")
    if isinstance(given, int | float):
        if not 0 <= given <= _EPOCH_MAX:
            raise ValueError("seconds since the epoch out of range")
        return datetime.fromtimestamp(given, tz=UTC)
    if isinstance(given, str):
        moment = datetime.fromisoformat(given)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    raise ValueError("a time is an ISO 8601 text or seconds since the epoch")


def _text(given: Any, name: str) -> str | None:
    if given is None:
        return None
    if type(given) is not str:
        raise ValueError(f"{name} must be text")
    if len(given) > _TEXT_LIMIT:
        raise ValueError(f"{name} is longer than {_TEXT_LIMIT} characters")
    reason = _unstorable(given)
    if reason:
        raise ValueError(f"{name} {reason}")
    return given or None


def read_item(item: Any, times: dict[Any, datetime] | None = None) -> SightingIn:
    """One sighting from its JSON form: an object with ``value`` (and optionally a time in
    ``observed_at`` / ``seen_at`` / ``timestamp`` / ``time``, ``host``, ``sensor``,
    ``log_source``, ``context``), or a bare value. ``ValueError`` says what is wrong.
    ``times`` memoises the times read (a batch repeats them)."""
    # Hot: called once per sighting, so written with few calls and type() checks.
    if type(item) is str:
        value: Any = item
        item = None
    elif type(item) is dict:
        value = item.get("value")
    else:
        raise ValueError("a sighting is an object with a value, or a value as text")
    if type(value) is not str or not value or value.isspace():
        raise ValueError("value is required and must be text")
    if len(value) > _VALUE_LIMIT:
        raise ValueError(f"value is longer than {_VALUE_LIMIT} characters")
    if not value.isascii() or "\x00" in value:
        reason = unstorable(value)
        if reason:
            raise ValueError(f"value {reason}")
    if item is None:
        return SightingIn(value)
    observed_at = None
    for name in _TIME_FIELDS:
        given = item.get(name)
        if given is not None:
            observed_at = times.get(given) if times is not None and type(given) is str else None
            if observed_at is None:
                try:
                    observed_at = _moment(given)
                except (ValueError, OverflowError, OSError) as exc:
                    raise ValueError(f"{name}: {exc}") from None
                if times is not None and type(given) is str:
                    times[given] = observed_at
            break
    context = item.get("context")
    if context is not None:
        if type(context) is not dict:
            raise ValueError("context must be an object")
        if context:
            text = orjson.dumps(context).decode()
            if len(text) > 16_384:
                raise ValueError("context is larger than 16 KiB")
            reason = _unstorable(text)
            if reason:
                raise ValueError(f"context {reason}")
        else:
            context = None
    return SightingIn(
        value,
        observed_at,
        _text(item.get("host"), "host"),
        _text(item.get("sensor"), "sensor"),
        _text(item.get("log_source"), "log_source"),
        context,
    )


def parse_batch(body: bytes, *, ndjson: bool) -> tuple[list[Any], list[tuple[int, str]]]:
    """The items of a posted batch, and (line, reason) of NDJSON lines that are not JSON.

    JSON: a list of sightings, or ``{"sightings": [...]}``. NDJSON: one sighting per line.
    """
    if not ndjson:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Invalid("body", f"not JSON: {exc}") from None
        if isinstance(document, dict) and isinstance(document.get("sightings"), list):
            document = document["sightings"]
        if not isinstance(document, list):
            raise Invalid(
                "body", 'send a JSON list of sightings or {"sightings": [...]}, or NDJSON'
            )
        return document, []
    items: list[Any] = []
    broken: list[tuple[int, str]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            broken.append((number, f"line {number} is not JSON: {exc}"))
    return items, broken


# --- matching -------------------------------------------------------------------------------


@dataclass
class MatchedBatch:
    """A batch read and matched (the read phase): what the write phase acts on."""

    observations: list[tuple[int, Observation]] = field(default_factory=list)
    """(position in the batch, observation) of every readable value."""
    firings: list[Firing] = field(default_factory=list)
    """What the rules that keep no state (pattern, ml) fired on."""
    stateful_rules: bool = False
    """Whether threshold or time-based rules are active: they count in the write phase."""

    @property
    def needs_writing(self) -> bool:
        """Whether the write phase has anything to do: a hit to store and alert on, a
        firing, or stateful rules to count with."""
        return (
            self.stateful_rules
            or bool(self.firings)
            or any(o.indicator is not None or o.watchlist_hits for _, o in self.observations)
        )


def match_batch(
    session: Session,
    *,
    items: Sequence[Any],
    now: datetime,
    report: SightingReport,
) -> MatchedBatch:
    """The read phase: read, normalise and match one batch against the indicators and the
    watchlists. It only reads, so on SQLite it runs beside other writers' batches instead of
    holding the write lock."""
    if len(items) > MAX_SIGHTINGS:
        raise Invalid("body", f"at most {MAX_SIGHTINGS} sightings per batch; split it")
    report.received += len(items)
    readings: dict[str, Indicator | Rejected] = {}
    times: dict[Any, datetime] = {}
    pending: list[tuple[int, SightingIn, Indicator]] = []
    for index, raw in enumerate(items):
        try:
            sighting = read_item(raw, times)
        except ValueError as exc:
            report.rejected += 1
            report.problem(index, raw.get("value") if isinstance(raw, dict) else raw, str(exc))
            continue
        reading = readings.get(sighting.value)
        if reading is None:
            reading = readings[sighting.value] = normalise(sighting.value)
        if type(reading) is Indicator:
            pending.append((index, sighting, reading))
        else:
            report.unreadable += 1
            report.problem(index, sighting.value, f"not an observable: {reading.reason}")  # type: ignore[union-attr]
    batch = MatchedBatch(stateful_rules=stateful_rules_armed(session))
    if not pending:
        return batch

    unique = {indicator.signature: indicator for _, _, indicator in pending}
    matches: dict[str, tuple[str, LookupIndicator]] = {}
    for hit in match_normalised(session, found=[(i.value, i) for i in unique.values()]):
        # The first hit of a value is the most specific: its own indicator, then the
        # narrowest… widest ranges in the order the range index gives.
        matches.setdefault(hit.value, (hit.matched, hit.indicator))
    observations = batch.observations
    for index, sighting, indicator in pending:
        match = matches.get(indicator.value)
        observations.append(
            (
                index,
                Observation(
                    origin=Origin.SIGHTING,
                    value=sighting.value,
                    kind=indicator.kind.value,
                    canonical=indicator.value,
                    observed_at=sighting.observed_at or now,
                    indicator=match[1] if match else None,
                    matched=match[0] if match else None,
                    host=sighting.host,
                    sensor=sighting.sensor,
                    log_source=sighting.log_source,
                    context=sighting.context or {},
                ),
            )
        )
    seen = [o for _, o in observations]
    attach_hits(session, seen, now=now)
    # Pattern and ml rules only read: they run here, outside the write lock.
    batch.firings = evaluate(session, seen, now=now, stateful=False)
    for index, observation in observations:
        report.watchlist_hits += len(observation.watchlist_hits)
        if observation.indicator is None:
            continue
        report.matched += 1
        if len(report.hits) < MAX_REPORTED:
            indicator_ = observation.indicator
            report.hits.append(
                {
                    "index": index,
                    "value": observation.value,
                    "matched": observation.matched,
                    "indicator_id": indicator_.id,
                    "indicator_type": indicator_.indicator_type.value,
                    "severity": indicator_.severity.value if indicator_.severity else None,
                    "threat_score": indicator_.decayed_threat_score,
                }
            )
    return batch


def act_on(
    session: Session,
    *,
    batch: MatchedBatch,
    reported_by: uuid.UUID | None,
    now: datetime,
    report: SightingReport,
) -> None:
    """The write phase: rules, alerts and the matched sightings, in the caller's
    transaction."""
    if not batch.observations:
        return
    outcome = detect(
        session,
        [o for _, o in batch.observations],
        now=now,
        attached=True,
        stateless_firings=batch.firings,
    )
    report.alerts_created += outcome.alerts_created
    report.alerts_updated += outcome.alerts_updated
    report.suppressed += outcome.suppressed
    report.stored += _store(
        session, (o for _, o in batch.observations), reported_by=reported_by, now=now
    )


def record_sightings(
    session: Session,
    *,
    items: Sequence[Any],
    reported_by: uuid.UUID | None,
    now: datetime,
    report: SightingReport | None = None,
) -> SightingReport:
    """Read, match and act on one batch of raw items (JSON values) in the caller's
    transaction: both phases at once. Item positions in problems are 0-based."""
    report = report or SightingReport()
    batch = match_batch(session, items=items, now=now, report=report)
    act_on(session, batch=batch, reported_by=reported_by, now=now, report=report)
    return report


def stateful_rules_armed(session: Session) -> bool:
    """Whether an active threshold or time-based rule counts sightings (from the engine's
    compiled rules, so a stored rule it cannot run never arms the write phase)."""
    return any(rule.rule_type in STATEFUL for rule in active_rules(session))


def _store(
    session: Session,
    observations: Iterable[Observation],
    *,
    reported_by: uuid.UUID | None,
    now: datetime,
) -> int:
    """Insert the sightings that matched an indicator or a watchlist item (one statement)."""
    rows = []
    for observation in observations:
        if observation.indicator is None and not observation.watchlist_hits:
            continue
        hit = observation.watchlist_hits[0] if observation.watchlist_hits else None
        rows.append(
            {
                "id": uuid.uuid4(),
                "indicator_id": uuid.UUID(observation.indicator.id)
                if observation.indicator
                else None,
                "watchlist_item_id": hit.item_id if hit else None,
                "value": observation.value,
                "matched": observation.matched or (hit.item_value if hit else None),
                "observed_at": observation.observed_at,
                "received_at": now,
                "host": observation.host,
                "sensor": observation.sensor,
                "log_source": observation.log_source,
                "context": observation.context or None,
                "reported_by": reported_by,
            }
        )
    if rows:
        session.execute(insert(Sighting), rows)
    return len(rows)
