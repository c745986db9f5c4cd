"""What detection works on and what it produces, shared by watchlists, rules and alerts.

An :class:`Observation` is one thing that happened to an observable: a feed reported it
(``ingest``) or the customer's environment saw it (``sighting``). It carries the active
indicator it matched, if any, and the watchlist items it hit. Rules turn observations into
:class:`Firing` s; the alert service turns firings and watchlist hits into alerts.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from krsn.detection.models import AlertPriority, AlertSeverity, WatchlistItemType, WatchlistType
from krsn.indicators.lookup import LookupIndicator


class Origin(enum.StrEnum):
    INGEST = "ingest"
    SIGHTING = "sighting"


@dataclass(slots=True)
class WatchlistHit:
    """A watchlist item an observable matched."""

    item_id: uuid.UUID
    watchlist_id: uuid.UUID
    watchlist_name: str
    list_type: WatchlistType
    item_type: WatchlistItemType
    item_value: str
    """The item as stored: the same value, a parent domain, or a CIDR range holding the IP."""

    @property
    def suppresses(self) -> bool:
        """A whitelist item stops alerts for its value; every other list raises them."""
        return self.list_type is WatchlistType.HASH_WHITELIST


@dataclass(slots=True)
class Observation:
    """One observable seen once, by a feed or in the customer's environment."""

    origin: Origin
    value: str
    """As given (a sighting's raw text, or the feed's value)."""
    kind: str
    """The normalised kind (:class:`krsn.indicators.normalise.Kind` value: ipv4, domain, …)."""
    canonical: str
    observed_at: datetime
    indicator: LookupIndicator | None = None
    """The active indicator matched (the same value, or a CIDR range holding the IP)."""
    matched: str | None = None
    """The stored value that matched, when an indicator did."""
    source: str | None = None
    """The threat source that reported it (ingest)."""
    feed: str | None = None
    host: str | None = None
    sensor: str | None = None
    log_source: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    watchlist_hits: list[WatchlistHit] = field(default_factory=list)


@dataclass(slots=True)
class Firing:
    """A rule that fired on one observation (or, for threshold and time-based rules, on the
    last of the events that made it fire). The alert service also raises firings of its own,
    without a rule, for blacklist hits and for sightings of known indicators."""

    rule_id: uuid.UUID | None
    rule_name: str
    rule_type: str
    severity: AlertSeverity
    title: str
    key: str
    """What makes two firings the same alert within the window (rule id and indicator, or
    the rule's grouping key)."""
    observation: Observation
    window_minutes: int | None = None
    priority: AlertPriority = AlertPriority.NORMAL
    evidence: dict[str, Any] = field(default_factory=dict)
