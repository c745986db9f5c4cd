"""Threat correlations found in what the store already holds.

:func:`discover` links pairs of active indicators and keeps each pair once per type in
``threat_correlations``, with a score (0–100) and its evidence (``correlation_data``):

``ip_domain`` and ``hash_ip``
    A domain and an IP address (the domain is the primary indicator), or a file hash and an
    IP address (the hash is the primary), that the stored intelligence puts together. What
    the stored data proves, strongest first:

    - ``record``: one reported record names both. The same MISP attribute (``domain|ip``:
      ``processed_data.extra.attribute_uuid``); the same STIX object (an indicator whose
      pattern names both, an observed-data holding both: ``extra.stix_id``); or records one
      run wrote from one raw record (same source and ``correlation_id``, equal
      ``raw_data``: a JSON record listing several values).
    - ``dns``: a DNS resolution in ``enrichment_data`` names the other (:func:`resolutions`
      lists the shapes read), or a STIX ``domain-name``'s ``resolves_to_refs`` names an
      address the same source reported.
    - ``object``: the same MISP object (a ``domain-ip`` or ``file`` object): the same event and
      the raw attribute's ``object_id``, used only when that raw attribute came from the
      same event (its ``event_id`` is the event's).
    - ``report``: a threat report references both (``indicators_referenced``, where a STIX
      report's ``object_refs`` land).
    - ``event``: the same MISP event (``extra.event_uuid``) from the same source.

    A record, object, event or report holding more than ``max_group`` (200) indicators is
    skipped.

    A source keeps one record per indicator (and feed) holding its latest report, so an
    indicator two events of one source name counts in the latest. A STIX bundle is only a
    transport, not evidence: the reports in it are.

``temporal``
    Two indicators one source reported, first seen (``threat_indicators.first_seen_at``)
    within ``window`` (5 minutes) of each other. A run reporting thousands at once proves
    nothing, nor does a source dense enough for coincidences: an indicator with more than
    ``max_neighbours`` (5) others of the same source in its window pairs with none, and each
    such burst is reported as skipped.

``behavioral``
    A shared malware family (``metadata.malware_families``), campaign
    (``campaign_indicators``), threat actor (``actor_indicators``) or distinctive tag
    (``metadata.tags``). A value more than ``max_shared`` (50) indicators share is no evidence
    and is skipped (and reported). Tags describing the report rather than the threat
    (:data:`NOT_BEHAVIOURAL`) are ignored, and so are the MISP galaxy tags that the family or
    the actor link already carry.

Every group larger than its cap is skipped and reported, never paired: the work is linear
in the indicators plus the pairs kept, each group giving at most ``cap²/2`` pairs. A piece
of evidence weaker than ``min_strength`` (0.1) is not used either: by the formulas below a
tag shared by more than 19 indicators, or a family by more than 29, is a coincidence.

Scores. Each piece of evidence has a strength ``s`` in [0, 1], written beside it. A source
counts once, at its strongest piece (it keeps one record per indicator, so its pieces are
one report seen at several depths); each report, DNS row and shared value counts on its own.
The score is ``100 × (1 − Π(1 − s))`` over what counts. With ``ρ = 0.7 + 0.3·r`` (``r``
the source's reliability / 100, the enrichment's confidence for DNS, 0.5 when unknown),
``σ(n) = 0.5 + 0.5·min(1, 10/n)`` for a group of ``n`` indicators and
``ν(n) = 1 − ln n / ln(max_shared + 1)`` for a value ``n`` indicators share:

- record 0.95·ρ, dns 0.90·ρ, object 0.85·ρ, report 0.65·σ(n)·ρ (``r`` unknown), event
  0.60·σ(n)·ρ;
- temporal (0.2 + 0.2·c + 0.1·q)·ρ, ``c = 1 − Δt/window``, ``q = 1 − (k − 1)/max_neighbours``
  with ``k`` the larger neighbour count of the two: at most 0.5, a coincidence in time is
  weak evidence on its own;
- malware family 0.70·ν, tag 0.40·ν, campaign 0.85·max(0.5, ν), actor 0.75·max(0.5, ν)
  (campaigns and actors are curated links, never worth less than half).

Scope. With ``indicator_ids`` (one feed run or import) or ``since`` (indicators changed,
reported, enriched or linked since then) only pairs that involve one of those indicators
are written, and all their evidence is read, so a score never drops because part of it was
out of view: the seeds' events and STIX objects whole (one pass over the records of their
source), and the records and DNS data of their known partners. With neither, everything
is read. A re-discovery updates the
score and evidence of a known pair (an upsert on the pair and type) and never touches
``is_verified`` or ``analyst_notes``; a pair whose evidence is gone is left as it was.
Indicators that are inactive (expired, false positives, stopped by a warninglist) and
records marked false positive are never evidence.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import orjson
from sqlalchemy import (
    ColumnElement,
    Text,
    Uuid,
    any_,
    bindparam,
    cast,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.types import ARRAY

from krsn.detection.models import CorrelationType, ThreatCorrelation
from krsn.enrichment.models import EnrichmentData
from krsn.feeds.formats.misp_format import MALWARE_GALAXIES
from krsn.feeds.models import IntelligenceStatus, ThreatIntelligence, ThreatSource
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.normalise import Indicator, normalise
from krsn.sharing.misp.galaxy import ActorRef, read_tag
from krsn.sharing.models import (
    ActorIndicator,
    CampaignIndicator,
    ThreatActor,
    ThreatCampaign,
    ThreatReport,
)

log = logging.getLogger(__name__)

WINDOW: Final = timedelta(minutes=5)
"""Default temporal window: first seen this close together."""
MAX_GROUP: Final = 200
"""Most indicators a record, object, event or report may hold to be paired."""
MAX_SHARED: Final = 50
"""Most indicators that may share a family, tag, campaign or actor for it to be evidence."""
MAX_NEIGHBOURS: Final = 5
"""Most others of its source an indicator may have in its window to pair in time."""
MIN_STRENGTH: Final = 0.1
"""Weaker evidence than this is not used: a value shared widely enough to be a coincidence."""
MAX_SKIPPED_LISTED: Final = 50
"""Skipped groups listed in a report (all are counted)."""

NOT_BEHAVIOURAL: Final = (
    "tlp:",
    "pap:",
    "workflow:",
    "osint:",
    "admiralty-scale:",
    "estimative-language:",
    "misp:",
)
"""Tag prefixes that describe a report's handling or provenance, not the threat."""

