"""MISP: event JSON (``{"Event": …}``, REST ``{"response": […]}``, bare or listed events)
and MISP feeds (``manifest.json`` plus one ``<uuid>.json`` per event).

Each attribute, of the event or of its objects, whose type names an indicator becomes a row:
``ip-src`` / ``ip-dst`` (kind left to normalisation: IPv4, IPv6 or a range), their ``|port``
forms (the address; ``extra["port"]``), ``domain`` / ``hostname`` (and ``hostname|port``),
``domain|ip`` (two rows), ``url``, ``uri``, ``link`` is not (a reference), hashes ``md5``,
``sha1``, ``sha256``, ``sha512``, ``filename|<hash>`` and ``malware-sample`` (the hash;
``extra["filename"]``), e-mail addresses (``email``, ``email-src``, ``email-dst``,
``email-reply-to``, ``whois-registrant-email``). Other types (comments, filenames, registry
keys …) are skipped; the sharing import (:mod:`krsn.sharing.misp`) reads whole events.

A row carries: first_seen from the attribute's ``first_seen`` or its ``timestamp``,
last_seen from ``last_seen``; tags from the event's and the attribute's ``Tag`` lists, with
``tlp:*`` kept apart in ``extra["tlp"]`` (the attribute's own marking wins); the malware family
from a malware galaxy tag (``misp-galaxy:malpedia="…"``); the event ``info`` as description;
``extra`` with ``to_ids`` (a row even when false), ``attribute_uuid``, ``event_uuid``,
``event_id``, ``category``, ``misp_type``, ``object_name``, ``comment`` and, when the
attribute was sighted, ``sightings`` (counts by MISP sighting type and the latest date).
``line`` is the attribute's position in the input. Deleted attributes are skipped.

Rules (defaults in brackets): ``to_ids_only`` [false] skips attributes not flagged for
detection, ``include_objects`` [true] reads attributes inside MISP objects, ``tags`` [``[]``]
added to every row, ``max_bytes`` [256 MiB, per document], ``max_records`` [5,000,000].

``parse`` reads one document and ``parse_document`` one already loaded. A feed's
``manifest.json`` lists its events without their attributes: ``parse_feed`` takes the manifest
and a function that opens ``<uuid>.json`` (over HTTP for a remote feed), and
``parse_feed_directory`` does it for a local folder.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from pydantic import Field

from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.reading import (
    Limits,
    RecordCounter,
    RuledFormat,
    load_json,
    parse_datetime,
    validate,
)

HASH_TYPES: Final = ("md5", "sha1", "sha256", "sha512")

SINGLE_TYPES: Final[dict[str, str | None]] = {
    "ip-src": None,
    "ip-dst": None,
    "domain": "domain",
    "hostname": "domain",
    "url": "url",
    "uri": None,
    "email": "email",
    "email-src": "email",
    "email-dst": "email",
    "email-reply-to": "email",
    "whois-registrant-email": "email",
    **{name: name for name in HASH_TYPES},
}
"""Attribute types whose value is one indicator, and the kind MISP declares."""

MALWARE_GALAXIES: Final = re.compile(
    r"misp-galaxy:(?:malpedia|mitre-malware|mitre-enterprise-attack-malware|ransomware|"
    r'banker|stealer|rat|botnet|backdoor|android)="(?P<name>[^"]+)"'
)
_ATTACK_ID: Final = re.compile(r"\s+-\s+S\d{4}$")
_UUID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)


def attribute_values(misp_type: str, value: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    """``(value, kind, extra)`` for each indicator an attribute of this type holds."""
    if misp_type in SINGLE_TYPES:
        return [(value, SINGLE_TYPES[misp_type], {})]
    left, bar, right = value.partition("|")
    if not bar:
        return []
    if misp_type in ("ip-src|port", "ip-dst|port"):
        return [(left, None, {"port": right})]
    if misp_type == "hostname|port":
        return [(left, "domain", {"port": right})]
    if misp_type == "domain|ip":
        return [(left, "domain", {}), (right, None, {})]
    if misp_type == "malware-sample":
        # MISP stores the sample's MD5 beside its name, the file itself as an attachment.
        return [(right, "md5", {"filename": left})]
    first, _, second = misp_type.partition("|")
    if first == "filename" and second in HASH_TYPES:
        return [(right, second, {"filename": left})]
    return []


SIGHTING_TYPES: Final = {"0": "sighting", "1": "false_positive", "2": "expiration"}
"""MISP's sighting types by their code."""


def sighting_counts(sightings: Any) -> dict[str, Any] | None:
    """How often an attribute was sighted, by type, and the latest sighting; None if never."""
    if not isinstance(sightings, list) or not sightings:
        return None
    counts: dict[str, Any] = dict.fromkeys(SIGHTING_TYPES.values(), 0)
    latest: int | None = None
    for sighting in sightings:
        if not isinstance(sighting, dict):
            continue
        kind = SIGHTING_TYPES.get(str(sighting.get("type", "0")), "sighting")
        counts[kind] += 1
        with contextlib.suppress(TypeError, ValueError):
            moment = int(sighting.get("date_sighting"))  # type: ignore[arg-type]
            latest = moment if latest is None else max(latest, moment)
    counts["total"] = sum(counts.values())
    if latest is not None:
        with contextlib.suppress(ValueError, OverflowError, OSError):
            counts["last_sighted"] = parse_datetime(str(latest)).isoformat()
    return counts


