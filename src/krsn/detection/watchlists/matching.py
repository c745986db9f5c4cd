"""Which watchlist items observables hit.

An observable (already normalised: a :class:`~krsn.indicators.normalise.Kind` and its
canonical text) hits an item of an *active* list whose ``expires_at`` is unset or later than
the time of the match:

- **the same value**: the canonical observable equals the stored item (every type);
- **an IP inside a range**: an IPv4 or IPv6 address hits every CIDR item holding it, and a
  CIDR observable every CIDR item holding the whole of it;
- **a domain under a domain**: a domain hits a domain item equal to it or to one of its
  parents (the item ``evil.com`` hits ``evil.com`` and ``a.b.evil.com``, not
  ``notevil.com``);
- **a URL by its host**: a URL hits an item of the same URL, and its host hits as above (a
  domain host the domain items equal to it or above it, an IP host the IP items and the
  ranges holding it);
- **an e-mail address by its domain**: an address hits an item of the same address, and its
  domain hits the domain items equal to it or above it.

Nothing else hits: a domain does not hit a URL item on it, an IP does not hit a domain that
resolves to it (no lookups are made). The hits of one observable come in that order (the
value itself, then parents nearest first, then ranges widest first), each item once.

This runs on every ingest batch and every sightings batch, so the items of the active lists
are held in memory, one index per database: a dict by canonical value, and the CIDR items as
sorted integer intervals (:class:`krsn.indicators.ranges.Ranges`). Each call costs one small
query, every watchlist's id, state, item count and ``updated_at``: every write to a list or
its items goes through :mod:`krsn.detection.watchlists.service`, which stamps the list's
``updated_at`` and recounts its ``item_count`` in the same transaction, so a change made by
any process (a list created, renamed, deactivated or deleted; items added, re-added with a
new expiry, removed or purged) changes that answer, and the next call reads the items again.
Expiry needs no change to be noticed: it is compared with ``now`` at every match.
"""

from __future__ import annotations

import socket
import threading
import uuid
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from krsn.detection.models import Watchlist, WatchlistItem, WatchlistItemType, WatchlistType
from krsn.detection.observations import Observation, WatchlistHit
from krsn.indicators.ranges import Ranges
from krsn.indicators.store import StorageForm

__all__ = ["attach_hits", "hits_of"]

_ADDRESS_VERSION: Final = {"ipv4": 4, "ipv6": 6}
# A URL's authority ends at the first of these; its host starts after the last '@' in it.
_AUTHORITY_END: Final = ("/", "?", "#")


class _List:
    """An active list, as its hits name it."""

    __slots__ = ("id", "list_type", "name")

    def __init__(self, list_id: uuid.UUID, name: str, list_type: WatchlistType) -> None:
        self.id = list_id
        self.name = name
        self.list_type = list_type


class _Item:
    """An item of an active list; its id is read as a UUID the first time it hits."""

    __slots__ = ("_id", "expires_at", "item_type", "list", "raw_id", "value")

    def __init__(
        self,
        raw_id: Any,
        owner: _List,
        item_type: WatchlistItemType,
        value: str,
        expires_at: datetime | None,
    ) -> None:
        self.raw_id = raw_id
        self._id: uuid.UUID | None = None
        self.list = owner
        self.item_type = item_type
        self.value = value
        self.expires_at = expires_at

    @property
    def id(self) -> uuid.UUID:
        found = self._id
        if found is None:
            raw = self.raw_id
            found = self._id = raw if isinstance(raw, uuid.UUID) else uuid.UUID(raw)
        return found


_Fingerprint = tuple[tuple[uuid.UUID, bool, int, datetime | None, str], ...]


def _span(cidr: str) -> tuple[int, int, int] | None:
    """A canonical CIDR range as (version, first, last), or None if it does not read as one."""
    address, _, bits = cidr.partition("/")
    try:
        if ":" in address:
            version, width = 6, 128
            number = int.from_bytes(socket.inet_pton(socket.AF_INET6, address))
        else:
            version, width = 4, 32
            number = int.from_bytes(socket.inet_aton(address))
        prefix = int(bits)
    except (OSError, ValueError):
        return None
    if not 0 < prefix <= width:
        return None
    size = 1 << (width - prefix)
    first = number & ~(size - 1)
    return version, first, first + size - 1


