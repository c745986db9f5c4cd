"""A selection (:mod:`krsn.sharing.selection`) as a STIX 2.1 bundle, whole or streamed to a file.

What each row becomes:

- indicator → ``indicator`` with a STIX pattern on its value (``ipv4-addr`` / ``ipv6-addr``,
  CIDR ranges included, ``domain-name``, ``url``, ``email-addr``, ``file:hashes``), valid from
  its first sighting; tags of the indicator-type vocabulary become ``indicator_types``, other
  tags ``labels``. On request the observable (SCO) too, with its deterministic STIX id.
- actor → ``intrusion-set``: our actors are what ATT&CK calls groups (named, aliased sets of
  activity with the tools and techniques they use), which STIX models as intrusion sets;
  ``threat-actor`` is the person or organisation behind one, which we do not record.
- campaign → ``campaign``; ATT&CK technique → ``attack-pattern`` with its ``mitre-attack``
  external reference and kill chain phases; threat report → ``report`` whose ``object_refs``
  are everything else exported.
- Relationships among what is exported: indicator ``indicates`` intrusion-set, campaign and
  attack-pattern (the link tables); campaign ``attributed-to`` intrusion-set; intrusion-set
  and campaign ``uses`` attack-pattern (what ATT&CK or an analyst recorded).

Everything is ``created_by_ref`` the KRSN-RT2I identity. TLP markings use the marking
definitions of the STIX 2.1 specification (TLP:WHITE stands for TLP 2.0 CLEAR); AMBER+STRICT,
which has none, uses the OASIS TLP 2.0 common object. An object is marked with the strictest
of its own TLP and the selected container's (a red report marks all it shares red); a
relationship with the strictest of its two ends too.

Ids are stable across exports (:func:`stix_id_for`): an indicator read from STIX keeps the id
it came with, every other object gets a UUIDv5 of a fixed namespace, its table and row id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from krsn.indicators.models import ThreatIndicator
from krsn.sharing.attack import OWNER_KEY, attack_catalogs
from krsn.sharing.models import (
    ActorIndicator,
    CampaignIndicator,
    IndicatorTechnique,
    MitreTechnique,
    ThreatActor,
    ThreatCampaign,
    ThreatReport,
)
from krsn.sharing.selection import (
    Selection,
    actor_technique_ids,
    attributed_actor_ids,
    campaign_technique_ids,
)
from krsn.sharing.stix.models import StixObject
from krsn.sharing.tlp import actor_tlp, campaign_tlp, indicator_tlp, report_tlp, strictest

log = logging.getLogger(__name__)

NAMESPACE: Final = uuid.UUID("73eb1bba-eed4-4f49-bd34-27446d765504")
"""Our STIX ids are UUIDv5 of this namespace: never change it, or every id changes."""
SCO_NAMESPACE: Final = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
"""The namespace STIX 2.1 (section 2.9) fixes for observables' deterministic ids."""
_NAMESPACE_BYTES: Final = NAMESPACE.bytes
# The version (4 bits) and variant (2 bits) of a UUIDv5, cleared then set.
_UUID_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_V5: Final = (0x5000 << 64) | (0x8000 << 48)

IDENTITY_ID: Final = f"identity--{uuid.uuid5(NAMESPACE, 'identity:krsn-rt2i')}"
# A fixed date keeps the identity object byte-identical in every export.
_IDENTITY_CREATED: Final = "2024-01-01T00:00:00.000Z"
IDENTITY: Final[dict[str, Any]] = {
    "type": "identity",
    "spec_version": "2.1",
    "id": IDENTITY_ID,
    "created": _IDENTITY_CREATED,
    "modified": _IDENTITY_CREATED,
    "name": "KRSN-RT2I",
    "description": "The threat intelligence platform that produced this bundle.",
    "identity_class": "system",
}


def _tlp1(level: str, marking_id: str) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{marking_id}",
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{level.upper()}",
        "definition": {"tlp": level},
    }


