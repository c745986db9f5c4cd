"""The interface every feed format implements, and what a parser yields.

A parser reads a byte stream and yields, in order, one ``ParsedRow`` per candidate
indicator or one ``ParseError`` per record it could not read. It never raises for bad
data: a broken row is reported with its line and the next row is read. It raises
``FormatError`` only when the input as a whole is unusable (not this format, an XML
entity bomb, a size or depth limit passed), with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, Protocol, runtime_checkable


class FormatError(Exception):
    """The input as a whole cannot be parsed with these rules."""


@dataclass(slots=True)
class ParsedRow:
    """One candidate indicator as the feed states it, before normalisation."""

    line: int
    """1-based line (text, CSV) or record number (JSON, XML, STIX, MISP) in the input."""
    value: str
    """The raw value (may be defanged); normalisation happens later."""
    kind: str | None = None
    """What the feed says it is, as a ``krsn.indicators.normalise.Kind`` value, or None."""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    tags: tuple[str, ...] = ()
    malware_family: str | None = None
    confidence: float | None = None
    """The feed's own confidence for this row, 0..100, when it gives one."""
    description: str | None = None
    raw: Mapping[str, Any] | None = None
    """The record as read (kept in threat_intelligence.raw_data); small, JSON-safe."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Format-specific facts (STIX id, MISP event/attribute uuid, TLP marking, …)."""


@dataclass(slots=True)
class ParseError:
    """A record that could not be read, and why."""

    line: int
    reason: str


@runtime_checkable
class FeedFormat(Protocol):
    """A feed format: a name, a check of its rules, and a parser."""

    name: str

    def validate_rules(self, rules: Mapping[str, Any]) -> dict[str, Any]:
        """The rules with defaults filled in; raises ``krsn.errors.Invalid`` naming the bad key."""
        ...

    def parse(self, stream: BinaryIO, rules: Mapping[str, Any]) -> Iterator[ParsedRow | ParseError]:
        """Yield rows and errors in input order; raise FormatError only for unusable input."""
        ...
