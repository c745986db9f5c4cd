"""STIX 2.1 (and 2.0) bundles into the platform: every object kept, the known ones mapped.

Every object with a type and an id lands in the STIX object store (``stix_objects``), newest
version by id: re-importing a bundle updates instead of duplicating, a newer ``modified``
wins and an older one is ignored. Objects of these types also become rows of ours:

- ``indicator`` whose pattern is one or more simple comparisons (``[ipv4-addr:value = '…']``
  joined by ``OR``) and the observables ``ipv4-addr``, ``ipv6-addr``, ``domain-name``,
  ``url``, ``email-addr``, ``file`` (hashes), also inside 2.0 ``observed-data``: indicators,
  read by the ``stix`` feed format's parser and stored by the ingestion pipeline, so
  normalisation, warninglists, scoring and intelligence records work as for any feed. The
  malware an ``indicates`` relationship names becomes the value's malware family. Any other
  pattern (``AND``, qualifiers, other paths or languages) is kept whole in the object store:
  ``stix_objects`` rows of type ``indicator`` with no ``local_table``.
- ``threat-actor`` and ``intrusion-set`` → ``threat_actors`` (matched by STIX id, then by
  name); ``campaign`` → ``threat_campaigns``; ``attack-pattern`` carrying an ATT&CK id →
  ``mitre_techniques`` (created when missing; an imported ATT&CK row is left as it is);
  ``report`` → ``threat_reports`` with ``indicators_referenced`` from its ``object_refs``.
- ``relationship``: indicator ``indicates`` / ``attributed-to`` an actor → ``actor_indicators``,
  a campaign → ``campaign_indicators``, an ATT&CK technique → ``indicator_techniques``;
  campaign ``attributed-to`` an actor → ``threat_campaigns.attributed_actors``.

The rest (malware, tools, identities, sightings, marking definitions, locations, custom and
extension objects) is kept in the object store. ``local_table`` / ``local_id`` of a stored
object name the row it became; an indicator of several values names the first, and every
value's intelligence record carries the STIX id. Revoked objects are stored and not mapped.

An object without a type or an id, with an id not of its type, with unreadable timestamps or
text no database can hold is rejected, reported by its position; the others are imported.
"""

from __future__ import annotations

import gc
import gzip
import json
import logging
import re
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, NoReturn, cast

import orjson
from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.errors import Invalid, PayloadTooLarge
from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.reading import validate
from krsn.feeds.formats.stix_format import TLP_MARKINGS, StixFormat, StixRules, bundle_objects
from krsn.feeds.pipeline import (
    DEFAULT_BATCH,
    FeedRef,
    IngestSummary,
    SourceRef,
    Suppressor,
    prepare_batch,
    store_batch,
)
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.store import StorageForm
from krsn.sharing.models import (
    ActorIndicator,
    CampaignIndicator,
    Classification,
    IndicatorTechnique,
    MitreTechnique,
    ReportType,
    Sophistication,
    ThreatActor,
    ThreatCampaign,
    ThreatReport,
)
from krsn.sharing.stix.models import StixObject
from krsn.sharing.stix.schemas import (
    ObjectError,
    RejectedValue,
    StixImportSummary,
    TypeCounts,
)

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "STIX import"
MAX_OBJECTS = 5_000_000
MAX_REPORTED_ERRORS = 1000
STAGES = ("read", "indicators", "knowledge", "relationships", "store")

ACTOR_TYPES: Final = frozenset({"threat-actor", "intrusion-set"})
INDICATOR_TYPES: Final = frozenset(
    {"indicator", "observed-data", "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"}
    | {"file"}
)
ATTACK_SOURCES: Final = frozenset({"mitre-attack", "mitre-ics-attack", "mitre-mobile-attack"})
LINKING: Final = frozenset({"indicates", "attributed-to"})
# STIX threat-actor-sophistication-ov onto our four levels.
SOPHISTICATION: Final = {
    "none": Sophistication.LOW,
    "minimal": Sophistication.LOW,
    "intermediate": Sophistication.MEDIUM,
    "advanced": Sophistication.HIGH,
    "expert": Sophistication.EXPERT,
    "innovator": Sophistication.EXPERT,
    "strategic": Sophistication.EXPERT,
}
REPORT_TYPES: Final = {
    "threat-actor": ReportType.THREAT_ACTOR,
    "intrusion-set": ReportType.THREAT_ACTOR,
    "campaign": ReportType.CAMPAIGN,
}
CLASSIFICATION: Final = {
    "tlp:white": Classification.PUBLIC,
    "tlp:clear": Classification.PUBLIC,
    "tlp:red": Classification.CONFIDENTIAL,
}

_ID: Final = re.compile(
    r"^([a-z0-9][a-z0-9-]*)--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}$"
)
# PostgreSQL holds no NUL in text or JSON; dumps writes it as this escape.
_NUL: Final = "\\u0000"
_CHUNK = 10_000