TLP2_EXTENSION: Final = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_MARKINGS: Final[dict[str, dict[str, Any]]] = {
    "clear": _tlp1("white", "613f2e26-407d-48c7-9eca-b8e91df99dc9"),
    "green": _tlp1("green", "34098fce-860f-48ae-8e50-ebd3cc5e41da"),
    "amber": _tlp1("amber", "f88d31f6-486f-44da-b317-01333bde0b82"),
    "amber+strict": {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "created": "2022-10-01T00:00:00.000Z",
        "name": "TLP:AMBER+STRICT",
        "extensions": {
            TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}
        },
    },
    "red": _tlp1("red", "5e57c739-391a-4eb3-b6be-7d15ca92d5ed"),
}
"""The marking definition of each TLP level, as the bundle carries it."""

INDICATOR_TYPES: Final = frozenset(
    {
        "anomalous-activity",
        "anonymization",
        "benign",
        "compromised",
        "malicious-activity",
        "attribution",
        "unknown",
    }
)
MOTIVATIONS: Final = frozenset(
    {
        "accidental",
        "coercion",
        "dominance",
        "ideology",
        "notoriety",
        "organizational-gain",
        "personal-gain",
        "personal-satisfaction",
        "revenge",
        "unpredictable",
    }
)
REPORT_TYPES: Final = {
    "incident": "threat-report",
    "trend": "threat-report",
    "threat_actor": "threat-actor",
    "campaign": "campaign",
}
# The ATT&CK domain of a technique → the source name its own bundles use.
ATTACK_SOURCES: Final = {
    "enterprise-attack": "mitre-attack",
    "ics-attack": "mitre-ics-attack",
    "mobile-attack": "mitre-mobile-attack",
}
HASH_NAMES: Final = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}
_HASH_BY_LENGTH: Final = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_ADDRESS_TYPES: Final = {"ipv4": "ipv4-addr", "ipv6": "ipv6-addr"}
_VALUE_TYPES: Final = {
    **_ADDRESS_TYPES,
    "domain": "domain-name",
    "url": "url",
    "email": "email-addr",
}
# Relationships from JSON lists have no time of their own.
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
STREAM_BATCH = 2000
# Ids per IN list when reading the object store: well under every engine's parameter limit.
_LOOKUP_CHUNK = 1000

INDICATOR_COLUMNS: Final = (
    ThreatIndicator.id,
    ThreatIndicator.indicator_value,
    ThreatIndicator.indicator_type,
    ThreatIndicator.confidence_score,
    ThreatIndicator.severity,
    ThreatIndicator.threat_score,
    # As text, parsed with orjson: decoding metadata (with its score explanation) through
    # the JSON type was a third of a large export's time.
    sa.cast(ThreatIndicator.metadata_, sa.Text).label("metadata_text"),
    ThreatIndicator.first_seen_at,
    ThreatIndicator.created_at,
    ThreatIndicator.updated_at,
)
"""What :func:`indicator_object` reads of an indicator row (``select(...)`` these)."""
_Key = TypeVar("_Key")


# --- Ids, times, patterns -------------------------------------------------------------------


def stix_id_for(
    session: Session,
    *,
    stix_type: str,
    table: str,
    row_id: object,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """The STIX id of one of our rows: the id it was imported with, else our own stable one.

    One look-up in the object store; for many rows use :func:`stix_ids_for`.
    """
    return stix_ids_for(session, stix_type=stix_type, table=table, rows=[(row_id, metadata)])[
        str(row_id)
    ]


def stix_ids_for(
    session: Session,
    *,
    stix_type: str,
    table: str,
    rows: Iterable[tuple[object, Mapping[str, Any] | None]],
) -> dict[str, str]:
    """The STIX id of each ``(row id, metadata)`` of ``table``, by ``str(row id)``.

    The one place exported ids are decided, in this order: a ``stix_id`` of that type in the
    row's metadata; the id of a (not revoked) object of that type the STIX object store maps
    to the row (the smallest, should two map to it); else a UUIDv5 of :data:`NAMESPACE`, the
    table and the row id. The store is read in chunks, never once per row.
    """
    found: dict[str, str] = {}
    wanted: list[str] = []
    for row_id, metadata in rows:
        key = str(row_id)
        given = _given_id(stix_type, metadata)
        if given is not None:
            found[key] = given
        else:
            wanted.append(key)
    imported: dict[str, str] = {}
    connection = session.connection()
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start : start + _LOOKUP_CHUNK]
        statement = sa.select(StixObject.local_id, sa.func.min(StixObject.stix_id)).where(
            StixObject.local_table == table,
            _one_of(StixObject.local_id, chunk, connection.dialect.name),
            StixObject.stix_type == stix_type,
            StixObject.revoked.is_(False),
        )
        for local_id, stix_id in connection.execute(statement.group_by(StixObject.local_id)):
            imported[str(local_id)] = str(stix_id)
    for key in wanted:
        found[key] = imported.get(key) or own_stix_id(stix_type, table, key)
    return found


