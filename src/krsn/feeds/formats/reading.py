"""What every format shares: rules with limits, bounded reading, and field conversions.

Limits are rules like any other, with defaults, so an operator can raise one for a feed that
needs it. Line formats (text, CSV, JSON Lines) stream with a bounded ``readline`` and never
hold more than one line; document formats (JSON, XML, STIX, MISP) must load the document and
refuse one over ``max_bytes`` before parsing it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, BinaryIO, ClassVar, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from krsn.errors import Invalid
from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.indicators.normalise import Kind

KIB: Final = 1024
MIB: Final = 1024 * KIB

DEFAULT_MAX_LINE_LENGTH: Final = 64 * KIB
DEFAULT_MAX_RECORDS: Final = 5_000_000
DEFAULT_MAX_DOCUMENT_BYTES: Final = 256 * MIB
"""Formats that load the whole document (JSON, XML, STIX, MISP)."""
DEFAULT_MAX_STREAM_BYTES: Final = 1024 * MIB
"""Formats read line by line (text, CSV, JSON Lines) hold one line at a time."""

NUL: Final = b"\x00"

BINARY_SAMPLE_BYTES: Final = 8 * KIB
"""Bytes looked at before deciding whether an input is text at all."""
BINARY_SHARE: Final = 0.3
"""Share of unreadable bytes (NUL, invalid encoding) past which an input is not text."""

FIELDS: Final = frozenset(
    {
        "value",
        "kind",
        "first_seen",
        "last_seen",
        "tags",
        "malware_family",
        "confidence",
        "description",
    }
)
"""Fields of a ``ParsedRow`` that a feed can fill from its records."""

KINDS: Final = frozenset(kind.value for kind in Kind)

M = TypeVar("M", bound=BaseModel)


# --- Rules ---------------------------------------------------------------------------------


class Limits(BaseModel):
    """Limits every parser obeys."""

    model_config = ConfigDict(extra="forbid")

    max_records: int = Field(DEFAULT_MAX_RECORDS, ge=1)
    """Records (rows and errors) read before the input is refused as too large."""
    max_bytes: int = Field(DEFAULT_MAX_DOCUMENT_BYTES, ge=1)
    """Bytes read before the input is refused as too large."""


class LineLimits(Limits):
    """Limits of formats read line by line."""

    max_bytes: int = Field(DEFAULT_MAX_STREAM_BYTES, ge=1)
    max_line_length: int = Field(DEFAULT_MAX_LINE_LENGTH, ge=16, le=16 * MIB)
    """Longest line in bytes; a longer one is reported and skipped, never loaded whole."""
    encoding: str = "utf-8"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None


class FieldRules(BaseModel):
    """How record fields become a row: fixed kind and tags, date format, tag separator."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = None
    """What every value of this feed is (a ``Kind`` value), when the feed says so."""
    kind_map: dict[str, str] = Field(default_factory=dict)
    """The feed's own type names (a ``kind`` field) mapped to ``Kind`` values."""
    tags: list[str] = Field(default_factory=list)
    """Tags added to every row."""
    malware_family: str | None = None
    """Malware family of every row, unless a record names its own."""
    date_format: str | None = None
    """``strptime`` format of dates; by default ISO 8601 or Unix seconds/milliseconds."""
    tag_separator: str = Field(",", min_length=1)
    """What separates several tags in one field."""

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in KINDS:
            raise ValueError(f"unknown kind {value!r}; known: {', '.join(sorted(KINDS))}")
        return value

    @field_validator("kind_map")
    @classmethod
    def _known_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for name, kind in value.items():
            if kind not in KINDS:
                raise ValueError(f"{name!r} maps to unknown kind {kind!r}")
        return value