# Statements sent straight to the driver name only these constants (S608).
_OBJECTS = StixObject.__tablename__
_OBJECT_COLUMNS = (
    "stix_id",
    "stix_type",
    "spec_version",
    "created",
    "modified",
    "revoked",
    "object",
    "added_at",
    "local_table",
    "local_id",
)
_INDICATORS = "threat_indicators"


# --- Reading --------------------------------------------------------------------------------


def _not_json(data: bytes) -> NoReturn:
    try:
        json.loads(data)
    except json.JSONDecodeError as exc:
        raise Invalid(
            "bundle", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise Invalid("bundle", f"not JSON: {exc}") from None
    raise Invalid("bundle", "not JSON")


def _reject_constant(name: str) -> NoReturn:
    raise Invalid("bundle", f"not JSON: {name} is not a JSON number")


def load_document(
    data: bytes | str | Path | Mapping[str, Any] | list[Any], *, max_bytes: int | None = None
) -> Any:
    """A bundle's JSON from bytes, a ``.json`` / ``.json.gz`` file, or a document as given."""
    if isinstance(data, Mapping | list):
        return data
    if isinstance(data, Path):
        try:
            raw = data.read_bytes()
        except OSError as exc:
            raise Invalid("file", f"cannot read {data.name}: {exc.strerror or exc}") from exc
    else:
        raw = data.encode() if isinstance(data, str) else data
    if raw[:2] == b"\x1f\x8b":  # saved downloads are often renamed: sniff, not trust a suffix
        raw = _gunzip(raw, max_bytes)
    if max_bytes is not None and len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"The bundle is {len(raw):,} bytes, over the limit of {max_bytes:,}; split it."
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    # The standard parser reads what orjson refuses (lone surrogates: rejected per object
    # later) and says where the document breaks.
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        _not_json(raw)


def _gunzip(raw: bytes, max_bytes: int | None) -> bytes:
    # Unpacked no further than the cap: a small upload must not become gigabytes.
    unpack = zlib.decompressobj(wbits=31)
    try:
        if max_bytes is None:
            return gzip.decompress(raw)
        data = unpack.decompress(raw, max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise Invalid("bundle", f"not a readable gzip file: {exc}") from exc
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The bundle unpacks to over {max_bytes:,} bytes; split it.")
    return data


def _objects_of(document: Any) -> list[Any]:
    if isinstance(document, dict) and document.get("type") == "bundle":
        objects = document.get("objects", [])
        if not isinstance(objects, list):
            raise Invalid("bundle", "a bundle's 'objects' must be a list")
        return objects
    try:
        return bundle_objects(document)
    except FormatError as exc:
        raise Invalid("bundle", str(exc)) from None


# --- One object -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    position: int
    obj: dict[str, Any]
    stix_id: str
    stix_type: str
    spec_version: str | None
    created: datetime | None
    modified: datetime | None
    revoked: bool
    text: str
    state: str = "new"
    """new, newer (than stored), same (as stored), older, rejected"""
    local_table: str | None = None
    local_id: str | None = None


class _Rejected(Exception):
    pass


def _time(value: Any, name: str, cache: dict[str, datetime]) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Rejected(f"{name} is not a timestamp")
    moment = cache.get(value)
    if moment is None:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Rejected(f"{name} {value[:40]!r} is not an RFC 3339 timestamp") from None
        if moment.tzinfo is None:
            raise _Rejected(f"{name} {value[:40]!r} has no time zone (STIX times end in Z)")
        cache[value] = moment
    return moment


def _entry(position: int, obj: Any, spec: str | None, times: dict[str, datetime]) -> _Entry:
    if not isinstance(obj, dict):
        raise _Rejected("not a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str) or not kind:
        raise _Rejected("no type")
    stix_id = obj.get("id")
    if not isinstance(stix_id, str) or not stix_id:
        raise _Rejected("no id")
    found = _ID.match(stix_id)
    if found is None:
        raise _Rejected(f"id {stix_id[:80]!r} is not TYPE--UUID")
    if found.group(1) != kind:
        raise _Rejected(f"id {stix_id[:80]!r} is not of type {kind[:40]!r}")
    if kind == "bundle":
        raise _Rejected("a bundle inside a bundle")
    if len(kind) > 250:
        raise _Rejected("type longer than 250 characters")
    try:
        text = orjson.dumps(obj).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise _Rejected(f"cannot be stored: {exc}") from None
    if _NUL in text:
        raise _Rejected("holds the NUL character (\\u0000), which cannot be stored")
    version = obj.get("spec_version") or spec
    return _Entry(
        position=position,
        obj=obj,
        stix_id=stix_id,
        stix_type=kind,
        spec_version=str(version)[:16] if version else None,
        created=_time(obj.get("created"), "created", times),
        modified=_time(obj.get("modified"), "modified", times),
        revoked=obj.get("revoked") is True,
        text=text,
    )


# --- The import -----------------------------------------------------------------------------


@dataclass
class _Run:
    session: Session
    connection: Connection
    form: StorageForm
    summary: StixImportSummary
    source: SourceRef
    now: datetime
    feed: FeedRef | None = None
    rules: StixRules = field(default_factory=StixRules)
    run_id: str = field(default_factory=lambda: f"stix-{uuid.uuid4()}")
    entries: dict[str, _Entry] = field(default_factory=dict)
    stored: dict[str, tuple[datetime | None, str | None, str | None]] = field(default_factory=dict)
    indicator_ids: dict[str, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    """STIX id → the indicators it gave in this run, in order."""

    def reject(self, position: int, obj: Any, reason: str) -> None:
        kind = obj.get("type") if isinstance(obj, dict) else None
        stix_id = obj.get("id") if isinstance(obj, dict) else None
        type_name = kind if isinstance(kind, str) and kind else "(no type)"
        self.summary.of(type_name[:250]).rejected += 1
        if len(self.summary.errors) < MAX_REPORTED_ERRORS:
            self.summary.errors.append(
                ObjectError(
                    position=position,
                    id=stix_id[:300] if isinstance(stix_id, str) else None,
                    type=kind[:250] if isinstance(kind, str) else None,
                    reason=reason,
                )
            )

    def writing(self, *types: str) -> list[_Entry]:
        """The new and newer objects of these types, not revoked."""
        wanted = set(types)
        return [
            e
            for e in self.entries.values()
            if e.state in ("new", "newer") and e.stix_type in wanted and not e.revoked
        ]

    def local(self, stix_id: str) -> tuple[str | None, list[str]]:
        """The table and the row ids a STIX id maps to, from this run or an earlier one."""
        ids = self.indicator_ids.get(stix_id)
        if ids:
            return _INDICATORS, [str(i) for i in ids]
        entry = self.entries.get(stix_id)
        if entry is not None and entry.local_table:
            return entry.local_table, [entry.local_id] if entry.local_id else []
        _, table, local_id = self.stored.get(stix_id, (None, None, None))
        return table, [local_id] if table and local_id else []


def import_bundle(
    session: Session,
    *,
    bundle: bytes | str | Path | Mapping[str, Any] | list[Any],
    source: SourceRef,
    actor: Actor,
    suppressor: Suppressor | None = None,
    max_bytes: int | None = None,
    max_objects: int = MAX_OBJECTS,
    on_progress: Callable[[str], None] | None = None,
    feed: FeedRef | None = None,
    rules: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> StixImportSummary:
    """Import one bundle in the caller's transaction; bad objects are reported, not fatal.

    A ``stix`` feed's run passes its ``feed`` (its intelligence records name it, its default
    confidence applies), its parsing ``rules`` (see the ``stix`` feed format) and its run id.
    """
    enabled = gc.isenabled()
    # A bundle is a hundred thousand dicts that live for the whole import and hold no
    # cycles: each full collection would walk them all again, for nothing.
    gc.disable()
    try:
        return _import(
            session,
            bundle=bundle,
            source=source,
            actor=actor,
            suppressor=suppressor,
            max_bytes=max_bytes,
            max_objects=max_objects,
            on_progress=on_progress,
            feed=feed,
            rules=validate(StixRules, rules),
            run_id=run_id or f"stix-{uuid.uuid4()}",
        )
    finally:
        if enabled:
            gc.enable()


def _import(
    session: Session,
    *,
    bundle: bytes | str | Path | Mapping[str, Any] | list[Any],
    source: SourceRef,
    actor: Actor,
    suppressor: Suppressor | None,
    max_bytes: int | None,
    max_objects: int,
    on_progress: Callable[[str], None] | None,
    feed: FeedRef | None,
    rules: StixRules,
    run_id: str,
) -> StixImportSummary:
    started = time.perf_counter()
    report = on_progress or (lambda stage: None)
    document = load_document(bundle, max_bytes=max_bytes)
    objects = _objects_of(document)
    if len(objects) > max_objects:
        raise PayloadTooLarge(
            f"The bundle holds {len(objects):,} objects, over the limit of {max_objects:,}; "
            "split it."
        )
    spec = document.get("spec_version") if isinstance(document, dict) else None
    bundle_id = document.get("id") if isinstance(document, dict) else None
    summary = StixImportSummary(
        source=source.name,
        bundle_id=bundle_id if isinstance(bundle_id, str) else None,
        spec_version=spec if isinstance(spec, str) else None,
        objects=len(objects),
    )
    connection = session.connection()
    run = _Run(
        session,
        connection,
        StorageForm(connection),
        summary,
        source,
        utcnow(),
        feed=feed,
        rules=rules,
        run_id=run_id,
    )
    _read(run, objects, spec if isinstance(spec, str) else None)
    report("read")
    _import_indicators(run, objects, document, suppressor)
    report("indicators")
    _import_actors(run)
    _import_campaigns(run)
    _import_techniques(run)
    _import_reports(run)
    report("knowledge")
    _link(run)
    report("relationships")
    _store(run)
    _count(run)
    summary.duration_s = round(time.perf_counter() - started, 3)
    audit.record(
        session,
        actor=actor,
        action="stix.import",
        resource_type="stix_bundle",
        resource_id=summary.bundle_id,
        details={
            "source": source.name,
            "objects": summary.objects,
            "total": summary.total.model_dump(),
            "indicators": summary.indicators.model_dump(exclude={"errors"}),
            "links": summary.links.model_dump(),
        },
    )
    session.flush()
    report("store")
    log.info(
        "stix import bundle=%s source=%s objects=%d %s in %.2fs",
        summary.bundle_id,
        source.name,
        summary.objects,
        summary.total.model_dump(),
        summary.duration_s,
    )
    return summary


def _read(run: _Run, objects: list[Any], spec: str | None) -> None:
    """Check each object and decide, against the store, which versions to write."""
    times: dict[str, datetime] = {}
    entries = run.entries
    for position, obj in enumerate(objects, start=1):
        try:
            entry = _entry(position, obj, spec, times)
        except _Rejected as exc:
            run.reject(position, obj, str(exc))
            continue
        twin = entries.get(entry.stix_id)
        if twin is not None:
            # Two versions in one bundle: the newer one is the candidate, the other is older.
            if _newer(entry.modified, twin.modified):
                twin.state = "older"
                entries[entry.stix_id] = entry
                run.summary.of(twin.stix_type).unchanged += 1
            else:
                run.summary.of(entry.stix_type).unchanged += 1
            continue
        entries[entry.stix_id] = entry
    run.stored = _stored(run, list(entries))
    for stix_id, entry in entries.items():
        known = run.stored.get(stix_id)
        if known is None:
            continue
        if _newer(entry.modified, known[0]):
            entry.state = "newer"
        else:
            entry.state = "same" if entry.modified == known[0] else "older"
            entry.local_table, entry.local_id = known[1], known[2]


def _newer(modified: datetime | None, than: datetime | None) -> bool:
    if modified is None:
        return False  # observables have no versions: the first one stays
    return than is None or modified > than


def _stored(
    run: _Run, stix_ids: Sequence[str]
) -> dict[str, tuple[datetime | None, str | None, str | None]]:
    """Stored versions of these ids: modified, local table and row."""
    form, found = run.form, {}
    for start in range(0, len(stix_ids), _CHUNK):
        chunk = stix_ids[start : start + _CHUNK]
        sql = (
            "SELECT stix_id, modified, local_table, local_id "  # noqa: S608
            f"FROM {_OBJECTS} WHERE {form.in_list('stix_id')}"
        )
        for stix_id, modified, table, local_id in form.fetch(
            run.connection, sql, (form.id_list(chunk),)
        ):
            found[stix_id] = (form.read_time(modified), table, local_id)
    return found


# --- Indicators -----------------------------------------------------------------------------


def _import_indicators(
    run: _Run, objects: list[Any], document: Any, suppressor: Suppressor | None
) -> None:
    entries = {e.position: e for e in run.writing(*INDICATOR_TYPES)}
    if run.feed is not None:
        # A feed that still lists a value reports it again, changed or not: its last
        # sighting moves on as for any other feed format.
        for entry in run.entries.values():
            if entry.state == "same" and entry.stix_type in INDICATOR_TYPES and not entry.revoked:
                entries[entry.position] = entry
    if not entries:
        return
    counts = run.summary.indicators
    rows: list[ParsedRow] = []
    refused: dict[int, str] = {}
    patterns: set[int] = set()
    parser = StixFormat()
    for item in parser.rows_of(objects, run.rules, document=document, only=entries.keys()):
        if isinstance(item, ParseError):
            refused.setdefault(item.line, item.reason)
        elif item.kind is None:
            patterns.add(item.line)
        else:
            rows.append(item)
    for position, reason in refused.items():
        entry = entries.pop(position)
        entry.state = "rejected"
        run.reject(position, entry.obj, reason)
    counts.patterns = len(patterns - refused.keys())
    rows = [row for row in rows if row.line not in refused]
    ingested = IngestSummary()
    for start in range(0, len(rows), DEFAULT_BATCH):
        batch = rows[start : start + DEFAULT_BATCH]
        prepared = prepare_batch(
            batch,
            source=run.source,
            feed=run.feed,
            suppressor=suppressor,
            summary=ingested,
            now=run.now,
        )
        ingested.count(
            store_batch(
                run.session,
                prepared=prepared,
                source=run.source,
                feed=run.feed,
                run_id=run.run_id,
                now=run.now,
            )
        )
        ids = _indicator_ids(run, [p.indicator.signature for p in prepared])
        for entry_prepared in prepared:
            position = entry_prepared.processed["line"]
            found = ids.get(entry_prepared.indicator.signature)
            if found is not None and found not in run.indicator_ids[entries[position].stix_id]:
                run.indicator_ids[entries[position].stix_id].append(found)
    counts.values = len(rows)
    counts.new, counts.updated, counts.unchanged = (
        ingested.new,
        ingested.updated,
        ingested.unchanged,
    )
    counts.rejected, counts.suppressed = ingested.rejected, ingested.suppressed
    counts.errors = [
        RejectedValue(position=e["line"], value=e.get("value"), reason=e["reason"])
        for e in ingested.errors
    ]
    for stix_id, given in run.indicator_ids.items():
        entry = run.entries[stix_id]
        entry.local_table, entry.local_id = _INDICATORS, str(given[0])


def _indicator_ids(run: _Run, signatures: list[str]) -> dict[str, uuid.UUID]:
    form, found = run.form, {}
    unique = sorted(set(signatures))
    for start in range(0, len(unique), _CHUNK):
        sql = (
            f"SELECT hash_signature, id FROM {_INDICATORS} "  # noqa: S608
            f"WHERE {form.in_list('hash_signature')}"
        )
        chunk = unique[start : start + _CHUNK]
        for signature, row_id in form.fetch(run.connection, sql, (form.id_list(chunk),)):
            found[signature] = row_id if isinstance(row_id, uuid.UUID) else uuid.UUID(row_id)
    return found


# --- Actors, campaigns, techniques, reports -------------------------------------------------


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _moment(value: Any) -> datetime | None:
    try:
        return _time(value, "time", {})
    except _Rejected:
        return None


def _mapped_row(run: _Run, entry: _Entry, table: str) -> uuid.UUID | None:
    known = run.stored.get(entry.stix_id)
    if known is not None and known[1] == table and known[2]:
        try:
            return uuid.UUID(known[2])
        except ValueError:
            return None
    return None


def _import_actors(run: _Run) -> None:
    entries = [e for e in run.writing(*ACTOR_TYPES) if _text(e.obj.get("name"))]
    if not entries:
        return
    table = cast(Table, ThreatActor.__table__)
    mapped = {r for e in entries if (r := _mapped_row(run, e, "threat_actors"))}
    rows: dict[uuid.UUID, Any] = {
        row.id: row
        for row in run.session.execute(
            select(table.c.id, table.c.actor_name, table.c.attribution_data).where(
                table.c.id.in_(mapped) | func.lower(table.c.actor_name).in_(_names(entries))
            )
        )
    }
    by_name = {row.actor_name.lower(): row.id for row in rows.values()}
    inserts: list[dict[str, Any]] = []
    for entry in entries:
        obj = entry.obj
        name = str(obj["name"])[:255]
        row_id = _mapped_row(run, entry, "threat_actors")
        if row_id not in rows:
            row_id = by_name.get(name.lower())
        motivations = _strings([obj.get("primary_motivation")]) + _strings(
            obj.get("secondary_motivations")
        )
        stix = {
            "id": entry.stix_id,
            "type": entry.stix_type,
            "modified": obj.get("modified"),
            "types": _strings(obj.get("threat_actor_types")),
            "roles": _strings(obj.get("roles")),
            "goals": _strings(obj.get("goals")),
            "resource_level": obj.get("resource_level"),
        }
        values: dict[str, Any] = {
            "aliases": _strings(obj.get("aliases")) or None,
            "description": _text(obj.get("description")),
            "sophistication": SOPHISTICATION.get(str(obj.get("sophistication"))),
            "motivations": motivations or None,
            "first_observed": _moment(obj.get("first_seen")),
            "last_observed": _moment(obj.get("last_seen")),
        }
        values = {key: value for key, value in values.items() if value is not None}
        if row_id is None:
            row_id = uuid.uuid4()
            data = {"stix": stix}
            inserts.append(
                {
                    "id": row_id,
                    "actor_name": name,
                    "aliases": values.get("aliases"),
                    "description": values.get("description"),
                    "sophistication": values.get("sophistication"),
                    "motivations": values.get("motivations", []),
                    "target_industries": [],
                    "target_countries": [],
                    "known_tools": [],
                    "attribution_data": data,
                    "first_observed": values.get("first_observed"),
                    "last_observed": values.get("last_observed"),
                }
            )
            rows[row_id] = _Held(row_id, name, data)
            by_name[name.lower()] = row_id
        else:
            held = rows[row_id]
            old = held.attribution_data if isinstance(held.attribution_data, dict) else {}
            values["attribution_data"] = {**old, "stix": stix}
            if by_name.get(name.lower(), row_id) == row_id:
                values["actor_name"] = name  # a rename onto another actor's name is not taken
            run.session.execute(update(table).where(table.c.id == row_id).values(values))
        entry.local_table, entry.local_id = "threat_actors", str(row_id)
    if inserts:
        run.session.execute(insert(table), inserts)


@dataclass(slots=True)
class _Held:
    """A row this import inserted, standing in for it in later look-ups."""

    id: uuid.UUID
    actor_name: str
    attribution_data: Any


def _names(entries: Iterable[_Entry]) -> list[str]:
    # Names are matched case-insensitively, as the ATT&CK import matches them.
    return sorted({str(e.obj["name"])[:255].lower() for e in entries})


def _import_campaigns(run: _Run) -> None:
    entries = [e for e in run.writing("campaign") if _text(e.obj.get("name"))]
    if not entries:
        return
    table = cast(Table, ThreatCampaign.__table__)
    mapped = {r for e in entries if (r := _mapped_row(run, e, "threat_campaigns"))}
    rows = {
        row.id: row.campaign_name
        for row in run.session.execute(
            select(table.c.id, table.c.campaign_name).where(
                table.c.id.in_(mapped) | func.lower(table.c.campaign_name).in_(_names(entries))
            )
        )
    }
    by_name = {name.lower(): row_id for row_id, name in rows.items()}
    inserts: list[dict[str, Any]] = []
    for entry in entries:
        obj = entry.obj
        name = str(obj["name"])[:255]
        row_id = _mapped_row(run, entry, "threat_campaigns")
        if row_id not in rows:
            row_id = by_name.get(name.lower())
        values = {
            "description": _text(obj.get("description")),
            "first_observed": _moment(obj.get("first_seen")),
            "last_observed": _moment(obj.get("last_seen")),
        }
        values = {key: value for key, value in values.items() if value is not None}
        if row_id is None:
            row_id = uuid.uuid4()
            inserts.append(
                {
                    "id": row_id,
                    "campaign_name": name,
                    "description": values.get("description"),
                    "first_observed": values.get("first_observed"),
                    "last_observed": values.get("last_observed"),
                    "tactics": [],
                    "techniques": [],
                    "procedures": [],
                    "attributed_actors": [],
                }
            )
            rows[row_id] = name
            by_name[name.lower()] = row_id
        else:
            if by_name.get(name.lower(), row_id) == row_id:
                values["campaign_name"] = name
            if values:
                run.session.execute(update(table).where(table.c.id == row_id).values(values))
        entry.local_table, entry.local_id = "threat_campaigns", str(row_id)
    if inserts:
        run.session.execute(insert(table), inserts)


def attack_id(obj: Mapping[str, Any]) -> str | None:
    """The ATT&CK id (T1566.001) an object's external references give, if any."""
    for ref in obj.get("external_references") or ():
        if (
            isinstance(ref, dict)
            and ref.get("source_name") in ATTACK_SOURCES
            and isinstance(ref.get("external_id"), str)
            and len(ref["external_id"]) <= 32
        ):
            return str(ref["external_id"])
    return None


def _import_techniques(run: _Run) -> None:
    found = {e.stix_id: (e, attack_id(e.obj)) for e in run.writing("attack-pattern")}
    wanted = {technique for _, technique in found.values() if technique}
    if not wanted:
        return
    table = cast(Table, MitreTechnique.__table__)
    existing = set(
        run.session.scalars(select(table.c.technique_id).where(table.c.technique_id.in_(wanted)))
    )
    inserts: list[dict[str, Any]] = []
    for entry, technique in found.values():
        if technique is None:
            continue
        if technique not in existing:
            obj = entry.obj
            phases = sorted(
                {
                    str(p["phase_name"])
                    for p in obj.get("kill_chain_phases") or ()
                    if isinstance(p, dict)
                    and str(p.get("kill_chain_name", "")).startswith("mitre-")
                    and p.get("phase_name")
                }
            )
            inserts.append(
                {
                    "technique_id": technique,
                    "technique_name": str(obj.get("name") or technique)[:255],
                    "description": _text(obj.get("description")),
                    "tactic": ", ".join(phases)[:255] or None,
                    "data_sources": _strings(obj.get("x_mitre_data_sources")),
                    "platforms": _strings(obj.get("x_mitre_platforms")),
                    "defenses_bypassed": _strings(obj.get("x_mitre_defense_bypassed")),
                }
            )
            existing.add(technique)
        entry.local_table, entry.local_id = "mitre_techniques", technique
    if inserts:
        run.session.execute(insert(table), inserts)


def _tlp(obj: Mapping[str, Any], markings: Mapping[str, str]) -> str | None:
    for ref in _strings(obj.get("object_marking_refs")):
        if ref in markings:
            return markings[ref]
    return None


def _markings(run: _Run) -> dict[str, str]:
    found = dict(TLP_MARKINGS)
    for entry in run.entries.values():
        obj = entry.obj
        definition = obj.get("definition")
        if (
            entry.stix_type == "marking-definition"
            and isinstance(definition, dict)
            and obj.get("definition_type") == "tlp"
            and definition.get("tlp")
        ):
            found[entry.stix_id] = f"tlp:{str(definition['tlp']).lower()}"
    return found


def _import_reports(run: _Run) -> None:
    entries = [e for e in run.writing("report") if _text(e.obj.get("name"))]
    if not entries:
        return
    refs = {ref for e in entries for ref in _strings(e.obj.get("object_refs"))}
    _remember(run, refs)
    markings = _markings(run)
    table = cast(Table, ThreatReport.__table__)
    mapped = {r for e in entries if (r := _mapped_row(run, e, "threat_reports"))}
    existing = dict(
        run.session.execute(
            select(table.c.id, table.c["metadata"]).where(table.c.id.in_(mapped))
        ).all()
    )
    inserts: list[dict[str, Any]] = []
    for entry in entries:
        obj = entry.obj
        object_refs = _strings(obj.get("object_refs"))
        referenced: list[str] = []
        for ref in object_refs:
            local_table, ids = run.local(ref)
            if local_table == _INDICATORS:
                referenced.extend(i for i in ids if i not in referenced)
        report_types = _strings(obj.get("report_types"))
        kind = next((REPORT_TYPES[t] for t in report_types if t in REPORT_TYPES), None)
        tlp = _tlp(obj, markings)
        stix = {
            "id": entry.stix_id,
            "modified": obj.get("modified"),
            "report_types": report_types,
            "object_refs": object_refs,
            "tlp": tlp,
        }
        values: dict[str, Any] = {
            "title": str(obj["name"])[:500],
            "executive_summary": _text(obj.get("description")),
            "report_type": kind,
            "classification": CLASSIFICATION.get(tlp or "", Classification.INTERNAL),
            "indicators_referenced": referenced,
            "published_at": _moment(obj.get("published")),
        }
        row_id = _mapped_row(run, entry, "threat_reports")
        if row_id is None or row_id not in existing:
            row_id = uuid.uuid4()
            inserts.append({"id": row_id, **values, "attachments": [], "metadata": {"stix": stix}})
        else:
            old = existing[row_id] if isinstance(existing[row_id], dict) else {}
            values["metadata"] = {**old, "stix": stix}
            run.session.execute(update(table).where(table.c.id == row_id).values(values))
        entry.local_table, entry.local_id = "threat_reports", str(row_id)
    if inserts:
        run.session.execute(insert(table), inserts)


def _remember(run: _Run, stix_ids: Iterable[str]) -> None:
    """Fetch the stored mapping of ids an object refers to that this bundle does not hold."""
    missing = [i for i in stix_ids if i not in run.entries and i not in run.stored]
    if missing:
        run.stored.update(_stored(run, missing))


# --- Relationships --------------------------------------------------------------------------


def _link(run: _Run) -> None:
    relationships = [
        e
        for e in run.entries.values()
        if e.stix_type == "relationship"
        and e.state in ("new", "newer", "same")
        and not e.revoked
        and e.obj.get("relationship_type") in LINKING
    ]
    if not relationships:
        return
    _remember(
        run,
        {
            ref
            for e in relationships
            for ref in (e.obj.get("source_ref"), e.obj.get("target_ref"))
            if isinstance(ref, str)
        },
    )
    actor_links: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
    campaign_links: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
    technique_links: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
    campaign_actors: dict[uuid.UUID, dict[uuid.UUID, str]] = defaultdict(dict)
    for entry in relationships:
        obj = entry.obj
        source, target = obj.get("source_ref"), obj.get("target_ref")
        if not isinstance(source, str) or not isinstance(target, str):
            continue
        source_table, source_ids = run.local(source)
        target_table, target_ids = run.local(target)
        if not source_ids or not target_ids:
            continue
        confidence = obj.get("confidence")
        score = confidence if isinstance(confidence, int) and 0 <= confidence <= 100 else None
        evidence = f"STIX {entry.stix_id}"
        if source_table == _INDICATORS:
            for indicator in source_ids:
                indicator_id = uuid.UUID(indicator)
                if target_table == "threat_actors":
                    actor_id = uuid.UUID(target_ids[0])
                    actor_links[(actor_id, indicator_id)] = {
                        "actor_id": actor_id,
                        "indicator_id": indicator_id,
                        "confidence_score": score,
                        "evidence": evidence,
                    }
                elif target_table == "threat_campaigns":
                    campaign_id = uuid.UUID(target_ids[0])
                    campaign_links[(campaign_id, indicator_id)] = {
                        "campaign_id": campaign_id,
                        "indicator_id": indicator_id,
                        "confidence_score": score,
                        "notes": evidence,
                    }
                elif target_table == "mitre_techniques" and obj["relationship_type"] == (
                    "indicates"
                ):
                    technique_links[(indicator_id, target_ids[0])] = {
                        "indicator_id": indicator_id,
                        "technique_id": target_ids[0],
                        "confidence_score": score,
                        "evidence": evidence,
                    }
        elif (
            source_table == "threat_campaigns"
            and target_table == "threat_actors"
            and obj["relationship_type"] == "attributed-to"
        ):
            campaign_actors[uuid.UUID(source_ids[0])][uuid.UUID(target_ids[0])] = target
    links = run.summary.links
    links.actor_indicators = _insert_links(
        run, ActorIndicator, ("actor_id", "indicator_id"), actor_links
    )
    links.campaign_indicators = _insert_links(
        run, CampaignIndicator, ("campaign_id", "indicator_id"), campaign_links
    )
    links.indicator_techniques = _insert_links(
        run, IndicatorTechnique, ("indicator_id", "technique_id"), technique_links
    )
    links.campaign_actors = _attribute(run, campaign_actors)


def _insert_links(
    run: _Run, model: type, key: tuple[str, str], wanted: Mapping[tuple[Any, Any], dict[str, Any]]
) -> int:
    """Insert the links not there yet; returns how many."""
    if not wanted:
        return 0
    table = cast(Table, model.__table__)  # type: ignore[attr-defined]
    first, second = table.c[key[0]], table.c[key[1]]
    # Look up by the indicator side, the larger and always indexed one.
    by_indicator = key[1] == "indicator_id"
    probe = second if by_indicator else first
    values = sorted({pair[1] if by_indicator else pair[0] for pair in wanted}, key=str)
    present: set[tuple[Any, Any]] = set()
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        present.update(
            (a, b) for a, b in run.session.execute(select(first, second).where(probe.in_(chunk)))
        )
    rows = [{"id": uuid.uuid4(), **row} for pair, row in wanted.items() if pair not in present]
    if rows:
        run.session.execute(insert(table), rows)
    return len(rows)


def _attribute(run: _Run, wanted: Mapping[uuid.UUID, dict[uuid.UUID, str]]) -> int:
    if not wanted:
        return 0
    campaigns = cast(Table, ThreatCampaign.__table__)
    actors = cast(Table, ThreatActor.__table__)
    names = dict(
        run.session.execute(
            select(actors.c.id, actors.c.actor_name).where(
                actors.c.id.in_({a for found in wanted.values() for a in found})
            )
        ).all()
    )
    added = 0
    for campaign_id, attributed in run.session.execute(
        select(campaigns.c.id, campaigns.c.attributed_actors).where(
            campaigns.c.id.in_(list(wanted))
        )
    ).all():
        current = list(attributed) if isinstance(attributed, list) else []
        held = {str(item.get("actor_id")) for item in current if isinstance(item, dict)}
        fresh = [
            {"actor_id": str(actor_id), "name": names.get(actor_id), "stix_id": stix_id}
            for actor_id, stix_id in wanted[campaign_id].items()
            if str(actor_id) not in held and actor_id in names
        ]
        if fresh:
            added += len(fresh)
            run.session.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(attributed_actors=current + fresh)
            )
    return added


# --- The object store -----------------------------------------------------------------------


def _store(run: _Run) -> None:
    form, connection = run.form, run.connection
    added = form.time(run.now)
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    sqlite = form.sqlite
    for entry in run.entries.values():
        if entry.state not in ("new", "newer"):
            continue
        if entry.revoked and entry.local_table is None:
            _, table, local_id = run.stored.get(entry.stix_id, (None, None, None))
            entry.local_table, entry.local_id = table, local_id
        created = form.time(entry.created) if entry.created else None
        modified = form.time(entry.modified) if entry.modified else None
        revoked: Any = int(entry.revoked) if sqlite else entry.revoked
        if entry.state == "new":
            inserts.append(
                (
                    entry.stix_id,
                    entry.stix_type,
                    entry.spec_version,
                    created,
                    modified,
                    revoked,
                    entry.text,
                    added,
                    entry.local_table,
                    entry.local_id,
                )
            )
        else:
            updates.append(
                (
                    entry.spec_version,
                    created,
                    modified,
                    revoked,
                    entry.text,
                    added,
                    entry.local_table,
                    entry.local_id,
                    entry.stix_id,
                )
            )
    if inserts and form.postgresql:
        form.copy(connection, _OBJECTS, _OBJECT_COLUMNS, inserts)
    elif inserts:
        marks = ", ".join("?" * len(_OBJECT_COLUMNS))
        connection.exec_driver_sql(
            f"INSERT INTO {_OBJECTS} ({', '.join(_OBJECT_COLUMNS)}) VALUES ({marks})",  # noqa: S608
            inserts,
        )
    if updates:
        cast_json = "::jsonb" if form.postgresql else ""
        connection.exec_driver_sql(
            form.param(
                f"UPDATE {_OBJECTS} SET spec_version = ?, created = ?, modified = ?, "  # noqa: S608
                f"revoked = ?, object = ?{cast_json}, added_at = ?, local_table = ?, "
                "local_id = ? WHERE stix_id = ?"
            ),
            updates,
        )


def _count(run: _Run) -> None:
    summary = run.summary
    for entry in run.entries.values():
        counts = summary.of(entry.stix_type)
        if entry.state == "new":
            if entry.local_table:
                counts.created += 1
            else:
                counts.kept += 1
        elif entry.state == "newer":
            if entry.local_table:
                counts.updated += 1
            else:
                counts.kept += 1
        elif entry.state in ("same", "older"):
            counts.unchanged += 1
    total = TypeCounts()
    for counts in summary.types.values():
        total.add(counts)
    summary.total = total
    summary.types = dict(sorted(summary.types.items()))
