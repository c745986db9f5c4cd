"""STIX 2.0 and 2.1: indicators (their patterns) and cyber observables, as indicator rows.

Accepts a bundle, a TAXII envelope (``{"objects": [...]}``), a bare list of objects or one
object. The bundle's JSON is read directly, not through the ``stix2`` object model, which is
far too slow for bulk feeds; patterns are read by a compiled tokenizer that knows the simple
shape feeds use: comparisons ``[type:path = 'value']`` joined by ``OR`` inside and between
observations. Each such comparison on an indicator path (``ipv4-addr:value``,
``ipv6-addr:value``, ``domain-name:value``, ``url:value``, ``email-addr:value``,
``email-message:from_ref.value`` / ``sender_ref.value``, ``file:hashes.MD5`` /
``'SHA-1'`` / ``'SHA-256'`` / ``'SHA-512'``) gives a row. Any other pattern (``AND``,
qualifiers, other operators or paths, non-STIX pattern languages) gives one row whose value is
the pattern, ``kind`` None and ``extra["pattern"]``: the sharing import keeps those whole.

Rows: ``valid_from`` → first_seen; ``labels`` (2.0) and ``indicator_types`` (2.1) → tags;
``confidence``; ``description`` (or ``name``) → description; the malware an ``indicates``
relationship points at → malware_family; ``extra`` holds ``stix_id``, ``spec_version``,
``valid_until``, ``tlp`` (from TLP marking definitions) and ``pattern``. Observables
(``ipv4-addr``, ``ipv6-addr``, ``domain-name``, ``url``, ``email-addr``, ``file`` hashes),
top-level or inside 2.0 ``observed-data``, are rows too, dated by the observed-data that
saw them. ``line`` is the object's position in the bundle. Other objects are skipped.

Rules (defaults in brackets): ``include_observables`` [true], ``tags`` [``[]``] added to
every row, ``max_bytes`` [256 MiB], ``max_records`` [5,000,000].
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Final

from pydantic import Field

from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.reading import (
    Limits,
    RecordCounter,
    RuledFormat,
    load_json,
    parse_confidence,
    parse_datetime,
    validate,
)

HASH_KINDS: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA1": "sha1",
    "SHA-256": "sha256",
    "SHA256": "sha256",
    "SHA-512": "sha512",
    "SHA512": "sha512",
}

PATH_KINDS: Final = {
    ("ipv4-addr", "value"): "ipv4",
    ("ipv6-addr", "value"): "ipv6",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
    ("email-addr", "value"): "email",
    ("email-message", "from_ref.value"): "email",
    ("email-message", "sender_ref.value"): "email",
}

OBSERVABLE_KINDS: Final = {
    "ipv4-addr": "ipv4",
    "ipv6-addr": "ipv6",
    "domain-name": "domain",
    "url": "url",
    "email-addr": "email",
}

TLP_MARKINGS: Final = {
    # TLP 1.0, defined in the STIX 2.0 and 2.1 specifications.
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "tlp:white",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "tlp:green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "tlp:amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "tlp:red",
    # TLP 2.0, published by OASIS as common objects.
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "tlp:clear",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "tlp:green",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "tlp:amber",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "tlp:amber+strict",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "tlp:red",
}

_PROPERTY = r"(?:[A-Za-z0-9_-]+|'[^'\\]*')"
_TOKEN: Final = re.compile(
    rf"""\s*(?:
        (?P<open>\[)
      | (?P<close>\])
      | (?P<or>OR\b)
      | (?P<eq>=(?!=))
      | (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<path>[a-z0-9][a-z0-9-]*:{_PROPERTY}(?:\.{_PROPERTY})*)(?![\w\[])
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)
_ESCAPE: Final = re.compile(r"\\(.)")


def _kind_of_path(path: str) -> str | None:
    object_type, _, properties = path.partition(":")
    steps = [step.strip("'") for step in properties.split(".")]
    if object_type == "file" and len(steps) == 2 and steps[0] == "hashes":
        return HASH_KINDS.get(steps[1].upper())
    return PATH_KINDS.get((object_type, ".".join(steps)))


def simple_comparisons(pattern: str) -> list[tuple[str, str]] | None:
    """``(kind, value)`` of each comparison of an OR-only equality pattern, else None."""
    found: list[tuple[str, str]] = []
    expect = "open"  # what may come next: open, path, eq, string, after_string, after_close
    position = 0
    end = len(pattern.rstrip())
    path = ""
    while position < end:
        match = _TOKEN.match(pattern, position)
        if match is None:
            return None
        what = match.lastgroup
        position = match.end()
        if expect == "open" and what == "open":
            expect = "path"
        elif expect == "path" and what == "path":
            path = match.group("path")
            expect = "eq"
        elif expect == "eq" and what == "eq":
            expect = "string"
        elif expect == "string" and what == "string":
            kind = _kind_of_path(path)
            if kind is None:
                return None
            value = _ESCAPE.sub(r"\1", match.group("string")[1:-1])
            found.append((kind, value))
            expect = "after_string"
        elif expect == "after_string" and what in ("or", "close"):
            expect = "path" if what == "or" else "after_close"
        elif expect == "after_close" and what == "or":
            expect = "open"
        else:
            return None
    return found if expect == "after_close" and found else None


class StixRules(Limits):
    """Rules of the ``stix`` format."""

    include_observables: bool = True
    tags: list[str] = Field(default_factory=list)


def bundle_objects(document: Any) -> list[Any]:
    """The objects of a bundle, an envelope, a list or a single object."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        objects = document.get("objects")
        if isinstance(objects, list):
            return objects
        if isinstance(document.get("type"), str) and isinstance(document.get("id"), str):
            return [document]
    raise FormatError(
        "this is not STIX 2: expected a bundle ({'type': 'bundle', 'objects': [...]}), "
        "a list of objects or one object"
    )


@dataclass(slots=True)
class _Context:
    """What the whole bundle tells about each object: markings, malware, observation dates."""

    tlp: dict[str, str]
    malware: dict[str, str]
    observed: dict[str, tuple[str | None, str | None]]
    spec_version: str | None


def _context(objects: list[Any], document: Any) -> _Context:
    tlp = dict(TLP_MARKINGS)
    names: dict[str, str] = {}
    indicates: list[tuple[str, str]] = []
    observed: dict[str, tuple[str | None, str | None]] = {}
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        kind = obj.get("type")
        if kind == "marking-definition":
            definition = obj.get("definition")
            if obj.get("definition_type") == "tlp" and isinstance(definition, dict):
                tlp[str(obj.get("id"))] = f"tlp:{str(definition.get('tlp', '')).lower()}"
            elif str(obj.get("name", "")).upper().startswith("TLP:"):
                tlp[str(obj.get("id"))] = str(obj["name"]).lower()
        elif kind in ("malware", "tool") and isinstance(obj.get("name"), str):
            names[str(obj.get("id"))] = obj["name"]
        elif kind == "relationship" and obj.get("relationship_type") == "indicates":
            indicates.append((str(obj.get("source_ref")), str(obj.get("target_ref"))))
        elif kind == "observed-data" and isinstance(obj.get("object_refs"), list):
            dates = (obj.get("first_observed"), obj.get("last_observed"))
            for ref in obj["object_refs"]:
                observed[str(ref)] = dates
    malware = {source: names[target] for source, target in reversed(indicates) if target in names}
    version = document.get("spec_version") if isinstance(document, dict) else None
    return _Context(tlp, malware, observed, version if isinstance(version, str) else None)


def _date(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_datetime(str(value))
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError(f"bad {field} {str(value)[:40]!r}: {exc}") from None


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item)


class StixFormat(RuledFormat):
    """Indicator rows from STIX 2.0 / 2.1 bundles."""

    name = "stix"
    rules_model = StixRules

    def parse(self, stream: BinaryIO, rules: Mapping[str, Any]) -> Iterator[ParsedRow | ParseError]:
        """Yield rows from indicators and observables, an error per unusable object."""
        checked = validate(StixRules, rules)
        document = load_json(stream, checked.max_bytes)
        yield from self.rows_of(bundle_objects(document), checked, document=document)

    def rows_of(
        self,
        objects: list[Any],
        rules: Mapping[str, Any] | StixRules,
        *,
        document: Any = None,
        only: Container[int] | None = None,
    ) -> Iterator[ParsedRow | ParseError]:
        """Rows of objects already read (numbered from 1), as :meth:`parse` gives them.

        The whole list is the context (markings, ``indicates``, observation dates); ``only``
        limits the rows to the objects at these positions.
        """
        checked = rules if isinstance(rules, StixRules) else validate(StixRules, rules)
        context = _context(objects, document)
        count = RecordCounter(checked.max_records)
        for number, obj in enumerate(objects, start=1):
            if only is not None and number not in only:
                continue
            count()
            if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
                yield ParseError(number, "not a STIX object (no type)")
                continue
            try:
                if obj["type"] == "indicator":
                    yield from self._indicator(number, obj, context, checked)
                elif checked.include_observables and obj["type"] == "observed-data":
                    yield from self._observed_data(number, obj, context, checked)
                elif checked.include_observables and obj["type"] in (*OBSERVABLE_KINDS, "file"):
                    first, last = context.observed.get(str(obj.get("id")), (None, None))
                    yield from self._observable(number, obj, context, checked, first, last)
            except ValueError as exc:
                yield ParseError(number, f"{obj['type']} {obj.get('id', '')}: {exc}")

    @staticmethod
    def _common(obj: dict[str, Any], context: _Context) -> dict[str, Any]:
        extra: dict[str, Any] = {"stix_id": obj.get("id")}
        version = obj.get("spec_version") or context.spec_version
        if version:
            extra["spec_version"] = version
        for ref in _strings(obj.get("object_marking_refs")):
            if ref in context.tlp:
                extra["tlp"] = context.tlp[ref]
        return extra

    def _indicator(
        self, number: int, obj: dict[str, Any], context: _Context, rules: StixRules
    ) -> Iterator[ParsedRow]:
        pattern = obj.get("pattern")
        if not isinstance(pattern, str) or not pattern.strip():
            raise ValueError("indicator without a pattern")
        extra = self._common(obj, context)
        extra["pattern"] = pattern
        if obj.get("valid_until"):
            extra["valid_until"] = obj["valid_until"]
        first_seen = _date(obj.get("valid_from"), "valid_from")
        confidence = None
        if obj.get("confidence") is not None:
            try:
                confidence = parse_confidence(obj["confidence"])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"bad confidence: {exc}") from None
        tags = (
            tuple(rules.tags) + _strings(obj.get("labels")) + _strings(obj.get("indicator_types"))
        )
        description = obj.get("description") or obj.get("name")
        pattern_type = obj.get("pattern_type", "stix")
        comparisons = simple_comparisons(pattern) if pattern_type == "stix" else None
        if pattern_type != "stix":
            extra["pattern_type"] = pattern_type
        values: list[tuple[str | None, str]] = (
            [(kind, value) for kind, value in comparisons] if comparisons else [(None, pattern)]
        )
        for kind, value in values:
            if kind in ("ipv4", "ipv6") and "/" in value:
                kind = "cidr"
            yield ParsedRow(
                line=number,
                value=value,
                kind=kind,
                first_seen=first_seen,
                tags=tags,
                malware_family=context.malware.get(str(obj.get("id"))),
                confidence=confidence,
                description=description if isinstance(description, str) else None,
                raw=obj,
                extra=dict(extra),
            )

    def _observed_data(
        self, number: int, obj: dict[str, Any], context: _Context, rules: StixRules
    ) -> Iterator[ParsedRow]:
        embedded = obj.get("objects")
        if not isinstance(embedded, dict):
            return  # 2.1 observed-data refers to top-level observables, read on their own
        first, last = obj.get("first_observed"), obj.get("last_observed")
        for key, sco in embedded.items():
            if isinstance(sco, dict) and sco.get("type") in (*OBSERVABLE_KINDS, "file"):
                common = self._common(obj, context)
                rows = self._observable(number, sco, context, rules, first, last)
                for row in rows:
                    row.extra.update(common, observable_key=key)
                    yield row

    def _observable(
        self,
        number: int,
        sco: dict[str, Any],
        context: _Context,
        rules: StixRules,
        first: Any,
        last: Any,
    ) -> Iterator[ParsedRow]:
        if sco["type"] == "file":
            hashes = sco.get("hashes")
            found = [
                (HASH_KINDS[name.upper()], value)
                for name, value in (hashes.items() if isinstance(hashes, dict) else ())
                if isinstance(name, str) and name.upper() in HASH_KINDS and isinstance(value, str)
            ]
        else:
            value = sco.get("value")
            if not isinstance(value, str) or not value.strip():
                raise ValueError("observable without a value")
            found = [(OBSERVABLE_KINDS[sco["type"]], value)]
        extra = self._common(sco, context)
        if sco["type"] == "file" and isinstance(sco.get("name"), str):
            extra["file_name"] = sco["name"]
        first_seen, last_seen = _date(first, "first_observed"), _date(last, "last_observed")
        for kind, value in found:
            if kind in ("ipv4", "ipv6") and "/" in value:
                kind = "cidr"
            yield ParsedRow(
                line=number,
                value=value,
                kind=kind,
                first_seen=first_seen,
                last_seen=last_seen,
                tags=tuple(rules.tags),
                raw=sco,
                extra=dict(extra),
            )