class _Index:
    """The items of the active lists of one database, as one consistent view."""

    __slots__ = ("by_value", "domains", "ranges", "spans")

    def __init__(self, items: Sequence[_Item]) -> None:
        by_value: dict[str, list[_Item]] = {}
        spans: dict[str, tuple[int, int, int]] = {}
        domains = False
        ip_type, domain_type = WatchlistItemType.IP, WatchlistItemType.DOMAIN
        for item in items:
            value = item.value
            same = by_value.get(value)
            if same is None:
                by_value[value] = [item]
            else:
                same.append(item)
            if item.item_type is domain_type:
                domains = True
            elif item.item_type is ip_type and "/" in value and value not in spans:
                span = _span(value)
                if span is not None:  # stored through the normaliser, so always
                    spans[value] = span
        self.by_value = by_value
        self.domains = domains
        self.spans = spans
        self.ranges = Ranges(spans) if spans else None

    def candidates(self, kind: str, canonical: str) -> list[_Item]:
        """Every item this observable hits, expired ones included, each once."""
        by_value = self.by_value
        found: list[_Item] = list(by_value.get(canonical, ()))
        if kind == "domain":
            self._parents(canonical, found, include_self=False)
        elif kind in _ADDRESS_VERSION:
            self._holding(canonical, _ADDRESS_VERSION[kind], found)
        elif kind == "cidr":
            self._containing(canonical, found)
        elif kind == "url":
            self._host(canonical, found)
        elif kind == "email":
            self._parents(canonical[canonical.rfind("@") + 1 :], found, include_self=True)
        return found

    def _parents(self, domain: str, found: list[_Item], *, include_self: bool) -> None:
        if not self.domains:
            return
        start = 0
        if not include_self:
            start = domain.find(".") + 1
            if start == 0:
                return
        by_value = self.by_value
        while True:
            name = domain[start:]
            if "." not in name:  # a last label alone is a public suffix, never an item
                return
            for item in by_value.get(name, ()):
                if item.item_type is WatchlistItemType.DOMAIN:
                    found.append(item)
            start = domain.find(".", start) + 1

    def _holding(self, address: str, version: int, found: list[_Item]) -> None:
        ranges = self.ranges
        if ranges is None:
            return
        try:
            holders = ranges.holding(address, version)
        except OSError:  # not an address after all; nothing holds it
            return
        for key in holders:
            found.extend(self.by_value[key])

    def _containing(self, cidr: str, found: list[_Item]) -> None:
        ranges = self.ranges
        span = _span(cidr)
        if ranges is None or span is None:
            return
        version, first, last = span
        intervals = ranges.v4 if version == 4 else ranges.v6
        for key in intervals.holding(first):
            if key != cidr and self.spans[key][2] >= last:
                found.extend(self.by_value[key])

    def _host(self, url: str, found: list[_Item]) -> None:
        start = url.find("://")
        if start < 0:
            return
        start += 3
        end = len(url)
        for mark in _AUTHORITY_END:
            at = url.find(mark, start)
            if 0 <= at < end:
                end = at
        authority = url[start:end]
        host = authority[authority.rfind("@") + 1 :]
        if host.startswith("["):
            address = host[1 : host.find("]")]
            found.extend(self.by_value.get(address, ()))
            self._holding(address, 6, found)
            return
        colon = host.find(":")
        if colon >= 0:
            host = host[:colon]
        if host.replace(".", "").isdigit():
            found.extend(self.by_value.get(host, ()))
            self._holding(host, 4, found)
            return
        self._parents(host, found, include_self=True)


