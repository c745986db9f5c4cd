"""The collector interface: a collector turns one collection's config into collected records.

A collector is a class registered under the entry-point group ``krsn.collectors`` with its
collector type as the name (``domain_intel = "krsn.osint.collectors.domain_intel:DomainIntel"``).
The platform validates the collection's ``config`` with the collector's ``Config`` model, then
calls :meth:`Collector.collect`, which yields :class:`Collected` records while reporting
progress and checking for cancellation through the :class:`CollectorContext`. Storing the
records, deduplicating them by content hash, extracting entities and linking them in the graph
is the platform's work, not the collector's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel

from krsn.osint.collectors.dns import DnsResolver
from krsn.osint.models import CollectorType, EntityType, RelationshipType


@dataclass(frozen=True, slots=True)
class Observed:
    """An entity a collector knows for certain from structured data (a DNS A record's
    address, a certificate's names), as opposed to one found in free text."""

    entity_type: EntityType
    value: str
    properties: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.9


@dataclass(frozen=True, slots=True)
class ObservedRelation:
    """A relationship a collector knows from structured data: ``source`` RESOLVES_TO
    ``target``, an e-mail is PART_OF its domain. Ends are (entity type, value) pairs."""

    source: tuple[EntityType, str]
    target: tuple[EntityType, str]
    type: RelationshipType
    confidence: float = 0.9
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Collected:
    """One record a collector found.

    ``raw`` is the record as the source gave it (JSON-able), kept as the item's ``raw_data``;
    ``text`` is the human-readable content that entity extraction reads and the documents
    index holds (an article's text, a post's body), or None when the record is structured
    only. ``item_type`` names the record's kind (``dns_record``, ``certificate``, ``article``,
    ``post``, ``sanction_entry``...). ``hash_basis`` is what identifies the record across runs
    (defaults to the canonical JSON of ``raw``): the platform hashes it to deduplicate.
    """

    item_type: str
    raw: Any
    text: str | None = None
    url: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    entities: list[Observed] = field(default_factory=list)
    relations: list[ObservedRelation] = field(default_factory=list)
    hash_basis: str | None = None
    # Only for records that come from a file: {filename, size, mime_type}.
    file_info: dict[str, Any] | None = None


class Cancelled(Exception):
    """Raised by :meth:`CollectorContext.check` once the collection has been cancelled."""


@dataclass
class CollectorContext:
    """What the platform lends a collector for one run.

    ``client`` makes outbound requests: egress-guarded (no private addresses unless the
    source allows them), through the configured SOCKS proxy where one applies, and paced by
    the source's rate limit (requests per minute). ``credentials`` are the source's decrypted
    secrets. ``progress(done, total)`` moves the collection's progress bar; ``check()``
    raises :class:`Cancelled` once someone cancels the run. ``resolver`` answers DNS questions
    (tests point it at a DNS server on 127.0.0.1).
    """

    client: httpx.Client
    credentials: dict[str, Any] = field(default_factory=dict)
    source_config: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[int, int], None] = lambda done, total: None
    cancel: threading.Event = field(default_factory=threading.Event)
    nameservers: list[str] | None = None
    dns_port: int = 53
    label: str = ""
    # Answers DNS questions instead of a live resolver at nameservers:dns_port (the replay
    # of recorded zones); None means ask DNS for real.
    resolver: DnsResolver | None = None
    # The one server folder a collection may read files from by path (an operator's
    # setting, never a user's: a collection's config must not reach the server's files).
    import_dir: Path | None = None

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(self.label)


class Collector(Protocol):
    """One collector type. ``Config`` validates a collection's ``config``."""

    collector_type: ClassVar[CollectorType]
    Config: ClassVar[type[BaseModel]]
    # What the collector does, shown by `krsn collections types` and in the API.
    description: ClassVar[str]

    def collect(self, config: BaseModel, context: CollectorContext) -> Iterator[Collected]:
        """Yield what the source holds for ``config``; call ``context.check()`` often."""
        ...