def _one_of(column: Any, values: list[str], dialect: str) -> sa.ColumnElement[bool]:
    # One array parameter instead of an IN list of a thousand: compiling and binding that
    # list cost more than the query itself on every page of a stream.
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(sa.String)))
    each = sa.func.json_each(sa.bindparam(None, json.dumps(values), type_=sa.String))
    return column.in_(sa.select(sa.literal_column("value")).select_from(each))


def own_stix_id(stix_type: str, table: str, row_id: object) -> str:
    """The id we give a row that came with none: UUIDv5 of our namespace, table and id."""
    # uuid.uuid5 by hand (RFC 4122 section 4.3, as the standard library computes it): the
    # UUID object it builds cost more than the hash when a collection pages through ids.
    digest = hashlib.sha1(
        _NAMESPACE_BYTES + f"{table}:{row_id}".encode(), usedforsecurity=False
    ).digest()
    value = int.from_bytes(digest[:16]) & _UUID_CLEAR | _UUID_V5
    h = f"{value:032x}"
    return f"{stix_type}--{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _given_id(stix_type: str, metadata: Mapping[str, Any] | None) -> str | None:
    given = (metadata or {}).get("stix_id")
    if isinstance(given, str) and given.startswith(f"{stix_type}--"):
        try:
            uuid.UUID(given.removeprefix(f"{stix_type}--"))
        except ValueError:
            return None
        return given
    return None


def timestamp(moment: datetime | None) -> str:
    """A STIX timestamp, UTC to the millisecond."""
    when = (moment or _EPOCH).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _stamps(created: datetime | None, modified: datetime | None) -> tuple[str, str]:
    first = timestamp(created)
    # A row touched in the same millisecond it was made must not read as modified earlier.
    return first, max(first, timestamp(modified or created))