class _Cache:
    __slots__ = ("fingerprint", "index", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fingerprint: _Fingerprint | None = None
        self.index: _Index | None = None


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_of(engine: Engine) -> _Cache:
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = _Cache()
        return cache


def _fingerprint(session: Session) -> _Fingerprint:
    rows = session.execute(
        select(
            Watchlist.id,
            Watchlist.is_active,
            Watchlist.item_count,
            Watchlist.updated_at,
            Watchlist.name,
        ).order_by(Watchlist.id)
    )
    return tuple((row[0], bool(row[1]), int(row[2] or 0), row[3], row[4]) for row in rows)


def _read_items(session: Session) -> list[_Item]:
    """Every item of the active lists, read as the driver returns rows (a rebuild reads
    them all: at 100,000 items, result processing would cost more than the query)."""
    connection = session.connection()
    form = StorageForm(connection)
    lists = {
        form.uuid(row[0]): _List(row[0], row[1], row[2])
        for row in session.execute(
            select(Watchlist.id, Watchlist.name, Watchlist.list_type).where(
                Watchlist.is_active.is_(True)
            )
        )
    }
    if not lists:
        return []
    types = {t.value: t for t in WatchlistItemType}
    # As text on PostgreSQL too: the driver builds a str faster than a UUID, and most item
    # ids are never needed (one is read as a UUID when its item first hits).
    ids = "i.watchlist_id::text, i.id::text" if form.postgresql else "i.watchlist_id, i.id"
    sql = (
        f"SELECT {ids}, i.item_type, i.item_value, i.expires_at "  # noqa: S608
        f"FROM {WatchlistItem.__tablename__} i JOIN {Watchlist.__tablename__} w "
        "ON w.id = i.watchlist_id WHERE w.is_active"
    )
    items: list[_Item] = []
    keep = items.append
    read_time = form.read_time
    for list_key, raw_id, item_type, value, expires_at in form.fetch(connection, sql, ()):
        owner = lists.get(list_key)
        if owner is None:  # activated after the lists were read: the next call sees it
            continue
        expires = None if expires_at is None else read_time(expires_at)
        keep(_Item(raw_id, owner, types[item_type], value, expires))
    return items


def _index(session: Session) -> _Index:
    """The index of the session's database, read again first if the watchlists changed."""
    cache = _cache_of(session.get_bind().engine)
    fingerprint = _fingerprint(session)
    index = cache.index
    if index is not None and cache.fingerprint == fingerprint:
        return index
    with cache.lock:
        if cache.index is not None and cache.fingerprint == fingerprint:
            return cache.index
        # Read after the fingerprint: the items are at least as new as it, so a change
        # landing in between is read now and noticed again (harmlessly) by the next call.
        index = _Index(_read_items(session))
        cache.index, cache.fingerprint = index, fingerprint
        return index


def _live(items: list[_Item], now: datetime) -> list[_Item]:
    if len(items) == 1:
        expires = items[0].expires_at
        return items if expires is None or expires > now else []
    seen: set[int] = set()
    live: list[_Item] = []
    for item in items:
        expires = item.expires_at
        if (expires is None or expires > now) and id(item) not in seen:
            seen.add(id(item))
            live.append(item)
    return live


def _hit(item: _Item) -> WatchlistHit:
    owner = item.list
    return WatchlistHit(
        item_id=item.id,
        watchlist_id=owner.id,
        watchlist_name=owner.name,
        list_type=owner.list_type,
        item_type=item.item_type,
        item_value=item.value,
    )


def _aware(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


def attach_hits(session: Session, observations: Sequence[Observation], *, now: datetime) -> None:
    """Fill each observation's ``watchlist_hits`` with the active, unexpired items it hits."""
    if not observations:
        return
    index = _index(session)
    if not index.by_value:
        return
    now = _aware(now)
    # Batches repeat observables; each distinct one is matched once.
    done: dict[tuple[str, str], list[_Item]] = {}
    for observation in observations:
        key = (observation.kind, observation.canonical)
        items = done.get(key)
        if items is None:
            items = done[key] = index.candidates(*key)
            if items:
                items[:] = _live(items, now)
        if items:
            observation.watchlist_hits.extend(_hit(item) for item in items)


def hits_of(session: Session, *, kind: str, canonical: str, now: datetime) -> list[WatchlistHit]:
    """The active, unexpired items one normalised value hits, by the rules above."""
    items = _index(session).candidates(kind, canonical)
    return [_hit(item) for item in _live(items, _aware(now))]