STAGES: Final = ("scope", "records", "dns", "temporal", "behavioral", "storing")
"""The stages :func:`discover` reports to ``on_stage`` as each ends, in order."""

_CHUNK: Final = 5000
_INTERVALS_PER_QUERY: Final = 200
_MAX_RESOLUTIONS: Final = 1000
_UNKNOWN_RELIABILITY: Final = 0.5
_WEIGHTS: Final = {"malware_family": 0.70, "tag": 0.40, "campaign": 0.85, "actor": 0.75}

_T = ThreatIntelligence
_I = ThreatIndicator


@dataclass(frozen=True)
class Limits:
    """The window and the caps that keep discovery linear; see the module's docstring."""

    window: timedelta = WINDOW
    max_group: int = MAX_GROUP
    max_shared: int = MAX_SHARED
    max_neighbours: int = MAX_NEIGHBOURS
    min_strength: float = MIN_STRENGTH


@dataclass(frozen=True)
class SkippedGroup:
    """A group too large to pair: what kind, which one, how many indicators."""

    correlation_type: str
    kind: str
    key: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "correlation_type": self.correlation_type,
            "kind": self.kind,
            "key": self.key,
            "size": self.size,
        }


def _per_type() -> dict[str, int]:
    return {t.value: 0 for t in CorrelationType}


@dataclass
class DiscoveryReport:
    """What one discovery did: pairs found, created, updated and left unchanged per type,
    and the groups it skipped as too large."""

    scope: str
    """``all``, ``since`` or ``indicators``."""
    since: datetime | None = None
    indicators: int | None = None
    """Indicators in scope (None for a full run)."""
    found: dict[str, int] = field(default_factory=_per_type)
    created: dict[str, int] = field(default_factory=_per_type)
    updated: dict[str, int] = field(default_factory=_per_type)
    unchanged: dict[str, int] = field(default_factory=_per_type)
    skipped: list[SkippedGroup] = field(default_factory=list)
    skipped_total: int = 0
    weak: int = 0
    """Shared values under the cap whose evidence is below ``min_strength``: not used."""
    duration_s: float = 0.0

    def skip(self, group: SkippedGroup) -> None:
        self.skipped_total += 1
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append(group)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "since": self.since.isoformat() if self.since else None,
            "indicators": self.indicators,
            "found": dict(self.found),
            "created": dict(self.created),
            "updated": dict(self.updated),
            "unchanged": dict(self.unchanged),
            "skipped": [g.as_dict() for g in self.skipped],
            "skipped_total": self.skipped_total,
            "weak": self.weak,
            "duration_s": round(self.duration_s, 3),
        }


# --- small pieces -----------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    found = str(value).strip()
    return found or None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _reliability_factor(r: float | None) -> float:
    return 0.7 + 0.3 * (_UNKNOWN_RELIABILITY if r is None else min(1.0, max(0.0, r)))


def _size_factor(n: int) -> float:
    return 0.5 + 0.5 * min(1.0, 10 / max(n, 1))


def _rarity(n: int, cap: int) -> float:
    return max(0.0, 1 - math.log(max(n, 1)) / math.log(cap + 1))


def _strength(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 4)


def score_of(strengths: Iterable[float]) -> float:
    """``100 × (1 − Π(1 − s))``: independent pieces of evidence, rounded to 2 decimals."""
    missing = 1.0
    for strength in strengths:
        missing *= 1 - min(1.0, max(0.0, strength))
    return round(100 * (1 - missing), 2)


def _among(dialect: str, expression: Any, values: Collection[str]) -> Any:
    """``expression`` is one of ``values``, sent as one parameter whatever their number."""
    if dialect == "postgresql":
        # A semi-join on the unnested list: ``= ANY(array)`` compares each row with every
        # value in turn, which a scan of a large source cannot afford.
        return expression.in_(select(func.unnest(bindparam(None, list(values), type_=ARRAY(Text)))))
    listed = func.json_each(bindparam(None, json.dumps(list(values)))).table_valued("value")
    return expression.in_(select(listed.c.value))


