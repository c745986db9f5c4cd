"""Batch lookup: which observables are known active indicators, as the same value or as an
IP address inside a stored CIDR range.

This is a hot path (the lookup API, and sightings after it), so one batch costs one query:
every value is normalised (defanged input included), the addresses are matched against the
in-memory range index (:mod:`krsn.indicators.ranges`), and the signatures of the values and
of the candidate ranges go to the database as one parameter, straight through the driver.
Only active rows come back, which also drops a candidate range deactivated or deleted since
the index last read it. No ORM object is built: a hit carries a :class:`LookupIndicator`,
the few fields a caller needs to act on it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.errors import Invalid
from krsn.indicators import scoring
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator
from krsn.indicators.normalise import KIND_BY_VALUE, Indicator, Kind, Rejected, normalise
from krsn.indicators.ranges import ranges_of
from krsn.indicators.store import StorageForm

__all__ = ["MAX_LOOKUP", "LookupHit", "LookupIndicator", "lookup", "match_normalised"]

MAX_LOOKUP: Final = 10_000
"""The most observables one lookup takes."""

_TABLE: Final = ThreatIndicator.__tablename__
_TYPES: Final = {t.value: t for t in IndicatorType}
_SEVERITIES: Final = {s.value: s for s in Severity}
_ADDRESS_VERSION: Final = {Kind.IPV4: 4, Kind.IPV6: 6}


# Plain dataclasses: a frozen or slotted one costs twice as much to build, and orjson writes
# these from their __dict__ at the speed of dicts.
@dataclass
class LookupIndicator:
    """What a lookup tells about a matched indicator; the full record is one ``GET`` away."""

    id: str
    indicator_value: str
    indicator_type: IndicatorType
    severity: Severity | None
    confidence_score: float | None
    threat_score: float | None
    decayed_threat_score: float | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    tags: tuple[str, ...]
    malware_families: tuple[str, ...]


@dataclass
class LookupHit:
    """An observable that matched, and the indicator it matched."""

    value: str
    matched: str
    """The stored value that matched: the same value, or a CIDR range holding the IP."""
    indicator: LookupIndicator


def lookup(session: Session, *, values: Sequence[str]) -> tuple[list[LookupHit], list[str]]:
    """Which observables are known active indicators: exact values and IPs inside ranges.

    Returns the hits in the order of ``values`` (for an address, its own indicator first,
    then the ranges holding it, the widest first) and the values that could not be read as
    indicators. Call it before anything else reads in the session's transaction (see
    :meth:`krsn.indicators.ranges.RangeIndex.current`).
    """
    if len(values) > MAX_LOOKUP:
        raise Invalid("values", f"at most {MAX_LOOKUP} per request; split the batch")
    readings: dict[str, Indicator | Rejected] = {}
    found: list[tuple[str, Indicator]] = []
    unreadable: list[str] = []
    for value in values:
        # Clients repeat observables within a batch; each is normalised once.
        result = readings.get(value)
        if result is None:
            result = readings[value] = normalise(value)
        if type(result) is Indicator:
            found.append((value, result))
        else:
            unreadable.append(value)
    return match_normalised(session, found=found), unreadable


def match_normalised(
    session: Session, *, found: Sequence[tuple[str, Indicator]]
) -> list[LookupHit]:
    """The hits of values already normalised (``(value as given, its reading)`` pairs), in
    the order of ``found``: :func:`lookup` without the reading, for callers that read the
    values themselves (sightings)."""
    if not found:
        return []
    addresses: dict[str, tuple[str, int]] = {}
    for _, indicator in found:
        version = _ADDRESS_VERSION.get(indicator.kind)
        if version is not None:
            addresses[indicator.signature] = (indicator.value, version)
    connection = session.connection()
    form = StorageForm(connection)
    signatures = {indicator.signature for _, indicator in found}
    inside: dict[str, tuple[str, ...]] = {}
    if addresses:
        ranges = ranges_of(connection.engine).current(connection)
        if ranges.count:
            for signature, (address, version) in addresses.items():
                holding = ranges.holding(address, version)
                if holding:
                    inside[signature] = holding
                    signatures.update(holding)

    known = _active(connection, form, signatures)
    hits: list[LookupHit] = []
    add = hits.append
    for value, indicator in found:
        same = known.get(indicator.signature)
        if same is not None:
            add(LookupHit(value, same.indicator_value, same))
        for range_signature in inside.get(indicator.signature, ()):
            holder = known.get(range_signature)
            if holder is not None:
                add(LookupHit(value, holder.indicator_value, holder))
    return hits


def _active(
    connection: Connection, form: StorageForm, signatures: set[str]
) -> dict[str, LookupIndicator]:
    """The active indicators among these signatures, by signature."""
    # The kind (for the decayed score), tags and families come out of the metadata as one
    # JSON array: SQLite parses the document once per row, not once per field.
    if form.postgresql:
        columns = (
            "hash_signature, is_active, id::text, indicator_value, indicator_type, severity, "
            "confidence_score::float8, threat_score::float8, first_seen_at, last_seen_at, "
            "jsonb_build_array(metadata -> 'kind', metadata -> 'tags', "
            "metadata -> 'malware_families')"
        )
    else:
        columns = (
            "hash_signature, is_active, id, indicator_value, indicator_type, severity, "
            "confidence_score, threat_score, first_seen_at, last_seen_at, "
            "json_extract(metadata, '$.kind', '$.tags', '$.malware_families')"
        )
    # Inactive rows are dropped here rather than in SQL: given an is_active term, SQLite's
    # planner walks the is_active index instead of probing the unique signatures.
    sql = f"SELECT {columns} FROM {_TABLE} WHERE {form.in_list('hash_signature')}"  # noqa: S608
    rows = form.fetch(connection, sql, (form.id_list(signatures),))
    now = utcnow()
    read_time = form.read_time
    # Rows of one feed share their metadata's lists and their times: each is worked out once.
    extras: dict[str, tuple[Kind | None, tuple[str, ...], tuple[str, ...]]] = {}
    ages: dict[tuple[Any, ...], tuple[datetime | None, float | None]] = {}
    known: dict[str, LookupIndicator] = {}
    postgresql = form.postgresql
    for (
        signature,
        is_active,
        stored_id,
        value,
        stored_type,
        severity,
        confidence,
        threat,
        first_seen,
        last_seen,
        stored_extras,
    ) in rows:
        if not is_active:
            continue
        kind, tags, families = _extras(stored_extras, extras)
        age_key = (kind, threat, last_seen)
        aged = ages.get(age_key)
        if aged is None:
            aged = ages[age_key] = _aged(kind, threat, read_time(last_seen), now)
        known[signature] = LookupIndicator(
            id=stored_id if postgresql else _dashed(stored_id),
            indicator_value=value,
            indicator_type=_TYPES[stored_type],
            severity=None if severity is None else _SEVERITIES[severity],
            confidence_score=None if confidence is None else float(confidence),
            threat_score=None if threat is None else float(threat),
            decayed_threat_score=aged[1],
            first_seen_at=read_time(first_seen),
            last_seen_at=aged[0],
            tags=tags,
            malware_families=families,
        )
    return known


def _dashed(hex_id: str) -> str:
    """A UUID stored as 32 hex digits (SQLite) in its usual text form."""
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def _aged(
    kind: Kind | None, threat: Any, last_seen: datetime | None, now: datetime
) -> tuple[datetime | None, float | None]:
    """The last sighting and the threat score decayed to now (see the scoring model)."""
    if kind is None or threat is None or last_seen is None:
        return last_seen, None
    return last_seen, scoring.decayed_score(kind, float(threat), last_seen=last_seen, now=now)


def _extras(
    stored: Any, memo: dict[str, tuple[Kind | None, tuple[str, ...], tuple[str, ...]]]
) -> tuple[Kind | None, tuple[str, ...], tuple[str, ...]]:
    """(kind, tags, malware families) from ``[kind, tags, families]``: JSON text on SQLite
    (parsed once per distinct text), a list on PostgreSQL."""
    if not isinstance(stored, str):
        return _read_extras(stored)
    found = memo.get(stored)
    if found is None:
        found = memo[stored] = _read_extras(json.loads(stored))
    return found


def _read_extras(items: Any) -> tuple[Kind | None, tuple[str, ...], tuple[str, ...]]:
    kind, tags, families = items if isinstance(items, list) and len(items) == 3 else (None,) * 3
    return (
        KIND_BY_VALUE.get(kind) if isinstance(kind, str) else None,
        tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        tuple(str(f) for f in families) if isinstance(families, list) else (),
    )