class MispRules(Limits):
    """Rules of the ``misp`` format."""

    to_ids_only: bool = False
    include_objects: bool = True
    tags: list[str] = Field(default_factory=list)


def _tag_names(holder: Mapping[str, Any]) -> list[str]:
    tags = holder.get("Tag")
    names: list[str] = []
    for tag in tags if isinstance(tags, list) else ():
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def _split_tlp(names: list[str]) -> tuple[list[str], str | None]:
    tlp = None
    others = []
    for name in names:
        if name.lower().startswith("tlp:"):
            tlp = name.lower()
        else:
            others.append(name)
    return others, tlp


def _malware_family(names: list[str]) -> str | None:
    for name in names:
        match = MALWARE_GALAXIES.match(name)
        if match:
            return _ATTACK_ID.sub("", match.group("name"))
    return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


@dataclass(slots=True)
class _Event:
    """What an event gives every attribute in it."""

    tags: list[str]
    tlp: str | None
    malware_family: str | None
    info: str | None
    extra: dict[str, Any]


def _event_context(event: Mapping[str, Any] | None) -> _Event:
    if event is None:
        return _Event([], None, None, None, {})
    names = _tag_names(event)
    tags, tlp = _split_tlp(names)
    extra = {
        key: event[source]
        for key, source in (("event_uuid", "uuid"), ("event_id", "id"))
        if event.get(source) is not None
    }
    info = event.get("info")
    return _Event(tags, tlp, _malware_family(names), info if isinstance(info, str) else None, extra)


def events_of(document: Any) -> list[tuple[Mapping[str, Any] | None, list[Any]]]:
    """``(event, attribute holders)`` of every event, or object without event, in a document.

    An attribute holder is the event itself or one of its objects; objects collections
    (``{"response": [{"Object": …}]}``) have no event.
    """
    if isinstance(document, dict) and isinstance(document.get("response"), list):
        items: list[Any] = document["response"]
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    found: list[tuple[Mapping[str, Any] | None, list[Any]]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("Event"), dict):
            event = item["Event"]
        elif isinstance(item.get("Object"), dict):
            found.append((None, [item["Object"]]))
            continue
        elif "Attribute" in item or "Object" in item or "info" in item:
            event = item
        else:
            continue
        objects = event.get("Object")
        holders = [event, *(objects if isinstance(objects, list) else ())]
        found.append((event, holders))
    if not found:
        if is_manifest(document):
            raise FormatError(
                "this is a MISP feed manifest: it lists events without their attributes; "
                "read the feed with parse_feed (each <uuid>.json beside the manifest)"
            )
        raise FormatError(
            "this is not MISP event JSON: expected {'Event': {...}}, {'response': [...]}, "
            "a list of events or an event with Attribute/Object lists"
        )
    return found


def is_manifest(document: Any) -> bool:
    """Whether a document is a MISP feed ``manifest.json`` (event uuids to summaries)."""
    return (
        isinstance(document, dict)
        and bool(document)
        and all(
            isinstance(key, str) and _UUID.fullmatch(key) and isinstance(value, dict)
            for key, value in document.items()
        )
    )


@dataclass(slots=True)
class ManifestEntry:
    """One event listed in a MISP feed manifest."""

    uuid: str
    info: str | None
    timestamp: datetime | None


def manifest_entries(
    stream: BinaryIO, rules: Mapping[str, Any] | None = None
) -> list[ManifestEntry]:
    """The events a MISP feed ``manifest.json`` lists, in its order."""
    checked = validate(MispRules, rules)
    document = load_json(stream, checked.max_bytes)
    if not is_manifest(document):
        raise FormatError("this is not a MISP feed manifest (event uuids mapped to summaries)")
    entries = []
    for uuid, summary in document.items():
        moment = None
        if summary.get("timestamp") not in (None, ""):
            with contextlib.suppress(ValueError, OverflowError, OSError):
                moment = parse_datetime(str(summary["timestamp"]))
        info = summary.get("info")
        entries.append(ManifestEntry(uuid.lower(), info if isinstance(info, str) else None, moment))
    return entries