def quote(value: str) -> str:
    """A STIX pattern string literal: quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def kind_of(indicator_type: str, value: str, metadata: Mapping[str, Any] | None) -> str | None:
    """The fine kind of a stored indicator (``ipv4`` … ``sha512``): as ingestion recorded it,
    else read off the value."""
    recorded = (metadata or {}).get("kind")
    if isinstance(recorded, str) and recorded:
        return recorded
    if indicator_type == "ip":
        if "/" in value:
            return "cidr"
        return "ipv6" if ":" in value else "ipv4"
    if indicator_type == "hash":
        return _HASH_BY_LENGTH.get(len(value))
    return indicator_type if indicator_type in ("domain", "url", "email") else None


def _object_type(kind: str, value: str) -> str | None:
    if kind == "cidr":
        return "ipv6-addr" if ":" in value else "ipv4-addr"
    return _VALUE_TYPES.get(kind)


def pattern_for(kind: str, value: str) -> str | None:
    """The STIX pattern matching this indicator, or None for a kind STIX has no path for."""
    if kind in HASH_NAMES:
        name = HASH_NAMES[kind]
        path = f"file:hashes.{name}" if name == "MD5" else f"file:hashes.'{name}'"
        return f"[{path} = {quote(value.lower())}]"
    object_type = _object_type(kind, value)
    if object_type is None:
        return None
    return f"[{object_type}:value = {quote(value)}]"


def observable_for(kind: str, value: str) -> dict[str, Any] | None:
    """The cyber observable (SCO) of this indicator, with its deterministic id."""
    if kind in HASH_NAMES:
        body: dict[str, Any] = {"hashes": {HASH_NAMES[kind]: value.lower()}}
        object_type = "file"
    else:
        found = _object_type(kind, value)
        if found is None:
            return None
        body, object_type = {"value": value}, found
    # STIX 2.1 deterministic ids: the JCS form of the id-contributing properties, which for
    # these plain strings is sorted compact JSON without ASCII escaping.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {
        "type": object_type,
        "spec_version": "2.1",
        "id": f"{object_type}--{uuid.uuid5(SCO_NAMESPACE, canonical)}",
        **body,
    }


def _common(
    stix_type: str,
    stix_id: str,
    created: datetime | None,
    modified: datetime | None,
    tlp: str | None,
) -> dict[str, Any]:
    first, last = _stamps(created, modified)
    obj: dict[str, Any] = {
        "type": stix_type,
        "spec_version": "2.1",
        "id": stix_id,
        "created_by_ref": IDENTITY_ID,
        "created": first,
        "modified": last,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [TLP_MARKINGS[tlp]["id"]]
    return obj


def indicator_metadata(row: Any) -> dict[str, Any]:
    """The metadata of a row selected with :data:`INDICATOR_COLUMNS`, as a dict."""
    found = orjson.loads(row.metadata_text) if row.metadata_text else None
    return found if isinstance(found, dict) else {}


def indicator_object(
    row: Any, *, metadata: Mapping[str, Any], stix_id: str, tlp: str | None
) -> dict[str, Any] | None:
    """One indicator row (:data:`INDICATOR_COLUMNS`) as its STIX ``indicator``, marked ``tlp``
    (the level the caller settled on); None for a value no STIX pattern expresses."""
    value = str(row.indicator_value)
    kind_type = str(getattr(row.indicator_type, "value", row.indicator_type))
    kind = kind_of(kind_type, value, metadata)
    if kind is None:
        return None
    created, modified = _stamps(row.created_at, row.updated_at)
    traits = indicator_traits(
        indicator_type=kind_type,
        severity=getattr(row.severity, "value", row.severity),
        threat_score=row.threat_score,
        metadata=metadata,
    )
    return indicator_document(
        stix_id=stix_id,
        value=value,
        kind=kind,
        created=created,
        modified=modified,
        valid_from=timestamp(row.first_seen_at or row.created_at),
        confidence=row.confidence_score,
        tlp=tlp,
        traits=traits,
    )


@dataclass(frozen=True)
class IndicatorTraits:
    """What an indicator object takes from the row's metadata and scores, not its value: rows
    of one feed share it, so a reader of many rows may work it out once per distinct row."""

    description: str
    indicator_types: tuple[str, ...]
    labels: tuple[str, ...]


def indicator_traits(
    *,
    indicator_type: str,
    severity: str | None,
    threat_score: Decimal | float | None,
    metadata: Mapping[str, Any],
) -> IndicatorTraits:
    """The description, indicator types and labels of an indicator's STIX object."""
    tags = _strings(metadata.get("tags"))
    return IndicatorTraits(
        description=_describe(indicator_type, severity, threat_score, metadata),
        indicator_types=tuple(
            sorted({tag.lower() for tag in tags if tag.lower() in INDICATOR_TYPES})
        ),
        labels=tuple(sorted({tag for tag in tags if tag.lower() not in INDICATOR_TYPES})),
    )


def indicator_document(
    *,
    stix_id: str,
    value: str,
    kind: str,
    created: str,
    modified: str,
    valid_from: str,
    confidence: Decimal | float | None,
    tlp: str | None,
    traits: IndicatorTraits,
) -> dict[str, Any] | None:
    """An indicator's STIX object from values already in STIX form (times as
    :func:`timestamp` writes them); None for a value no STIX pattern expresses.

    :func:`indicator_object` and the TAXII server both build through here, so what a
    collection serves is what an export writes.
    """
    pattern = pattern_for(kind, value)
    if pattern is None:
        return None
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id,
        "created_by_ref": IDENTITY_ID,
        "created": created,
        "modified": modified,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [TLP_MARKINGS[tlp]["id"]]
    obj["name"] = value
    obj["description"] = traits.description
    if traits.indicator_types:
        obj["indicator_types"] = list(traits.indicator_types)
    if traits.labels:
        obj["labels"] = list(traits.labels)
    obj["pattern"] = pattern
    obj["pattern_type"] = "stix"
    obj["pattern_version"] = "2.1"
    obj["valid_from"] = valid_from
    if confidence is not None:
        obj["confidence"] = _confidence(confidence)
    return obj


