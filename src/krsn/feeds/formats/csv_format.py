"""Delimited files: CSV, TSV and the like, one record per line.

Rules (defaults in brackets):

- ``delimiter`` [``","``], ``quotechar`` [``'"'``]: one character each; ``"\\t"`` for tabs.
- ``comment_prefix`` [``"#"``]: a prefix, a list of prefixes or ``null``; commented and blank
  lines are skipped (the abuse.ch banner and ``# END`` trailer).
- ``header`` [false] (also spelled ``skip_header``): the first record names the columns and
  is not data. ``fieldnames`` [none]: column names for a file without a header row.
- ``columns`` [``{"value": 0}``]: which column holds which field — ``value`` (required),
  ``kind``, ``first_seen``, ``last_seen``, ``tags``, ``malware_family``, ``confidence``,
  ``description`` — each a 0-based index or a column name (names need ``header`` or
  ``fieldnames``).
- ``kind``, ``kind_map``, ``tags``, ``malware_family``, ``date_format``, ``tag_separator``
  [``","``]: see ``reading.FieldRules``.
- ``max_line_length`` [65,536], ``max_records`` [5,000,000], ``max_bytes`` [1 GiB],
  ``encoding`` [utf-8].

A record is one line: a quoted field cannot span lines, so one unbalanced quote costs one
row instead of swallowing the rest of the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from pydantic import Field, field_validator, model_validator

from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.reading import (
    FIELDS,
    FieldRules,
    LineLimits,
    LineReader,
    RecordCounter,
    RuledFormat,
    build_row,
    comment_prefixes,
    reject_structured,
    validate,
)

VALUE_FIRST: dict[str, int | str] = {"value": 0}


class CsvRules(LineLimits, FieldRules):
    """Rules of the ``csv`` format."""

    delimiter: str = ","
    quotechar: str = '"'
    comment_prefix: str | list[str] | None = "#"
    header: bool = False
    fieldnames: list[str] | None = None
    columns: dict[str, int | str] = Field(default_factory=lambda: dict(VALUE_FIRST))

    @model_validator(mode="before")
    @classmethod
    def _skip_header_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "skip_header" in data:
            data = dict(data)
            skip = data.pop("skip_header")
            data.setdefault("header", skip)
        return data

    @field_validator("delimiter", "quotechar", mode="before")
    @classmethod
    def _one_character(cls, value: Any) -> Any:
        if value in ("\\t", "tab"):
            return "\t"
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
            raise ValueError("must be exactly one character other than a line break")
        return value

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        unknown = set(value) - FIELDS
        if unknown:
            raise ValueError(
                f"unknown field {sorted(unknown)[0]!r}; fields: {', '.join(sorted(FIELDS))}"
            )
        if "value" not in value:
            raise ValueError("say which column holds the value, as in {'value': 0}")
        for field, column in value.items():
            if isinstance(column, int) and column < 0:
                raise ValueError(f"column of {field!r} must be 0 or more")
        return value

    @model_validator(mode="after")
    def _names_need_a_header(self) -> CsvRules:
        named = [c for c in self.columns.values() if isinstance(c, str)]
        if named and not self.header and not self.fieldnames:
            raise ValueError(
                "columns given by name need header: true or fieldnames; or use 0-based indexes"
            )
        if self.fieldnames:
            missing = [name for name in named if name not in self.fieldnames]
            if missing:
                raise ValueError(f"column {missing[0]!r} is not in fieldnames")
        if self.delimiter == self.quotechar:
            raise ValueError("delimiter and quotechar must differ")
        return self


def _resolve(columns: dict[str, int | str], names: list[str]) -> dict[str, int]:
    """Column indexes of each field, names looked up in the header."""
    stripped = [name.strip() for name in names]
    indexes: dict[str, int] = {}
    for field, column in columns.items():
        if isinstance(column, int):
            indexes[field] = column
        elif column in stripped:
            indexes[field] = stripped.index(column)
        else:
            raise FormatError(
                f"column {column!r} (for {field}) is not in the header {stripped[:20]}; "
                "check the columns rule or the feed's format"
            )
    return indexes


class CsvFormat(RuledFormat):
    """Delimited records, one per line."""

    name = "csv"
    rules_model = CsvRules

    def parse(self, stream: BinaryIO, rules: Mapping[str, Any]) -> Iterator[ParsedRow | ParseError]:
        """Yield a row per record and an error per broken one, with its line."""
        checked = validate(CsvRules, rules)
        prefixes = comment_prefixes(checked.comment_prefix)
        dialect = {
            "delimiter": checked.delimiter,
            "quotechar": checked.quotechar,
            "strict": True,
            "skipinitialspace": False,
        }
        names: list[str] | None = checked.fieldnames
        indexes = _resolve(checked.columns, names) if names else None
        if indexes is None and not checked.header:
            indexes = _resolve(checked.columns, [])
        count = RecordCounter(checked.max_records)
        reader = LineReader(
            stream,
            max_line_length=checked.max_line_length,
            max_bytes=checked.max_bytes,
            encoding=checked.encoding,
        )
        first = True
        quotechar, delimiter = checked.quotechar, checked.delimiter
        keys: list[str] = []  # raw_data keys: header names, then column numbers
        for item in reader:
            if isinstance(item, ParseError):
                count()
                yield item
                continue
            number, text = item
            stripped = text.strip()
            if not stripped or (prefixes and stripped.startswith(prefixes)):
                continue
            if first:
                reject_structured(stripped)
                first = False
            if quotechar not in text and "\r" not in text:
                # Nothing quoted: the csv module would split at each delimiter, only slower.
                cells = text.split(delimiter)
            else:
                try:
                    cells = next(csv.reader((text,), **dialect))  # type: ignore[arg-type]
                except csv.Error as exc:
                    count()
                    yield ParseError(number, f"broken CSV: {exc}")
                    continue
            if indexes is None:  # this record is the header
                names = cells
                indexes = _resolve(checked.columns, cells)
                continue
            count()
            needed = max(indexes.values()) + 1
            if len(cells) < needed:
                yield ParseError(number, f"{len(cells)} column(s), expected at least {needed}")
                continue
            fields = {field: cells[index] for field, index in indexes.items()}
            if len(keys) < len(cells):
                known = [name.strip() for name in names] if names else []
                keys = known + [str(i) for i in range(len(known), len(cells))]
            try:
                yield build_row(number, fields, checked, raw=dict(zip(keys, cells, strict=False)))
            except ValueError as exc:
                yield ParseError(number, str(exc))