class MispFormat(RuledFormat):
    """Indicator rows from MISP events."""

    name = "misp"
    rules_model = MispRules

    def parse(self, stream: BinaryIO, rules: Mapping[str, Any]) -> Iterator[ParsedRow | ParseError]:
        """Yield a row per indicator attribute and an error per unusable one."""
        checked = validate(MispRules, rules)
        count = RecordCounter(checked.max_records)
        events = events_of(load_json(stream, checked.max_bytes))
        yield from self._events(events, checked, count)

    def parse_document(
        self, document: Any, rules: Mapping[str, Any]
    ) -> Iterator[ParsedRow | ParseError]:
        """Like :meth:`parse`, for a document already loaded (an API answer, a feed event)."""
        checked = validate(MispRules, rules)
        count = RecordCounter(checked.max_records)
        yield from self._events(events_of(document), checked, count)

    def parse_feed(
        self,
        manifest: BinaryIO,
        open_event: Callable[[str], BinaryIO],
        rules: Mapping[str, Any],
        *,
        since: datetime | None = None,
    ) -> Iterator[ParsedRow | ParseError]:
        """Rows of every event a feed manifest lists (changed after ``since``, if given).

        ``open_event(uuid)`` opens ``<uuid>.json``; an event that cannot be opened or read
        is one ``ParseError`` and the next event is read.
        """
        checked = validate(MispRules, rules)
        count = RecordCounter(checked.max_records)
        for entry in manifest_entries(manifest, rules):
            if since is not None and entry.timestamp is not None and entry.timestamp <= since:
                continue
            try:
                with contextlib.closing(open_event(entry.uuid)) as stream:
                    events = events_of(load_json(stream, checked.max_bytes))
            except (OSError, FormatError) as exc:
                yield ParseError(count.count + 1, f"event {entry.uuid}: {exc}")
                continue
            yield from self._events(events, checked, count)

    def _events(
        self,
        events: list[tuple[Mapping[str, Any] | None, list[Any]]],
        rules: MispRules,
        count: RecordCounter,
    ) -> Iterator[ParsedRow | ParseError]:
        for event, holders in events:
            context = _event_context(event)
            for holder in holders:
                if not isinstance(holder, dict):
                    continue
                object_name = None if holder is event else holder.get("name")
                if holder is not event and not rules.include_objects:
                    continue
                if holder is not event and _flag(holder.get("deleted")):
                    continue
                attributes = holder.get("Attribute")
                for attribute in attributes if isinstance(attributes, list) else ():
                    count()
                    yield from self._attribute(count.count, attribute, context, object_name, rules)

    @staticmethod
    def _attribute(
        number: int,
        attribute: Any,
        event: _Event,
        object_name: Any,
        rules: MispRules,
    ) -> Iterator[ParsedRow | ParseError]:
        if not isinstance(attribute, dict):
            yield ParseError(number, "attribute is not an object")
            return
        if _flag(attribute.get("deleted")):
            return
        misp_type, value = attribute.get("type"), attribute.get("value")
        if not isinstance(misp_type, str) or not isinstance(value, str):
            yield ParseError(number, "attribute without a type and a text value")
            return
        to_ids = _flag(attribute.get("to_ids"))
        if rules.to_ids_only and not to_ids:
            return
        values = attribute_values(misp_type, value.strip())
        if not values:
            return
        seen = attribute.get("first_seen") or attribute.get("timestamp")
        last = attribute.get("last_seen")
        try:
            first_seen = parse_datetime(str(seen)) if seen else None
            last_seen = parse_datetime(str(last)) if last else None
        except (ValueError, OverflowError, OSError) as exc:
            yield ParseError(number, f"attribute {attribute.get('uuid', '')}: bad date: {exc}")
            return
        names = _tag_names(attribute)
        own_tags, own_tlp = _split_tlp(names)
        tags = tuple(dict.fromkeys([*rules.tags, *event.tags, *own_tags]))
        extra: dict[str, Any] = {**event.extra, "to_ids": to_ids, "misp_type": misp_type}
        for key, source in (
            ("attribute_uuid", "uuid"),
            ("category", "category"),
            ("comment", "comment"),
        ):
            if attribute.get(source):
                extra[key] = attribute[source]
        if isinstance(object_name, str):
            extra["object_name"] = object_name
        sighted = sighting_counts(attribute.get("Sighting"))
        if sighted is not None:
            extra["sightings"] = sighted
        tlp = own_tlp or event.tlp
        if tlp:
            extra["tlp"] = tlp
        raw = {k: v for k, v in attribute.items() if not isinstance(v, dict | list)}
        family = _malware_family(names) or event.malware_family
        for part, kind, more in values:
            part = part.strip()
            if not part:
                yield ParseError(number, f"{misp_type} attribute with an empty value")
                continue
            yield ParsedRow(
                line=number,
                value=part,
                kind=kind,
                first_seen=first_seen,
                last_seen=last_seen,
                tags=tags,
                malware_family=family,
                description=event.info,
                raw=raw,
                extra={**extra, **more},
            )


def parse_feed_directory(
    path: str | Path, rules: Mapping[str, Any] | None = None, *, since: datetime | None = None
) -> Iterator[ParsedRow | ParseError]:
    """Rows of a MISP feed stored in a folder: ``manifest.json`` and ``<uuid>.json`` files."""
    folder = Path(path)

    def open_event(uuid: str) -> BinaryIO:
        if not _UUID.fullmatch(uuid):  # never let a manifest key walk out of the folder
            raise FormatError(f"{uuid!r} is not an event uuid")
        return (folder / f"{uuid}.json").open("rb")

    with (folder / "manifest.json").open("rb") as manifest:
        yield from MispFormat().parse_feed(manifest, open_event, rules or {}, since=since)
