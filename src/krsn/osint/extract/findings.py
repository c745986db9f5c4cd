"""What extraction finds in a text: one :class:`Finding` per occurrence."""

from __future__ import annotations

from dataclasses import dataclass

from krsn.osint.models import EntityType


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found in a text.

    ``value`` is the text as written (perhaps defanged: ``evil[.]com``); ``canonical`` is the
    normal form entities are keyed by (the ingestion normalisation for IOC types). ``start``
    and ``end`` are character offsets of ``value`` in the text that was searched.
    ``confidence`` is a fraction (0..1); ``method`` names what found it (``regex``,
    ``regex+checksum``, ``ner:<model>``), and is stored as ``entity_sources.extraction_method``.
    ``subtype`` refines the type where one entity type covers several forms: the hash
    algorithm (``md5``, ``sha1``, ``sha256``...), the coin (``btc``, ``eth``, ``xmr``), the
    IP version (``ipv4``, ``ipv6``), the network of a handle (``twitter``, ``mastodon``...).
    """

    entity_type: EntityType
    value: str
    canonical: str
    start: int
    end: int
    confidence: float
    method: str
    subtype: str | None = None