def _observable_of(row: Any, metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    value = str(row.indicator_value)
    kind = kind_of(str(getattr(row.indicator_type, "value", row.indicator_type)), value, metadata)
    return observable_for(kind, value) if kind else None


# --- The export -----------------------------------------------------------------------------


@dataclass
class ExportSummary:
    """What an export wrote: the bundle id, its objects by type, and where."""

    title: str
    bundle_id: str
    objects: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    indicators_skipped: int = 0
    """Indicators no STIX pattern can express (none with the stored types today)."""
    output: str | None = None
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON values (the CLI's ``--json``)."""
        return {
            "title": self.title,
            "bundle_id": self.bundle_id,
            "objects": self.objects,
            "by_type": dict(sorted(self.by_type.items())),
            "indicators_skipped": self.indicators_skipped,
            "output": self.output,
            "duration_s": self.duration_s,
        }


def export_bundle(
    session: Session, *, selection: Selection, observables: bool = False
) -> dict[str, Any]:
    """The selection as one STIX 2.1 bundle (a dict); ``observables`` adds each indicator's
    SCO. For large selections stream it with :func:`write_bundle` instead."""
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": list(_Export(session, selection, observables=observables).objects()),
    }


def write_bundle(
    session: Session,
    *,
    selection: Selection,
    output: IO[bytes] | Path,
    observables: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Stream the selection's bundle into a binary file (or a path), one object at a time.

    ``on_progress`` gets the number of indicators written so far. Indicators are read in
    batches from :attr:`Selection.indicator_query` when it is set, so memory stays flat.
    """
    if isinstance(output, Path):
        with output.open("wb") as stream:
            summary = write_bundle(
                session,
                selection=selection,
                output=stream,
                observables=observables,
                on_progress=on_progress,
            )
        summary.output = str(output)
        return summary
    started = time.perf_counter()
    bundle_id = f"bundle--{uuid.uuid4()}"
    export = _Export(session, selection, observables=observables, on_progress=on_progress)
    counts: Counter[str] = Counter()
    output.write(b'{"type":"bundle","id":"' + bundle_id.encode() + b'","objects":[')
    for number, obj in enumerate(export.objects()):
        output.write((b",\n" if number else b"\n") + orjson.dumps(obj))
        counts[obj["type"]] += 1
    output.write(b"\n]}\n")
    summary = ExportSummary(
        title=selection.title,
        bundle_id=bundle_id,
        objects=sum(counts.values()),
        by_type=dict(counts),
        indicators_skipped=export.skipped,
        duration_s=round(time.perf_counter() - started, 3),
    )
    log.info(
        "stix export %r bundle=%s objects=%d in %.2fs",
        selection.title,
        bundle_id,
        summary.objects,
        summary.duration_s,
    )
    return summary


class _Export:
    """One export's state: ids handed out, TLPs seen, markings used."""

    def __init__(
        self,
        session: Session,
        selection: Selection,
        *,
        observables: bool,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.session = session
        self.selection = selection
        self.observables = observables
        self.on_progress = on_progress
        self.floor = selection.tlp
        self.markings: set[str] = set()
        self.skipped = 0
        # Every exported id, for reports' object_refs; only kept when a report needs it.
        self.refs: list[str] | None = [] if selection.reports else None
        # Only the exceptions are kept per indicator (an id of its own, a TLP of its own),
        # so a streamed export of millions does not hold them all.
        self.indicator_ids: dict[uuid.UUID, str] = {}
        self.indicator_tlps: dict[uuid.UUID, str] = {}
        self.exported_indicators: set[uuid.UUID] | None = None
        self.actor_ids = self._ids(
            "intrusion-set", "threat_actors", [actor.id for actor in selection.actors]
        )
        self.actor_tlps = {actor.id: actor_tlp(actor) for actor in selection.actors}
        self.campaign_ids = self._ids(
            "campaign", "threat_campaigns", [campaign.id for campaign in selection.campaigns]
        )
        self.technique_ids = self._ids(
            "attack-pattern",
            "mitre_techniques",
            [technique.technique_id for technique in selection.techniques],
        )
        self.report_ids = self._ids(
            "report", "threat_reports", [report.id for report in selection.reports]
        )
        self.catalogs = (
            attack_catalogs(session) if selection.techniques or selection.campaigns else {}
        )

    def _ids(self, stix_type: str, table: str, keys: list[_Key]) -> dict[_Key, str]:
        found = stix_ids_for(
            self.session, stix_type=stix_type, table=table, rows=[(key, None) for key in keys]
        )
        return {key: found[str(key)] for key in keys}

    # The objects, in an order a reader can follow: who made them, what they are about,
    # the indicators, how they relate, the reports, and the markings used.
    def objects(self) -> Iterator[dict[str, Any]]:
        yield self._emit(dict(IDENTITY))
        for technique in self.selection.techniques:
            yield self._emit(self._attack_pattern(technique))
        for actor in self.selection.actors:
            yield self._emit(self._intrusion_set(actor))
        for campaign in self.selection.campaigns:
            yield self._emit(self._campaign(campaign))
        for obj in self._indicators():
            yield self._emit(obj)
        for obj in self._relationships():
            yield self._emit(obj)
        for report in self.selection.reports:
            yield self._report(report)
        for level in sorted(self.markings, key=list(TLP_MARKINGS).index):
            yield dict(TLP_MARKINGS[level])

    def _emit(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.refs is not None:
            self.refs.append(obj["id"])
        return obj

    def _common(
        self,
        stix_type: str,
        stix_id: str,
        created: datetime | None,
        modified: datetime | None,
        *tlps: str | None,
    ) -> dict[str, Any]:
        level = strictest(self.floor, *tlps)
        if level is not None:
            self.markings.add(level)
        return _common(stix_type, stix_id, created, modified, level)

    # --- Knowledge objects ---

    def _technique_entry(self, technique_id: str) -> tuple[str, dict[str, Any]]:
        for domain, catalog in self.catalogs.items():
            entry = (catalog.get("techniques") or {}).get(technique_id)
            if isinstance(entry, dict):
                return domain, entry
        return "enterprise-attack", {}

    def _attack_pattern(self, technique: MitreTechnique) -> dict[str, Any]:
        domain, entry = self._technique_entry(technique.technique_id)
        source = ATTACK_SOURCES.get(domain, "mitre-attack")
        url = entry.get("url") or (
            f"https://attack.mitre.org/techniques/{technique.technique_id.replace('.', '/')}/"
        )
        obj = self._common(
            "attack-pattern",
            self.technique_ids[technique.technique_id],
            technique.created_at,
            technique.updated_at,
        )
        obj["name"] = technique.technique_name
        if technique.description:
            obj["description"] = technique.description
        obj["external_references"] = [
            {"source_name": source, "external_id": technique.technique_id, "url": url}
        ]
        tactics = [t for t in (technique.tactic or "").split(", ") if t]
        if tactics:
            obj["kill_chain_phases"] = [
                {"kill_chain_name": source, "phase_name": tactic} for tactic in tactics
            ]
        return obj

    def _intrusion_set(self, actor: ThreatActor) -> dict[str, Any]:
        obj = self._common(
            "intrusion-set",
            self.actor_ids[actor.id],
            actor.created_at,
            actor.updated_at,
            self.actor_tlps.get(actor.id),
        )
        obj["name"] = actor.actor_name
        if actor.description:
            obj["description"] = actor.description
        aliases = _strings(actor.aliases, without=actor.actor_name)
        if aliases:
            obj["aliases"] = aliases
        _seen(obj, actor.first_observed, actor.last_observed)
        motivations = [
            m
            for m in (
                str(item).strip().lower().replace(" ", "-").replace("_", "-")
                for item in (actor.motivations if isinstance(actor.motivations, list) else ())
            )
            if m in MOTIVATIONS
        ]
        if motivations:
            obj["primary_motivation"] = motivations[0]
            if motivations[1:]:
                obj["secondary_motivations"] = list(dict.fromkeys(motivations[1:]))
        data = actor.attribution_data if isinstance(actor.attribution_data, dict) else {}
        owner = data.get(OWNER_KEY)
        if isinstance(owner, dict) and owner.get("attack_id"):
            obj["external_references"] = [_reference("mitre-attack", owner)]
        return obj

    def _campaign_entry(self, campaign: ThreatCampaign) -> dict[str, Any]:
        for catalog in self.catalogs.values():
            for attack_id, entry in (catalog.get("campaigns") or {}).items():
                if isinstance(entry, dict) and entry.get("row_id") == str(campaign.id):
                    return {**entry, "attack_id": attack_id}
        return {}

    def _campaign(self, campaign: ThreatCampaign) -> dict[str, Any]:
        obj = self._common(
            "campaign",
            self.campaign_ids[campaign.id],
            campaign.created_at,
            campaign.updated_at,
            campaign_tlp(campaign),
        )
        obj["name"] = campaign.campaign_name
        if campaign.description:
            obj["description"] = campaign.description
        entry = self._campaign_entry(campaign)
        aliases = _strings(entry.get("aliases"), without=campaign.campaign_name)
        if aliases:
            obj["aliases"] = aliases
        _seen(obj, campaign.first_observed, campaign.last_observed)
        if entry.get("attack_id"):
            obj["external_references"] = [_reference("mitre-attack", entry)]
        return obj

    def _report(self, report: ThreatReport) -> dict[str, Any]:
        stix_id = self.report_ids[report.id]
        obj = self._common(
            "report", stix_id, report.created_at, report.updated_at, report_tlp(report)
        )
        obj["name"] = report.title
        description = "\n\n".join(
            text for text in (report.executive_summary, report.detailed_analysis) if text
        )
        if description:
            obj["description"] = description
        kind = getattr(report.report_type, "value", report.report_type)
        obj["report_types"] = [REPORT_TYPES.get(str(kind), "threat-report")]
        obj["published"] = timestamp(report.published_at or report.created_at)
        # object_refs may not be empty; the identity is always there to keep it valid.
        obj["object_refs"] = list(dict.fromkeys(self.refs or [IDENTITY_ID]))
        return obj

    # --- Indicators ---

    def _indicator_batches(self) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
        """The indicators with their metadata, in batches; streamed when the selection has a
        statement."""
        statement = self.selection.indicator_query
        if statement is None:
            self.exported_indicators = {i.id for i in self.selection.indicators}
            loaded = [(i, i.metadata_) for i in self.selection.indicators]
            for start in range(0, len(loaded), STREAM_BATCH):
                yield [(row, found or {}) for row, found in loaded[start : start + STREAM_BATCH]]
            return
        columns = statement.with_only_columns(*INDICATOR_COLUMNS)
        result = self.session.execute(columns.execution_options(yield_per=STREAM_BATCH))
        for batch in result.partitions():
            yield [(row, indicator_metadata(row)) for row in batch]

    def _indicators(self) -> Iterator[dict[str, Any]]:
        done = 0
        for batch in self._indicator_batches():
            ids = stix_ids_for(
                self.session,
                stix_type="indicator",
                table="threat_indicators",
                rows=[(row.id, metadata) for row, metadata in batch],
            )
            for row, metadata in batch:
                done += 1
                stix_id = ids[str(row.id)]
                tlp = indicator_tlp(metadata)
                level = strictest(self.floor, tlp)
                obj = indicator_object(row, metadata=metadata, stix_id=stix_id, tlp=level)
                if obj is None:
                    self.skipped += 1
                    log.warning("stix export: no pattern for indicator %s", row.id)
                    continue
                if stix_id != own_stix_id("indicator", "threat_indicators", row.id):
                    self.indicator_ids[row.id] = stix_id
                if tlp is not None:
                    self.indicator_tlps[row.id] = tlp
                if level is not None:
                    self.markings.add(level)
                yield obj
                if self.observables:
                    observable = _observable_of(row, metadata)
                    if observable is not None:
                        yield observable
                if self.on_progress is not None and done % 1000 == 0:
                    self.on_progress(done)
        if self.on_progress is not None:
            self.on_progress(done)

    def _indicator_ref(self, row_id: uuid.UUID) -> str:
        return self.indicator_ids.get(row_id) or own_stix_id(
            "indicator", "threat_indicators", row_id
        )

    # --- Relationships ---

    def _relationship(
        self,
        source: str,
        kind: str,
        target: str,
        when: datetime | None,
        *tlps: str | None,
    ) -> dict[str, Any]:
        stix_id = f"relationship--{uuid.uuid5(NAMESPACE, f'relationship:{source}:{kind}:{target}')}"
        obj = self._common("relationship", stix_id, when, when, *tlps)
        obj["relationship_type"] = kind
        obj["source_ref"] = source
        obj["target_ref"] = target
        return obj

    def _relationships(self) -> Iterator[dict[str, Any]]:
        selection = self.selection
        names = {actor.actor_name.lower(): actor.id for actor in selection.actors}
        for campaign in selection.campaigns:
            for actor_id in sorted(attributed_actor_ids(self.session, campaign, names), key=str):
                yield self._relationship(
                    self.campaign_ids[campaign.id],
                    "attributed-to",
                    self.actor_ids[actor_id],
                    campaign.updated_at,
                    self.actor_tlps.get(actor_id),
                )
        for actor in selection.actors:
            for technique_id in actor_technique_ids(actor):
                if technique_id in self.technique_ids:
                    yield self._relationship(
                        self.actor_ids[actor.id],
                        "uses",
                        self.technique_ids[technique_id],
                        actor.updated_at,
                        self.actor_tlps.get(actor.id),
                    )
        for campaign in selection.campaigns:
            for technique_id in campaign_technique_ids(campaign):
                if technique_id in self.technique_ids:
                    yield self._relationship(
                        self.campaign_ids[campaign.id],
                        "uses",
                        self.technique_ids[technique_id],
                        campaign.updated_at,
                    )
        yield from self._indicator_links(
            ActorIndicator.actor_id, ActorIndicator.associated_at, self.actor_ids
        )
        yield from self._indicator_links(
            CampaignIndicator.campaign_id, CampaignIndicator.associated_at, self.campaign_ids
        )
        yield from self._indicator_links(
            IndicatorTechnique.technique_id, IndicatorTechnique.mapped_at, self.technique_ids
        )

    def _indicator_links(
        self, target: Any, when: Any, stix_ids: Mapping[Any, str]
    ) -> Iterator[dict[str, Any]]:
        """``indicates`` from each exported indicator to the exported targets it is linked to
        in ``target``'s link table, streamed."""
        if not stix_ids:
            return
        table = target.class_
        statement = (
            sa.select(table.indicator_id, target, when)
            .where(target.in_(list(stix_ids)))
            .order_by(table.indicator_id, target)
        )
        if self.selection.indicator_query is not None:
            exported = self.selection.indicator_query.with_only_columns(ThreatIndicator.id)
            statement = statement.where(table.indicator_id.in_(exported.order_by(None)))
        rows = self.session.execute(statement.execution_options(yield_per=STREAM_BATCH))
        for indicator_id, target_key, linked_at in rows:
            if (
                self.exported_indicators is not None
                and indicator_id not in self.exported_indicators
            ):
                continue
            tlp = self.indicator_tlps.get(indicator_id)
            yield self._relationship(
                self._indicator_ref(indicator_id),
                "indicates",
                stix_ids[target_key],
                linked_at,
                tlp,
                self.actor_tlps.get(target_key),
            )


# --- Small readers of our JSON columns -------------------------------------------------------


def _strings(value: Any, *, without: str | None = None) -> list[str]:
    items: Iterable[Any] = value if isinstance(value, list) else ()
    found = [str(item).strip() for item in items if isinstance(item, str) and item.strip()]
    return [item for item in dict.fromkeys(found) if item != without]


def _seen(obj: dict[str, Any], first: datetime | None, last: datetime | None) -> None:
    if first is not None:
        obj["first_seen"] = timestamp(first)
    # STIX requires last_seen ≥ first_seen; a contradicting pair keeps only the start.
    if last is not None and (first is None or last >= first):
        obj["last_seen"] = timestamp(last)


def _reference(source: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    reference = {"source_name": source, "external_id": str(entry["attack_id"])}
    if isinstance(entry.get("url"), str) and entry["url"]:
        reference["url"] = entry["url"]
    return reference


def _describe(
    indicator_type: str,
    severity: str | None,
    threat_score: Decimal | float | None,
    metadata: Mapping[str, Any],
) -> str:
    """What the store knows of an indicator that STIX has no property for, in words."""
    given = metadata.get("description")
    parts = [given.strip()] if isinstance(given, str) and given.strip() else []
    facts = []
    if severity:
        facts.append(f"severity {severity}")
    if threat_score is not None:
        facts.append(f"threat score {round(float(threat_score))}/100")
    sources = metadata.get("sources")
    if isinstance(sources, dict) and sources:
        facts.append(f"reported by {len(sources)} source{'s' if len(sources) > 1 else ''}")
    families = _strings(metadata.get("malware_families"))
    if families:
        facts.append(f"malware: {', '.join(families)}")
    parts.append(f"A {indicator_type} indicator" + (f": {'; '.join(facts)}." if facts else "."))
    return " ".join(parts)


def _confidence(value: Decimal | float | None) -> int | None:
    if value is None:
        return None
    return max(0, min(100, round(float(value))))