def comment_prefixes(value: str | list[str] | None) -> tuple[str, ...]:
    """The comment prefixes of a rule that takes one prefix, several, or none."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(prefix for prefix in value if prefix)


def validate(model: type[M], rules: Mapping[str, Any] | None) -> M:
    """Rules checked against ``model``; a bad one raises ``Invalid`` naming its key."""
    if rules is None:
        rules = {}
    if not isinstance(rules, Mapping):
        raise Invalid("parsing_rules", "must be an object of rule names to values")
    try:
        return model.model_validate(dict(rules))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        reason = error["msg"]
        if error["type"] == "extra_forbidden":
            known = ", ".join(sorted(model.model_fields))
            reason = f"unknown rule; this format takes: {known}"
        field = f"parsing_rules.{where}" if where else "parsing_rules"
        raise Invalid(field, reason) from None


class RuledFormat:
    """What every built-in format shares: its rules are one Pydantic model."""

    rules_model: ClassVar[type[BaseModel]]

    def validate_rules(self, rules: Mapping[str, Any]) -> dict[str, Any]:
        """The rules with defaults filled in; raises ``Invalid`` naming the bad key."""
        return validate(self.rules_model, rules).model_dump()


# --- Reading -------------------------------------------------------------------------------


_LOOKS_STRUCTURED: Final = re.compile(
    r"""\A\s*(?:
        (?P<json>\{\s*(?:"|\}|\Z)|\[\s*(?:[{\["]|\]|\Z))
      | (?P<xml><\?xml\b|<!doctype\s+(?!html)|<[a-z_][\w.-]*:?[\w.-]*[\s>/])
      | (?P<html><!doctype\s+html|<html\b)
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def reject_structured(text: str) -> None:
    """Refuse a line-format input whose first line is JSON, XML or an HTML page."""
    match = _LOOKS_STRUCTURED.match(text)
    if match is None:
        return
    what = match.lastgroup
    if what == "html":
        raise FormatError(
            "this is an HTML page, not a feed: the URL may point at a login or error page"
        )
    assert what is not None
    raise FormatError(
        f"this looks like {what.upper()}, not lines of text: choose the "
        f"{'json, stix or misp' if what == 'json' else 'xml'} format for this feed"
    )


class LineReader:
    """Lines of a byte stream, bounded in length and total size, with unreadable ones reported.

    Yields ``(number, text)`` for each line (without its line break) and a ``ParseError``
    for a line that is too long, holds a NUL byte or is not valid in the encoding. Raises
    ``FormatError`` when the input is mostly binary or larger than ``max_bytes``.
    """

    def __init__(
        self, stream: BinaryIO, *, max_line_length: int, max_bytes: int, encoding: str
    ) -> None:
        self.stream = stream
        self.max_line_length = max_line_length
        self.max_bytes = max_bytes
        self.encoding = encoding
        self.bytes_read = 0
        self.bad_bytes = 0

    def _count(self, size: int) -> None:
        self.bytes_read += size
        if self.bytes_read > self.max_bytes:
            raise FormatError(
                f"the input is larger than {self.max_bytes:,} bytes (max_bytes); "
                "raise the limit if this feed is really that large"
            )

    def _unreadable(self, data: bytes) -> str | None:
        if b"\x00" in data:
            return f"binary data: NUL byte at column {data.index(NUL) + 1}"
        try:
            data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            return f"not valid {self.encoding} at column {exc.start + 1}"
        return None

    def _read(self) -> Iterator[tuple[int, str] | ParseError]:
        limit = self.max_line_length + 2  # room for the line break
        readline = self.stream.readline
        number = 0
        while True:
            chunk = readline(limit)
            if not chunk:
                return
            self._count(len(chunk))
            number += 1
            if number == 1 and chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
            if len(chunk) == limit and not chunk.endswith(b"\n"):
                # Skip the rest of the line a bounded chunk at a time.
                size = len(chunk)
                while True:
                    rest = readline(limit)
                    self._count(len(rest))
                    size += len(rest)
                    if not rest or rest.endswith(b"\n"):
                        break
                if self._unreadable(chunk[:-4]) is not None:
                    self.bad_bytes += size
                yield ParseError(
                    number,
                    f"line longer than {self.max_line_length:,} bytes ({size:,}; max_line_length)",
                )
                continue
            data = chunk.rstrip(b"\r\n")
            if len(data) > self.max_line_length:
                yield ParseError(
                    number, f"line longer than {self.max_line_length:,} bytes (max_line_length)"
                )
                continue
            try:
                text = data.decode(self.encoding)
            except UnicodeDecodeError:
                text = None
            if text is None or "\x00" in text:
                self.bad_bytes += len(chunk)
                reason = self._unreadable(data) or "unreadable line"
                yield ParseError(number, reason)
                continue
            yield number, text

    def _too_binary(self) -> bool:
        return self.bad_bytes > 0 and self.bad_bytes > self.bytes_read * BINARY_SHARE

    def __iter__(self) -> Iterator[tuple[int, str] | ParseError]:
        lines = self._read()
        sample: list[tuple[int, str] | ParseError] = []
        for item in lines:
            sample.append(item)
            if self.bytes_read >= BINARY_SAMPLE_BYTES:
                break
        self._check_binary()
        yield from sample
        for item in lines:
            if isinstance(item, ParseError) and self.bad_bytes > BINARY_SAMPLE_BYTES:
                self._check_binary()
            yield item

    def _check_binary(self) -> None:
        if self._too_binary():
            raise FormatError(
                f"this is not text: {self.bad_bytes:,} of the first {self.bytes_read:,} bytes "
                f"are NUL bytes or invalid {self.encoding}; check the feed's URL and format"
            )