def _ids_among(dialect: str, column: Any, ids: Collection[uuid.UUID]) -> Any:
    """``column`` is one of ``ids``, sent as one parameter: thousands of bound values cost
    more to send and parse than the lookup itself."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Uuid)))
    listed = func.json_each(bindparam(None, json.dumps([i.hex for i in ids]))).table_valued("value")
    return column.in_(select(listed.c.value))


def _ids_outside(dialect: str, column: Any, ids: Collection[uuid.UUID]) -> Any:
    """``column`` is none of ``ids`` (one parameter; a hashed lookup on both engines)."""
    if dialect == "postgresql":
        return column.not_in(select(func.unnest(bindparam(None, list(ids), type_=ARRAY(Uuid)))))
    listed = func.json_each(bindparam(None, json.dumps([i.hex for i in ids]))).table_valued("value")
    return column.not_in(select(listed.c.value))


def behavioural_tag(tag: str) -> bool:
    """Whether a tag may be behavioural evidence: not a handling or provenance marking, not a
    malware or actor galaxy tag (the family and the actor link carry those)."""
    lowered = tag.strip().lower()
    if not lowered or lowered.startswith(NOT_BEHAVIOURAL):
        return False
    if MALWARE_GALAXIES.match(tag.strip()):
        return False
    return not isinstance(read_tag(tag), ActorRef)


_DOMAIN_KEYS: Final = ("A", "AAAA", "a", "aaaa", "a_records", "aaaa_records", "ips", "resolved_ips")
_IP_KEYS: Final = ("PTR", "ptr", "ptr_records", "hostnames", "domains")
_RESOLUTION_LISTS: Final = ("resolutions", "passive_dns", "pdns")
_TO_IP_FIELDS: Final = ("ip_address", "ip", "address", "a", "value")
_TO_NAME_FIELDS: Final = ("hostname", "domain", "host", "name", "value")


def resolutions(data: Any, target: IndicatorType) -> list[str]:
    """The addresses a domain's DNS data resolves to, or the names an address's points at.

    Read from an ``enrichment_data`` document, at the top or under ``dns``: lists ``A``,
    ``AAAA``, ``a_records``, ``aaaa_records``, ``ips``, ``resolved_ips`` (a domain's) or
    ``PTR``, ``ptr_records``, ``hostnames``, ``domains`` (an address's), and passive-DNS lists
    ``resolutions``, ``passive_dns``, ``pdns`` of strings or of objects naming
    ``ip_address`` / ``ip`` / ``address`` (a domain's) or ``hostname`` / ``domain`` /
    ``host`` (an address's). Values are returned as given; at most 1,000.
    """
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    keys = _DOMAIN_KEYS if target is IndicatorType.DOMAIN else _IP_KEYS
    fields = _TO_IP_FIELDS if target is IndicatorType.DOMAIN else _TO_NAME_FIELDS
    holders = [data]
    if isinstance(data.get("dns"), dict):
        holders.append(data["dns"])
    for holder in holders:
        for key in (*keys, *_RESOLUTION_LISTS):
            listed = holder.get(key)
            if isinstance(listed, str):
                listed = [listed]
            for item in listed if isinstance(listed, list) else ():
                if isinstance(item, str):
                    found.append(item)
                elif isinstance(item, dict):
                    value = next((item[f] for f in fields if isinstance(item.get(f), str)), None)
                    if value is not None:
                        found.append(value)
    return found[:_MAX_RESOLUTIONS]


# --- the run --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Record:
    id: uuid.UUID
    indicator_id: uuid.UUID
    source_id: uuid.UUID | None
    run_id: str | None
    event_uuid: str | None
    event_id: str | None
    attribute_uuid: str | None
    stix_id: str | None
    object_name: str | None
    raw_object_id: str | None
    raw_event_id: str | None
    resolves_to: list[str]
    """A STIX ``domain-name``'s ``resolves_to_refs``: the addresses it resolved to."""


@dataclass(slots=True)
class _Group:
    """Indicators one piece of evidence puts together (record id of each, when a record)."""

    kind: str
    key: str
    source_id: uuid.UUID | None
    members: dict[uuid.UUID, str | None]
    details: dict[str, Any]


Evidence = tuple[str, dict[str, Any]]
"""A piece of evidence for a pair: the origin it counts under, and what the pair stores."""


class _Discovery:
    """One discovery run: its scope, what it has read, and the pairs found with their evidence."""

    def __init__(
        self,
        session: Session,
        *,
        seeds: set[uuid.UUID] | None,
        limits: Limits,
        report: DiscoveryReport,
    ) -> None:
        self.session = session
        bind = session.get_bind()
        self.dialect = bind.dialect.name
        self.seeds = seeds
        self.limits = limits
        self.report = report
        self.types: dict[uuid.UUID, IndicatorType] = {}
        self.partners: set[uuid.UUID] | None = None
        self.pairs: dict[tuple[CorrelationType, uuid.UUID, uuid.UUID], list[Evidence]] = (
            defaultdict(list)
        )
        self.sources: dict[uuid.UUID | None, tuple[str | None, float | None]] = {None: (None, None)}
        for source_id, name, reliability in session.execute(
            select(ThreatSource.id, ThreatSource.name, ThreatSource.reliability_score)
        ):
            self.sources[source_id] = (
                name,
                float(reliability) / 100 if reliability is not None else None,
            )

    # -- helpers

    def wanted(self, first: uuid.UUID, second: uuid.UUID) -> bool:
        return self.seeds is None or first in self.seeds or second in self.seeds

    def source_name(self, source_id: uuid.UUID | None) -> str | None:
        return self.sources.get(source_id, (None, None))[0]

    def source_factor(self, source_id: uuid.UUID | None) -> float:
        return _reliability_factor(self.sources.get(source_id, (None, None))[1])

    def active_record(self) -> list[ColumnElement[bool]]:
        return [
            _I.is_active.is_(True),
            _T.status != IntelligenceStatus.FALSE_POSITIVE,
        ]

    def among(self, column: Any, ids: Collection[uuid.UUID]) -> Any:
        return _ids_among(self.dialect, column, ids)

    def seed_chunks(self) -> Iterator[Sequence[uuid.UUID]]:
        assert self.seeds is not None
        yield from _chunks(sorted(self.seeds))

    def learn_types(self, ids: Iterable[uuid.UUID]) -> None:
        """Read the types of active indicators not seen yet (inactive ones stay unknown)."""
        missing = sorted({i for i in ids if i not in self.types})
        for chunk in _chunks(missing):
            rows = self.session.execute(
                select(_I.id, _I.indicator_type).where(
                    self.among(_I.id, chunk), _I.is_active.is_(True)
                )
            )
            self.types.update((row_id, IndicatorType(kind)) for row_id, kind in rows)

    def add(self, kind: CorrelationType, first: uuid.UUID, second: uuid.UUID, e: Evidence) -> None:
        if kind in (CorrelationType.IP_DOMAIN, CorrelationType.HASH_IP):
            primary, related = first, second
        else:
            primary, related = min(first, second), max(first, second)
        self.pairs[(kind, primary, related)].append(e)

    # -- ip_domain and hash_ip from groups

    def _record_columns(self) -> tuple[Any, ...]:
        extra = _T.processed_data
        return (
            _T.id,
            _T.indicator_id,
            _T.source_id,
            _T.correlation_id,
            extra[("extra", "event_uuid")].as_string(),
            extra[("extra", "event_id")].as_string(),
            extra[("extra", "attribute_uuid")].as_string(),
            extra[("extra", "stix_id")].as_string(),
            extra[("extra", "object_name")].as_string(),
            _T.raw_data["object_id"].as_string(),
            _T.raw_data["event_id"].as_string(),
            _I.indicator_type,
            cast(_T.raw_data["resolves_to_refs"], Text),
        )

    def _records(self, *conditions: Any) -> list[_Record]:
        statement = (
            select(*self._record_columns())
            .join(_I, _I.id == _T.indicator_id)
            .where(*self.active_record(), *conditions)
        )
        found = []
        for row in self.session.execute(statement):
            texts = [_text(v) for v in row[4:11]]
            record = _Record(
                id=row[0],
                indicator_id=row[1],
                source_id=row[2],
                run_id=row[3],
                event_uuid=texts[0],
                event_id=texts[1],
                attribute_uuid=texts[2],
                stix_id=texts[3],
                object_name=texts[4],
                raw_object_id=texts[5],
                raw_event_id=texts[6],
                resolves_to=_strings(_json(row[12])) if row[11] == IndicatorType.DOMAIN else [],
            )
            self.types[record.indicator_id] = IndicatorType(row[11])
            found.append(record)
        return found

    def records(self) -> list[_Record]:
        """The records in view: all of them, or the seeds' and their groups' other members."""
        if self.seeds is None:
            return self._records()
        found: dict[uuid.UUID, _Record] = {}
        # The partners of known pairs too: what their records state about a seed (a STIX
        # domain's resolutions) is part of that pair's evidence.
        partners = self.known_partners()
        read = sorted(self.seeds | partners)
        for chunk in _chunks(read):
            for record in self._records(self.among(_T.indicator_id, chunk)):
                found[record.id] = record
        # The other members of the seeds' events and objects: the same keys in the same source.
        keys: dict[uuid.UUID | None, dict[str, set[str]]] = defaultdict(
            lambda: {"event": set(), "attribute": set(), "stix": set()}
        )
        for record in found.values():
            if record.event_uuid:
                keys[record.source_id]["event"].add(record.event_uuid)
            if record.attribute_uuid:
                keys[record.source_id]["attribute"].add(record.attribute_uuid)
            if record.stix_id:
                keys[record.source_id]["stix"].add(record.stix_id)
            keys[record.source_id]["stix"].update(record.resolves_to)
        extra = _T.processed_data
        columns = {
            "event": extra[("extra", "event_uuid")].as_string(),
            "attribute": extra[("extra", "attribute_uuid")].as_string(),
            "stix": extra[("extra", "stix_id")].as_string(),
        }
        for source_id, wanted in keys.items():
            conditions = [
                _among(self.dialect, columns[name], values)
                for name, values in wanted.items()
                if values
            ]
            if not conditions:
                continue
            same_source = _T.source_id.is_(None) if source_id is None else _T.source_id == source_id
            others = _ids_outside(self.dialect, _T.indicator_id, read)
            for record in self._records(same_source, or_(*conditions), others):
                found.setdefault(record.id, record)
        return list(found.values())

    def record_groups(self, records: list[_Record]) -> list[_Group]:
        groups: dict[tuple[str, ...], _Group] = {}

        def join(kind: str, key: tuple[str, ...], record: _Record, details: dict[str, Any]) -> None:
            full = (kind, str(record.source_id), *key)
            group = groups.get(full)
            if group is None:
                group = groups[full] = _Group(
                    kind, "/".join(key), record.source_id, {}, dict(details)
                )
            group.members.setdefault(record.indicator_id, str(record.id))

        for record in records:
            if record.attribute_uuid:
                join(
                    "record",
                    ("attribute", record.attribute_uuid),
                    record,
                    {"attribute_uuid": record.attribute_uuid, "event_uuid": record.event_uuid},
                )
            if record.stix_id:
                join("record", ("stix", record.stix_id), record, {"stix_id": record.stix_id})
            if record.event_uuid:
                join("event", (record.event_uuid,), record, {"event_uuid": record.event_uuid})
                # The raw attribute is the first report; its object counts only when that
                # report was of this same event.
                if (
                    record.raw_object_id is not None
                    and record.raw_object_id != "0"
                    and record.event_id is not None
                    and record.raw_event_id == record.event_id
                ):
                    join(
                        "object",
                        (record.event_uuid, record.raw_object_id),
                        record,
                        {
                            "event_uuid": record.event_uuid,
                            "object_id": record.raw_object_id,
                            "object_name": record.object_name,
                        },
                    )
        return list(groups.values())

    def stated_resolutions(self, records: list[_Record]) -> None:
        """ip_domain pairs a STIX ``domain-name`` states: its ``resolves_to_refs`` name
        addresses the same source reported."""
        by_stix: dict[tuple[uuid.UUID | None, str], _Record] = {}
        for record in records:
            if record.stix_id and self.types.get(record.indicator_id) is IndicatorType.IP:
                by_stix[(record.source_id, record.stix_id)] = record
        for record in records:
            for ref in record.resolves_to:
                address = by_stix.get((record.source_id, ref))
                if address is None or not self.wanted(record.indicator_id, address.indicator_id):
                    continue
                item = {
                    "kind": "dns",
                    "strength": _strength(0.9 * self.source_factor(record.source_id)),
                    "source_id": str(record.source_id) if record.source_id else None,
                    "source": self.source_name(record.source_id),
                    "stix_id": record.stix_id,
                    "resolves_to": ref,
                    "records": sorted([str(record.id), str(address.id)]),
                }
                self.add(
                    CorrelationType.IP_DOMAIN,
                    record.indicator_id,
                    address.indicator_id,
                    (f"source:{record.source_id}", item),
                )

    def raw_groups(self, records: list[_Record]) -> list[_Group]:
        """Records one run wrote from one raw record: same source, run and ``raw_data``."""
        if self.dialect == "postgresql":
            members: Any = func.array_agg(_T.indicator_id)
            record_ids: Any = func.array_agg(_T.id)
        else:
            members = func.group_concat(_T.indicator_id)
            record_ids = func.group_concat(_T.id)
        statement = (
            select(_T.source_id, _T.correlation_id, func.count(), members, record_ids)
            .join(_I, _I.id == _T.indicator_id)
            .where(*self.active_record(), _T.raw_data.is_not(None), _T.correlation_id.is_not(None))
            .group_by(_T.source_id, _T.correlation_id, _T.raw_data)
            .having(func.count() > 1)
        )
        runs = sorted({r.run_id for r in records if r.run_id})
        if self.seeds is not None and not runs:
            return []
        chunks: list[Sequence[str] | None] = [None]
        if self.seeds is not None:
            chunks = list(_chunks(runs))
        found = []
        for chunk in chunks:
            query = statement if chunk is None else statement.where(_T.correlation_id.in_(chunk))
            for source_id, run_id, count, indicator_ids, ids in self.session.execute(query):
                indicators = _split_ids(indicator_ids)
                record_list = [str(_uuid(i)) for i in _split_ids(ids)]
                key = f"{run_id}/{min(record_list)}"
                if count > self.limits.max_group:
                    self.report.skip(SkippedGroup("ip_domain/hash_ip", "record", key, int(count)))
                    continue
                group = _Group("record", key, source_id, {}, {"run": run_id})
                for indicator_id, record_id in zip(indicators, record_list, strict=True):
                    group.members.setdefault(_uuid(indicator_id), record_id)
                found.append(group)
        return found

    def report_groups(self) -> list[_Group]:
        """Threat reports and the indicators they reference (ids; other entries are ignored)."""
        groups = []
        rows = self.session.execute(
            select(ThreatReport.id, ThreatReport.title, ThreatReport.indicators_referenced)
        )
        for report_id, title, referenced in rows:
            ids: dict[uuid.UUID, str | None] = {}
            for item in referenced if isinstance(referenced, list) else ():
                given = (
                    (item.get("id") or item.get("indicator_id")) if isinstance(item, dict) else item
                )
                try:
                    ids.setdefault(_uuid(given), None)
                except (ValueError, TypeError, AttributeError):
                    continue
            if len(ids) < 2:
                continue
            if self.seeds is not None and not self.seeds.intersection(ids):
                continue
            groups.append(_Group("report", str(report_id), None, ids, {"title": title}))
        return groups

    def pair_groups(self, groups: list[_Group]) -> None:
        """ip_domain and hash_ip pairs of each group small enough to pair."""
        self.learn_types(i for g in groups for i in g.members)
        for group in groups:
            present = {i: r for i, r in group.members.items() if i in self.types}
            size = len(present)
            if size < 2 or (self.seeds is not None and self.seeds.isdisjoint(present)):
                continue
            if size > self.limits.max_group:
                self.report.skip(SkippedGroup("ip_domain/hash_ip", group.kind, group.key, size))
                continue
            by_type: dict[IndicatorType, list[uuid.UUID]] = defaultdict(list)
            for indicator_id in present:
                by_type[self.types[indicator_id]].append(indicator_id)
            ips = by_type.get(IndicatorType.IP, [])
            if not ips:
                continue
            strength, origin = self._group_strength(group, size)
            facts = self._group_facts(group, size)
            for first_type, kind in (
                (IndicatorType.DOMAIN, CorrelationType.IP_DOMAIN),
                (IndicatorType.HASH, CorrelationType.HASH_IP),
            ):
                for first in by_type.get(first_type, ()):
                    for second in ips:
                        if not self.wanted(first, second):
                            continue
                        item = {"kind": group.kind, "strength": strength, **facts}
                        records = sorted(r for r in (present[first], present[second]) if r)
                        if records:
                            item["records"] = records
                        self.add(kind, first, second, (origin, item))

    def _group_strength(self, group: _Group, size: int) -> tuple[float, str]:
        if group.kind == "report":
            factor = _reliability_factor(None)
            return _strength(0.65 * _size_factor(size) * factor), f"report:{group.key}"
        factor = self.source_factor(group.source_id)
        base = {"record": 0.95, "object": 0.85}.get(group.kind)
        value = base * factor if base is not None else 0.60 * _size_factor(size) * factor
        return _strength(value), f"source:{group.source_id}"

    def _group_facts(self, group: _Group, size: int) -> dict[str, Any]:
        facts: dict[str, Any] = {k: v for k, v in group.details.items() if v is not None}
        if group.kind == "report":
            facts["report_id"] = group.key
        else:
            facts["source_id"] = str(group.source_id) if group.source_id else None
            facts["source"] = self.source_name(group.source_id)
        facts["size"] = size
        return facts

    # -- DNS

    def _resolved(self, ids: Collection[uuid.UUID] | None) -> list[tuple[Any, ...]]:
        """What the DNS data of these indicators (all, for None) names: one row per active
        indicator named, ``(enrichment row, enriched indicator, its type, named indicator,
        enriched_at, enricher, confidence)``."""
        enrichment = EnrichmentData
        statement = (
            select(
                enrichment.id,
                enrichment.indicator_id,
                enrichment.enrichment_data,
                enrichment.enriched_at,
                enrichment.enricher,
                enrichment.confidence,
                _I.indicator_type,
            )
            .join(_I, _I.id == enrichment.indicator_id)
            .where(
                _I.is_active.is_(True),
                _I.indicator_type.in_((IndicatorType.IP, IndicatorType.DOMAIN)),
            )
        )
        statements = (
            [statement]
            if ids is None
            else [
                statement.where(self.among(enrichment.indicator_id, chunk))
                for chunk in _chunks(sorted(ids))
            ]
        )
        named: list[tuple[Any, ...]] = []
        signatures: set[str] = set()
        for query in statements:
            for (
                row_id,
                indicator_id,
                data,
                enriched_at,
                enricher,
                confidence,
                kind,
            ) in self.session.execute(query):
                target = IndicatorType(kind)
                other = IndicatorType.IP if target is IndicatorType.DOMAIN else IndicatorType.DOMAIN
                for value in resolutions(data, target):
                    result = normalise(value)
                    if isinstance(result, Indicator) and result.kind.indicator_type is other:
                        signatures.add(result.signature)
                        named.append(
                            (
                                row_id,
                                indicator_id,
                                target,
                                result,
                                enriched_at,
                                enricher,
                                confidence,
                            )
                        )
        known: dict[str, uuid.UUID] = {}
        for chunk in _chunks(sorted(signatures)):
            rows = self.session.execute(
                select(_I.hash_signature, _I.id).where(
                    _among(self.dialect, _I.hash_signature, chunk), _I.is_active.is_(True)
                )
            )
            known.update((signature, row_id) for signature, row_id in rows)
        found = []
        for row_id, indicator_id, target, result, enriched_at, enricher, confidence in named:
            other_id = known.get(result.signature)
            if other_id is not None and other_id != indicator_id:
                found.append(
                    (row_id, indicator_id, target, other_id, enriched_at, enricher, confidence)
                )
        return found

    def known_partners(self) -> set[uuid.UUID]:
        """The other ends of the seeds' stored ip_domain pairs that are not seeds (read once)."""
        if self.partners is None:
            table = ThreatCorrelation
            everyone = sorted(self.seeds or ())
            self.partners = set()
            for chunk in self.seed_chunks():
                for side, other in (
                    (table.primary_indicator_id, table.related_indicator_id),
                    (table.related_indicator_id, table.primary_indicator_id),
                ):
                    self.partners.update(
                        self.session.scalars(
                            select(other).where(
                                table.correlation_type == CorrelationType.IP_DOMAIN,
                                self.among(side, chunk),
                                _ids_outside(self.dialect, other, everyone),
                            )
                        )
                    )
        return self.partners

    def dns(self) -> None:
        found = self._resolved(self.seeds)
        if self.seeds is not None:
            # A pair's evidence is its two ends' DNS data: read the partners' too, or a
            # seed's run would replace what the partner's data says with its own alone.
            partners = {row[3] for row in found} | self.known_partners()
            found += self._resolved(partners - self.seeds)
        for row_id, indicator_id, target, other_id, enriched_at, enricher, confidence in found:
            domain, ip = (
                (indicator_id, other_id)
                if target is IndicatorType.DOMAIN
                else (other_id, indicator_id)
            )
            if not self.wanted(domain, ip):
                continue
            factor = _reliability_factor(float(confidence) if confidence is not None else None)
            item = {
                "kind": "dns",
                "strength": _strength(0.9 * factor),
                "enrichment_id": str(row_id),
                "enriched_at": _iso(enriched_at),
                "enricher": enricher,
                "resolved": "domain to address"
                if target is IndicatorType.DOMAIN
                else "address to name",
            }
            self.add(CorrelationType.IP_DOMAIN, domain, ip, (f"dns:{row_id}", item))

    # -- temporal

    def temporal(self) -> None:
        window = self.limits.window
        base = (
            select(_I.id, _I.first_seen_at, _T.source_id)
            .join(_T, _T.indicator_id == _I.id)
            .where(*self.active_record(), _I.first_seen_at.is_not(None))
        )
        seen: dict[uuid.UUID | None, dict[uuid.UUID, datetime]] = defaultdict(dict)
        if self.seeds is None:
            statements: Iterable[Any] = [base]
        else:
            times: set[datetime] = set()
            sources: set[uuid.UUID | None] = set()
            for chunk in self.seed_chunks():
                for _, first_seen, source_id in self.session.execute(
                    base.where(self.among(_I.id, chunk))
                ):
                    if first_seen is not None:
                        times.add(_aware(first_seen))
                        sources.add(source_id)
            # Twice the window: the neighbours' own windows must be counted whole too.
            intervals = _merged(sorted(times), 2 * window)
            known = [s for s in sources if s is not None]
            same_sources = [_T.source_id.in_(known)] if known else []
            if None in sources:
                same_sources.append(_T.source_id.is_(None))
            statements = [
                base.where(
                    or_(*same_sources),
                    or_(*(_I.first_seen_at.between(lo, hi) for lo, hi in chunk)),
                )
                for chunk in _chunks(intervals, _INTERVALS_PER_QUERY)
            ]
        for statement in statements:
            for indicator_id, first_seen, source_id in self.session.execute(statement):
                seen[source_id][indicator_id] = _aware(first_seen)
        cap = self.limits.max_neighbours
        for source_id, moments in seen.items():
            ordered = sorted(moments.items(), key=lambda item: (item[1], item[0]))
            stamps = [moment for _, moment in ordered]
            spans = [
                (bisect.bisect_left(stamps, m - window), bisect.bisect_right(stamps, m + window))
                for m in stamps
            ]
            neighbours = [hi - lo - 1 for lo, hi in spans]
            self._bursts(source_id, ordered, neighbours)
            factor = self.source_factor(source_id)
            for index, (first, first_seen) in enumerate(ordered):
                if neighbours[index] > cap:
                    continue
                for other in range(index + 1, spans[index][1]):
                    second, second_seen = ordered[other]
                    if neighbours[other] > cap or not self.wanted(first, second):
                        continue
                    delta = (second_seen - first_seen).total_seconds()
                    closeness = 1 - delta / window.total_seconds()
                    crowd = max(neighbours[index], neighbours[other])
                    quiet = 1 - (crowd - 1) / cap
                    strength = _strength((0.2 + 0.2 * closeness + 0.1 * quiet) * factor)
                    primary = min(first, second)
                    times_in_order = (
                        (first_seen, second_seen) if primary == first else (second_seen, first_seen)
                    )
                    item = {
                        "kind": "first_seen",
                        "strength": strength,
                        "source_id": str(source_id) if source_id else None,
                        "source": self.source_name(source_id),
                        "first_seen": [_iso(t) for t in times_in_order],
                        "delta_seconds": round(delta, 3),
                        "neighbours": crowd,
                    }
                    self.add(CorrelationType.TEMPORAL, first, second, (f"source:{source_id}", item))

    def _bursts(
        self,
        source_id: uuid.UUID | None,
        ordered: list[tuple[uuid.UUID, datetime]],
        neighbours: list[int],
    ) -> None:
        """Report each run of indicators too crowded to pair in time (consecutive ones, no
        more than a window apart) as one skipped group."""
        cap, window = self.limits.max_neighbours, self.limits.window
        start: int | None = None
        for index in range(len(ordered) + 1):
            crowded = index < len(ordered) and neighbours[index] > cap
            if start is not None and crowded and ordered[index][1] - ordered[index - 1][1] > window:
                self._burst(source_id, ordered, start, index)
                start = index
            elif crowded and start is None:
                start = index
            elif not crowded and start is not None:
                self._burst(source_id, ordered, start, index)
                start = None

    def _burst(
        self,
        source_id: uuid.UUID | None,
        ordered: list[tuple[uuid.UUID, datetime]],
        start: int,
        end: int,
    ) -> None:
        first, last = ordered[start][1], ordered[end - 1][1]
        name = self.source_name(source_id) or str(source_id)
        key = f"{name} {_iso(first)}..{_iso(last)}"
        self.report.skip(SkippedGroup("temporal", "first_seen", key, end - start))

    # -- behavioral

    def behavioral(self) -> None:
        cap = self.limits.max_shared
        families: set[str] = set()
        tags: set[str] = set()
        if self.seeds is not None:
            for chunk in self.seed_chunks():
                # As text, decoded here: the driver's JSON decoding costs more than the query.
                rows = self.session.execute(
                    select(
                        cast(_I.metadata_["malware_families"], Text),
                        cast(_I.metadata_["tags"], Text),
                    ).where(self.among(_I.id, chunk), _I.is_active.is_(True))
                )
                for listed_families, listed_tags in rows:
                    families.update(_strings(_json(listed_families)))
                    tags.update(t for t in _strings(_json(listed_tags)) if behavioural_tag(t))
        shared: list[tuple[str, str, str | None, list[uuid.UUID], int]] = []
        if self.seeds is None or families or tags:
            wanted = {"malware_family": families, "tag": tags}
            for kind, value, members, size in self._sharing(families | tags):
                if self.seeds is not None and value not in wanted[kind]:
                    continue
                if kind == "tag" and not behavioural_tag(value):
                    continue
                shared.append((kind, value, None, members, size))
        for kind, link, named in (
            ("campaign", CampaignIndicator.campaign_id, ThreatCampaign),
            ("actor", ActorIndicator.actor_id, ThreatActor),
        ):
            shared.extend(self._linked(kind, link, named))
        for kind, value, name, members, size in shared:
            if size > cap:
                self.report.skip(SkippedGroup("behavioral", kind, name or value, size))
                continue
            if size < 2:
                continue
            rarity = _rarity(size, cap)
            if kind in ("campaign", "actor"):
                rarity = max(0.5, rarity)
            strength = _strength(_WEIGHTS[kind] * rarity)
            if strength < self.limits.min_strength:
                self.report.weak += 1
                continue
            item: dict[str, Any] = {"kind": kind, "strength": strength, "shared_by": size}
            if kind in ("campaign", "actor"):
                item.update({f"{kind}_id": value, "name": name})
            else:
                item["value"] = value
            piece = (f"{kind}:{value}", item)
            for first, second in self.pairs_of(members):
                self.add(CorrelationType.BEHAVIORAL, first, second, piece)

    def pairs_of(self, members: Collection[uuid.UUID]) -> Iterator[tuple[uuid.UUID, uuid.UUID]]:
        """Each pair of these indicators that involves a seed, once."""
        ordered = sorted(set(members))
        if self.seeds is None:
            for index, first in enumerate(ordered):
                for second in ordered[index + 1 :]:
                    yield first, second
            return
        for first in ordered:
            if first not in self.seeds:
                continue
            for second in ordered:
                # A pair of two seeds is made once, from its smaller end.
                if second != first and (second not in self.seeds or first < second):
                    yield first, second

    def useful_size(self, weight: float) -> int:
        """The most indicators that may share a value of this weight for it to be evidence."""
        size = 1
        while size < self.limits.max_shared and (
            _strength(weight * _rarity(size + 1, self.limits.max_shared))
            >= self.limits.min_strength
        ):
            size += 1
        return size

    def _sharing(self, values: set[str]) -> Iterator[tuple[str, str, list[uuid.UUID], int]]:
        """Each malware family and tag of active indicators (those of ``values`` in a scoped
        run), how many indicators share it, and which when few enough for it to be evidence;
        one scan of the table for both lists."""
        useful = {
            "malware_families": self.useful_size(_WEIGHTS["malware_family"]),
            "tags": self.useful_size(_WEIGHTS["tag"]),
        }
        params: dict[str, Any] = {"families": useful["malware_families"], "tags": useful["tags"]}
        if self.dialect == "postgresql":
            among = (
                "AND v.value IN (SELECT unnest(CAST(:vals AS text[])))"
                if self.seeds is not None
                else ""
            )
            inner = (
                # Only constant fragments are formatted in; every value is a parameter.
                "SELECT k.key AS list, v.value AS value, ti.id AS id, "  # noqa: S608
                "count(*) OVER (PARTITION BY k.key, v.value) AS n, "
                "row_number() OVER (PARTITION BY k.key, v.value ORDER BY ti.id) AS rn "
                "FROM threat_indicators ti "
                "CROSS JOIN LATERAL jsonb_each(ti.metadata) AS k(key, value) "
                "CROSS JOIN LATERAL jsonb_array_elements_text(k.value) AS v(value) "
                "WHERE ti.is_active AND k.key IN ('malware_families', 'tags') "
                f"AND jsonb_typeof(k.value) = 'array' {among}"
            )
            params["vals"] = sorted(values)
        else:
            among = (
                "AND j.value IN (SELECT value FROM json_each(:vals))"
                if self.seeds is not None
                else ""
            )
            inner = (
                "SELECT k.key AS list, j.value AS value, ti.id AS id, "  # noqa: S608
                "count(*) OVER (PARTITION BY k.key, j.value) AS n, "
                "row_number() OVER (PARTITION BY k.key, j.value ORDER BY ti.id) AS rn "
                "FROM threat_indicators ti, json_each(ti.metadata) AS k, json_each(k.value) AS j "
                "WHERE ti.is_active AND k.key IN ('malware_families', 'tags') "
                f"AND k.type = 'array' AND j.type = 'text' {among}"
            )
            params["vals"] = json.dumps(sorted(values))
        if self.seeds is None:
            params.pop("vals")
        sql = (
            f"SELECT list, value, id, n FROM ({inner}) grouped "  # noqa: S608
            "WHERE rn = 1 OR n <= CASE WHEN list = 'tags' THEN :tags ELSE :families END"
        )
        found: dict[tuple[str, str], tuple[list[uuid.UUID], int]] = {}
        for listed, value, member, size in self.session.execute(text(sql), params):
            kind = "tag" if listed == "tags" else "malware_family"
            members, _ = found.setdefault((kind, value), ([], int(size)))
            if size <= useful[listed]:
                members.append(_uuid(member))
        for (kind, value), (members, size) in sorted(found.items()):
            yield kind, value, members, size

    def _linked(
        self, kind: str, link: Any, named: Any
    ) -> Iterator[tuple[str, str, str | None, list[uuid.UUID], int]]:
        """Campaigns (or actors) and their active indicators, for those a seed is linked to."""
        table = link.class_
        owners: set[uuid.UUID] | None = None
        if self.seeds is not None:
            owners = set()
            for chunk in self.seed_chunks():
                owners.update(
                    self.session.scalars(select(link).where(self.among(table.indicator_id, chunk)))
                )
            if not owners:
                return
        statement = (
            select(link, table.indicator_id)
            .join(_I, _I.id == table.indicator_id)
            .where(_I.is_active.is_(True))
        )
        members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        chunks: list[Sequence[uuid.UUID] | None] = [None]
        if owners is not None:
            chunks = list(_chunks(sorted(owners)))
        for part in chunks:
            query = statement if part is None else statement.where(self.among(link, part))
            for owner, indicator_id in self.session.execute(query):
                members[owner].append(indicator_id)
        names: dict[uuid.UUID, str] = {}
        name_column = named.campaign_name if kind == "campaign" else named.actor_name
        for chunk in _chunks(sorted(members)):
            rows = self.session.execute(
                select(named.id, name_column).where(self.among(named.id, chunk))
            )
            names.update((owner, name) for owner, name in rows)
        for owner, listed in sorted(members.items()):
            yield kind, str(owner), names.get(owner), listed, len(listed)

    # -- storing

    def store(self, now: datetime) -> None:
        window_s = self.limits.window.total_seconds()
        rows: dict[tuple[CorrelationType, uuid.UUID, uuid.UUID], tuple[float, dict[str, Any]]] = {}
        for key, pieces in self.pairs.items():
            kind = key[0]
            best: dict[str, float] = {}
            for origin, item in pieces:
                best[origin] = max(best.get(origin, 0.0), item["strength"])
            if len(pieces) == 1:
                items = [pieces[0][1]]
            else:
                # Strongest first, in an order that does not depend on how rows came back:
                # a re-discovery that finds the same evidence must store the same document.
                items = _unique(
                    sorted(
                        (item for _, item in pieces),
                        key=lambda item: (-item["strength"], json.dumps(item, sort_keys=True)),
                    )
                )
            data: dict[str, Any] = {"evidence": items}
            if kind is CorrelationType.TEMPORAL:
                data["window_seconds"] = window_s
            rows[key] = (score_of(best.values()), data)
            self.report.found[kind.value] += 1
        existing: dict[tuple[CorrelationType, uuid.UUID, uuid.UUID], tuple[float | None, Any]] = {}
        table = ThreatCorrelation
        primaries = sorted({key[1] for key in rows})
        for chunk in _chunks(primaries):
            found = self.session.execute(
                select(
                    table.correlation_type,
                    table.primary_indicator_id,
                    table.related_indicator_id,
                    table.correlation_score,
                    table.correlation_data,
                ).where(self.among(table.primary_indicator_id, chunk))
            )
            for kind, primary, related, score, data in found:
                key = (CorrelationType(kind), primary, related)
                if key in rows:
                    existing[key] = (_float(score), data)
        writes: list[dict[str, Any]] = []
        for key, (score, data) in rows.items():
            type_name = key[0].value
            before = existing.get(key)
            if before is None:
                self.report.created[type_name] += 1
            elif before[0] == score and before[1] == data:
                self.report.unchanged[type_name] += 1
                continue
            else:
                self.report.updated[type_name] += 1
            writes.append(
                {
                    "id": uuid.uuid4(),
                    "primary_indicator_id": key[1],
                    "related_indicator_id": key[2],
                    "correlation_type": key[0],
                    "correlation_score": score,
                    "correlation_data": data,
                    "discovered_at": now,
                    "is_verified": False,
                }
            )
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        for chunk in _chunks(writes):
            statement = insert(table)
            statement = statement.on_conflict_do_update(
                index_elements=[
                    table.primary_indicator_id,
                    table.related_indicator_id,
                    table.correlation_type,
                ],
                # Only the evidence: an analyst's verdict and notes outlive every discovery.
                set_={
                    "correlation_score": statement.excluded.correlation_score,
                    "correlation_data": statement.excluded.correlation_data,
                },
            )
            self.session.execute(statement, list(chunk))


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sorted items without repeats (repeats are next to each other)."""
    return [item for index, item in enumerate(items) if index == 0 or item != items[index - 1]]


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _json(text_form: str | None) -> Any:
    if not text_form:
        return None
    try:
        return orjson.loads(text_form)
    except orjson.JSONDecodeError:
        return None


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def _split_ids(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.split(",") if part]
    return list(value)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _merged(times: list[datetime], reach: timedelta) -> list[tuple[datetime, datetime]]:
    """``[t − reach, t + reach]`` around each time, overlapping ones merged; times sorted."""
    intervals: list[tuple[datetime, datetime]] = []
    for moment in times:
        lo, hi = moment - reach, moment + reach
        if intervals and lo <= intervals[-1][1]:
            intervals[-1] = (intervals[-1][0], max(intervals[-1][1], hi))
        else:
            intervals.append((lo, hi))
    return intervals


def _since_seeds(session: Session, since: datetime) -> set[uuid.UUID]:
    """Indicators changed, reported, enriched or linked to a campaign or actor since then."""
    found: set[uuid.UUID] = set(session.scalars(select(_I.id).where(_I.updated_at >= since)))
    found.update(
        session.scalars(
            select(_T.indicator_id)
            .where(_T.ingested_at >= since, _T.indicator_id.is_not(None))
            .distinct()
        )
    )
    found.update(
        session.scalars(
            select(EnrichmentData.indicator_id)
            .where(EnrichmentData.enriched_at >= since, EnrichmentData.indicator_id.is_not(None))
            .distinct()
        )
    )
    for table in (CampaignIndicator, ActorIndicator):
        found.update(
            session.scalars(select(table.indicator_id).where(table.associated_at >= since))
        )
    return found


def discover(
    session: Session,
    *,
    indicator_ids: Collection[uuid.UUID] | None = None,
    since: datetime | None = None,
    now: datetime,
    limits: Limits | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> DiscoveryReport:
    """Find and store the correlations of ``indicator_ids`` (a feed run's, an import's), of
    what changed ``since``, or of everything, in the caller's transaction.

    ``on_stage`` is called with each name of :data:`STAGES` as that stage ends.
    """
    started = time.perf_counter()
    stage = on_stage or (lambda name: None)
    seeds: set[uuid.UUID] | None = None
    if indicator_ids is not None:
        report = DiscoveryReport(scope="indicators", since=since)
        seeds = {_uuid(i) for i in indicator_ids}
        if since is not None:
            seeds &= _since_seeds(session, since)
    elif since is not None:
        report = DiscoveryReport(scope="since", since=since)
        seeds = _since_seeds(session, since)
    else:
        report = DiscoveryReport(scope="all")
    if seeds is not None:
        report.indicators = len(seeds)
    run = _Discovery(session, seeds=seeds, limits=limits or Limits(), report=report)
    stage("scope")
    if seeds is None or seeds:
        records = run.records()
        groups = run.record_groups(records) + run.raw_groups(records) + run.report_groups()
        run.pair_groups(groups)
        run.stated_resolutions(records)
        stage("records")
        run.dns()
        stage("dns")
        run.temporal()
        stage("temporal")
        run.behavioral()
        stage("behavioral")
        run.store(now)
        stage("storing")
    else:
        for name in STAGES[1:]:
            stage(name)
    report.duration_s = time.perf_counter() - started
    log.info(
        "correlations discovered scope=%s indicators=%s found=%s created=%s updated=%s "
        "skipped=%d in %.2fs",
        report.scope,
        report.indicators,
        report.found,
        report.created,
        report.updated,
        report.skipped_total,
        report.duration_s,
    )
    return report
