"""JSON documents and JSON Lines: a path to the list of records and a path to each field.

Rules (defaults in brackets):

- ``path`` [``""``, the document itself]: where the records are. Dotted (``data``,
  ``data.*.urls``: ``*`` walks every item of a list or every value of an object, a number
  indexes a list) or a JSON pointer (``/data/0/urls``). A list found there holds the
  records; anything else is one record.
- ``fields`` [``{"value": ""}``]: each field's path inside a record, same syntax; ``""`` is
  the record itself (a list of strings). Fields: ``value`` (required), ``kind``,
  ``first_seen``, ``last_seen``, ``tags``, ``malware_family``, ``confidence``,
  ``description``. A ``value`` path that finds a list gives one row per item; ``tags`` takes
  a list or a separated string.
- ``json_lines`` [false]: one JSON document per line (``path`` and ``fields`` apply to each).
- ``kind``, ``kind_map``, ``tags``, ``malware_family``, ``date_format``, ``tag_separator``
  [``","``]: see ``reading.FieldRules``.
- ``max_bytes`` [256 MiB for a document, 1 GiB for JSON Lines], ``max_records`` [5,000,000],
  ``max_line_length`` [65,536, JSON Lines only], ``encoding`` [utf-8, JSON Lines only; a
  document's encoding is detected].
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from pydantic import Field, field_validator, model_validator

from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.reading import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_STREAM_BYTES,
    FIELDS,
    FieldRules,
    LineLimits,
    LineReader,
    RecordCounter,
    RuledFormat,
    build_row,
    load_json,
    validate,
)

WILDCARD = "*"


def split_path(path: str) -> tuple[str, ...]:
    """The steps of a dotted path or a JSON pointer."""
    if not path:
        return ()
    if path.startswith("/"):
        return tuple(step.replace("~1", "/").replace("~0", "~") for step in path[1:].split("/"))
    return tuple(path.split("."))


def walk(node: Any, steps: tuple[str, ...]) -> Iterator[Any]:
    """Every node reached by following ``steps`` from ``node``."""
    if not steps:
        yield node
        return
    step, rest = steps[0], steps[1:]
    if step == WILDCARD:
        if isinstance(node, list):
            children: Any = node
        elif isinstance(node, dict):
            children = node.values()
        else:
            return
        for child in children:
            yield from walk(child, rest)
    elif isinstance(node, dict):
        if step in node:
            yield from walk(node[step], rest)
    elif isinstance(node, list) and step.isdigit():
        index = int(step)
        if index < len(node):
            yield from walk(node[index], rest)


class JsonRules(LineLimits, FieldRules):
    """Rules of the ``json`` format."""

    path: str = ""
    fields: dict[str, str] = Field(default_factory=lambda: {"value": ""})
    json_lines: bool = False

    @model_validator(mode="before")
    @classmethod
    def _document_size(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_bytes" not in data:
            data = dict(data)
            lines = bool(data.get("json_lines"))
            data["max_bytes"] = DEFAULT_MAX_STREAM_BYTES if lines else DEFAULT_MAX_DOCUMENT_BYTES
        return data

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - FIELDS
        if unknown:
            raise ValueError(
                f"unknown field {sorted(unknown)[0]!r}; fields: {', '.join(sorted(FIELDS))}"
            )
        if "value" not in value:
            raise ValueError("say where the value is, as in {'value': 'ioc'}")
        return value


def _scalar(values: list[Any]) -> Any:
    for value in values:
        if value is not None and not isinstance(value, dict | list):
            return value
    return None


class JsonFormat(RuledFormat):
    """Records found by a path in a JSON document, or one per line in JSON Lines."""

    name = "json"
    rules_model = JsonRules

    def parse(self, stream: BinaryIO, rules: Mapping[str, Any]) -> Iterator[ParsedRow | ParseError]:
        """Yield a row per value found and an error per record without a usable one."""
        checked = validate(JsonRules, rules)
        path = split_path(checked.path)
        fields = {name: split_path(p) for name, p in checked.fields.items()}
        count = RecordCounter(checked.max_records)
        if not checked.json_lines:
            document = load_json(stream, checked.max_bytes)
            records = list(self._records(document, path))
            if not records:
                raise FormatError(f"nothing found at path {checked.path!r}; check the path rule")
            for number, record in enumerate(records, start=1):
                count()
                yield from self._rows(number, record, fields, checked)
            return
        reader = LineReader(
            stream,
            max_line_length=checked.max_line_length,
            max_bytes=checked.max_bytes,
            encoding=checked.encoding,
        )
        for item in reader:
            if isinstance(item, ParseError):
                count()
                yield item
                continue
            number, text = item
            if not text.strip():
                continue
            count()
            try:
                document = json.loads(text)
            except (ValueError, RecursionError) as exc:
                yield ParseError(number, f"not valid JSON: {exc}"[:300])
                continue
            for record in self._records(document, path):
                yield from self._rows(number, record, fields, checked)

    @staticmethod
    def _records(document: Any, path: tuple[str, ...]) -> Iterator[Any]:
        for found in walk(document, path):
            if isinstance(found, list):
                yield from found
            else:
                yield found

    @staticmethod
    def _rows(
        number: int, record: Any, fields: dict[str, tuple[str, ...]], rules: JsonRules
    ) -> Iterator[ParsedRow | ParseError]:
        found = {name: list(walk(record, steps)) for name, steps in fields.items()}
        values: list[Any] = []
        for value in found.pop("value"):
            values.extend(value if isinstance(value, list) else [value])
        values = [v for v in values if v not in (None, "") and not isinstance(v, dict | list)]
        if not values:
            yield ParseError(number, "no value in this record")
            return
        common: dict[str, Any] = {}
        for name, results in found.items():
            if name == "tags":
                tags: list[Any] = []
                for result in results:
                    tags.extend(result if isinstance(result, list) else [result])
                common[name] = [t for t in tags if isinstance(t, str | int | float)]
            else:
                common[name] = _scalar(results)
        raw = record if isinstance(record, dict) else {"value": record}
        for value in values:
            try:
                yield build_row(number, {**common, "value": value}, rules, raw=raw)
            except ValueError as exc:
                yield ParseError(number, str(exc))