def read_document(stream: BinaryIO, max_bytes: int) -> bytes:
    """The whole input, refused with ``FormatError`` past ``max_bytes``."""
    parts: list[bytes] = []
    size = 0
    while True:
        part = stream.read(min(max_bytes + 1 - size, 8 * MIB))
        if not part:
            break
        parts.append(part)
        size += len(part)
        if size > max_bytes:
            raise FormatError(
                f"the document is larger than {max_bytes:,} bytes (max_bytes); raise the "
                "limit, or ask the provider for a line-based export (CSV, JSON Lines)"
            )
    return b"".join(parts)


def load_json(stream: BinaryIO, max_bytes: int) -> Any:
    """A JSON document read within ``max_bytes``; unreadable JSON is a ``FormatError``."""
    import json

    data = read_document(stream, max_bytes)
    if not data.strip():
        raise FormatError("the document is empty")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"this is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"this is not text: invalid encoding at byte {exc.start}") from None
    except RecursionError:
        raise FormatError("the JSON document is nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer longer than the interpreter's limit
        raise FormatError(f"this is not usable JSON: {exc}") from None


class RecordCounter:
    """Counts records and refuses an input with more than ``max_records``."""

    __slots__ = ("count", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        if self.count > self.limit:
            raise FormatError(
                f"the input has more than {self.limit:,} records (max_records); "
                "raise the limit if this feed is really that large"
            )


# --- Field conversions ---------------------------------------------------------------------


_EPOCH: Final = re.compile(r"\d{9,13}(?:\.\d+)?")


def parse_datetime(text: str, date_format: str | None = None) -> datetime:
    """A date as the feed writes it, aware (UTC when the feed gives no zone)."""
    text = text.strip()
    if date_format:
        moment = datetime.strptime(text, date_format)
    elif _EPOCH.fullmatch(text):
        seconds = float(text)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        moment = datetime.fromtimestamp(seconds, UTC)
    else:
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def parse_confidence(value: Any) -> float:
    """A confidence 0..100."""
    number = float(value)
    if math.isnan(number) or not 0 <= number <= 100:
        raise ValueError(f"confidence {value!r} is not between 0 and 100")
    return number


@lru_cache(maxsize=4096)
def _cached_datetime(text: str, date_format: str | None) -> datetime:
    # Feeds repeat their dates row after row; a datetime is immutable, so one can be shared.
    return parse_datetime(text, date_format)


@lru_cache(maxsize=4096)
def _split_text(value: str, separator: str) -> tuple[str, ...]:
    return tuple(tag for tag in (item.strip() for item in value.split(separator)) if tag)


def split_tags(value: Any, separator: str) -> tuple[str, ...]:
    """Tags from a list or a separated string, stripped, empty ones dropped."""
    if value is None:
        return ()
    if type(value) is str:
        return _split_text(value, separator)
    items = value if isinstance(value, list | tuple) else str(value).split(separator)
    return tuple(tag for tag in (str(item).strip() for item in items) if tag)


def build_row(
    line: int,
    fields: Mapping[str, Any],
    rules: FieldRules,
    *,
    raw: Mapping[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> ParsedRow:
    """A row from the fields a record gave; raises ``ValueError`` with the reason if one is bad."""
    value = fields.get("value")
    value = "" if value is None else str(value).strip()
    if not value:
        raise ValueError("no value")
    kind = rules.kind
    first_seen = last_seen = None
    confidence = None
    tags = tuple(rules.tags)
    family = rules.malware_family
    description = None
    for key, item in fields.items():
        if item is None or item == "" or key == "value":
            continue
        if key == "kind":
            name = str(item).strip()
            lowered = name.lower()
            kind = rules.kind_map.get(name) or (lowered if lowered in KINDS else kind)
        elif key in ("first_seen", "last_seen"):
            text = str(item)
            if not text.strip():
                continue
            try:
                moment = _cached_datetime(text, rules.date_format)
            except (ValueError, OverflowError, OSError) as exc:
                raise ValueError(f"bad {key} {text[:40]!r}: {exc}") from None
            if key == "first_seen":
                first_seen = moment
            else:
                last_seen = moment
        elif key == "confidence":
            try:
                confidence = parse_confidence(item)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"bad confidence: {exc}") from None
        elif key == "tags":
            tags += split_tags(item, rules.tag_separator)
        elif key == "malware_family":
            family = str(item).strip() or family
        elif key == "description":
            description = str(item)
    return ParsedRow(
        line=line,
        value=value,
        kind=kind,
        first_seen=first_seen,
        last_seen=last_seen,
        tags=tags,
        malware_family=family or None,
        confidence=confidence,
        description=description,
        raw=raw,
        extra=extra if extra is not None else {},
    )
