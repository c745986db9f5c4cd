"""The active CIDR indicators of a database, in memory: which stored ranges hold an address.

Ranges are few next to single values (tens of thousands against millions) but a lookup asks
about every address of a batch, so they are held as integer intervals per IP version and an
address is answered with one bisection (:class:`Intervals`). The number line is cut at the
edge of every range into disjoint pieces, each knowing the ranges that cover it, so nested
ranges (a /16 holding /24s, a /24 holding a /28) all answer, without a walk over neighbours.
No library fitted: ``intervaltree`` is pure Python and walks a tree per point, and ``ncls``
works on numpy's 64-bit integers, too narrow for IPv6; one :mod:`bisect` over a sorted list
of Python integers needs neither.

The index of a database (:func:`ranges_of`) follows its writes:

- a range deactivated (false positive, expired, suppressed) or deleted is never answered
  after its commit, whoever wrote it: the index only proposes candidate ranges, and the
  lookup keeps those whose row is still active (:mod:`krsn.indicators.lookup`);
- a range inserted or reactivated in this process is found by the next lookup after the
  commit: every transaction on the engine that writes ``threat_indicators`` is noted when
  its connection goes back to the pool (right after its commit), with the time it began;
  the next lookup reads the ranges whose ``updated_at`` is at least that time less
  :data:`OVERLAP` (the ingestion pipeline, its writer process included, stamps a batch
  inside its transaction);
- one inserted or reactivated by another process is found within :data:`POLL` seconds:
  lookups read the ranges updated since the previous read, less :data:`OVERLAP` for
  transactions still committing and for clocks that disagree.

A writer that stamps ``updated_at`` before its transaction begins and commits more than
:data:`OVERLAP` later is caught by the full reload every :data:`RELOAD` seconds, which
also forgets deleted rows. It runs in a thread of its own
(reading every stored IP takes seconds at millions of rows), lookups going on meanwhile.

Reading changes uses the index on ``threat_indicators.updated_at``: it costs an index probe
when nothing changed, and the rows changed since the last read otherwise.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import time
import weakref
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Engine, event

from krsn.db.types import utcnow
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.store import StorageForm

__all__ = ["OVERLAP", "POLL", "RELOAD", "Intervals", "RangeIndex", "Ranges", "ranges_of"]

log = logging.getLogger(__name__)

POLL: Final = 2.0
"""Seconds between two reads of what other processes changed."""
OVERLAP: Final = timedelta(seconds=2)
"""How far back each read of changes starts before the previous one did."""
RELOAD: Final = 300.0
"""Seconds between two full reads of the ranges."""

_TABLE: Final = ThreatIndicator.__tablename__
_IP: Final = IndicatorType.IP.value
_RANGE: Final = "%/%"  # a stored IP value with a prefix length is a CIDR range
# Statements that may change rows of the table (a CTE may hold a write; noting one that
# does not only costs a read of recent changes).
_WRITE: Final = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|MERGE|TRUNCATE|WITH|COPY)\b", re.IGNORECASE)
# Keys of a pooled connection's ``info``: when its transaction began, and that it wrote.
_BEGAN: Final = "krsn_ranges_began"
_WROTE: Final = "krsn_ranges_wrote"
_COMMITTED: Final = "krsn_ranges_committed"


class Intervals:
    """Ranges of one IP version as disjoint intervals, each with the ranges covering it.

    ``bounds[i]`` is the first number of interval ``i``, which ends where ``i + 1`` starts;
    ``cover[i]`` holds the keys of the ranges covering it, the widest first.
    """

    __slots__ = ("bounds", "cover")

    def __init__(self, ranges: Iterable[tuple[int, int, str]]) -> None:
        # (point, 0 ends / 1 starts, minus the size so wider ranges open first, key)
        events: list[tuple[int, int, int, str]] = []
        for first, last, key in ranges:
            events.append((first, 1, first - last, key))
            events.append((last + 1, 0, 0, key))
        events.sort()
        bounds: list[int] = []
        cover: list[tuple[str, ...]] = []
        active: dict[str, None] = {}
        index, count = 0, len(events)
        while index < count:
            point = events[index][0]
            while index < count and events[index][0] == point:
                _, opens, _, key = events[index]
                if opens:
                    active[key] = None
                else:
                    del active[key]
                index += 1
            bounds.append(point)
            cover.append(tuple(active))
        self.bounds = bounds
        self.cover = cover

    def holding(self, number: int) -> tuple[str, ...]:
        """The keys of the ranges that hold ``number``, the widest first."""
        at = bisect_right(self.bounds, number) - 1
        return self.cover[at] if at >= 0 else ()

    def __len__(self) -> int:
        return len(self.bounds)


class Ranges:
    """One consistent view of the active ranges: IPv4 and IPv6 intervals."""

    __slots__ = ("count", "v4", "v6")

    def __init__(self, ranges: dict[str, tuple[int, int, int]]) -> None:
        self.v4 = Intervals((f, la, k) for k, (v, f, la) in ranges.items() if v == 4)
        self.v6 = Intervals((f, la, k) for k, (v, f, la) in ranges.items() if v == 6)
        self.count = len(ranges)

    def holding(self, address: str, version: int) -> tuple[str, ...]:
        """The signatures of the ranges holding a canonical IPv4 or IPv6 address."""
        if version == 4:
            return self.v4.holding(int.from_bytes(socket.inet_aton(address)))
        return self.v6.holding(int.from_bytes(socket.inet_pton(socket.AF_INET6, address)))


def _span(value: str) -> tuple[int, int, int] | None:
    """A stored range as (version, first, last), or None if it does not read as one."""
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        return None
    return network.version, int(network.network_address), int(network.broadcast_address)


def _read_all(connection: Connection, form: StorageForm) -> dict[str, tuple[int, int, int]]:
    """Every active stored range, by signature."""
    # is_active is checked here: as a term of the query it can lead SQLite's planner to
    # walk the is_active index, every active row, rather than the stored IPs.
    sql = form.param(
        f"SELECT hash_signature, indicator_value, is_active FROM {_TABLE} "  # noqa: S608
        "WHERE indicator_type = ? AND indicator_value LIKE ?"
    )
    spans: dict[str, tuple[int, int, int]] = {}
    for signature, value, active in form.fetch(connection, sql, (_IP, _RANGE)):
        if not active:
            continue
        span = _span(value)
        if span is None:
            log.warning("stored range %r does not read as a network; left out", value)
            continue
        spans[signature] = span
    return spans


class RangeIndex:
    """The active CIDR indicators of one database, kept in step with its writes.

    Safe to share between threads: one thread at a time brings it up to date, and what
    :meth:`current` returns never changes afterwards. The first read of every range is done
    by the first lookup; the periodic full reload runs in a thread of its own, the lookups
    going on meanwhile with what the index has.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes_lock = threading.Lock()
        self._spans: dict[str, tuple[int, int, int]] = {}
        self._view: Ranges | None = None
        self._loaded_at: float | None = None
        self._next_poll = 0.0
        self._watermark: datetime | None = None
        self._written: datetime | None = None
        self._reloader: threading.Thread | None = None
        self._read_while_reloading: datetime | None = None

    def note_write(self, began: datetime) -> None:
        """A transaction that began at ``began`` wrote indicators and has committed."""
        since = began - OVERLAP  # its rows may carry a stamp taken just before it began
        with self._notes_lock:
            if self._written is None or since < self._written:
                self._written = since

    def _take_notes(self) -> datetime | None:
        with self._notes_lock:
            written, self._written = self._written, None
        return written

    def current(self, connection: Connection) -> Ranges:
        """The ranges, first brought up to date with what was committed (read on
        ``connection``: on SQLite, call this before anything else reads in its transaction,
        so that it reads the latest commits)."""
        with self._lock:
            clock = time.monotonic()
            form = StorageForm(connection)
            if self._loaded_at is None:
                self._take_notes()  # the full read sees those writes too
                started = utcnow()
                self._spans = _read_all(connection, form)
                self._loaded(started)
                log.info("range index loaded: %d active ranges", len(self._spans))
            else:
                if clock - self._loaded_at >= RELOAD and self._reloader is None:
                    self._reloader = threading.Thread(
                        target=self._reload,
                        args=(connection.engine,),
                        name="krsn-range-reload",
                        daemon=True,
                    )
                    self._reloader.start()
                since = self._take_notes()
                polling = clock >= self._next_poll
                if polling and self._watermark is not None:
                    since = self._watermark if since is None else min(since, self._watermark)
                if since is not None:
                    if self._reloader is not None:
                        # The reload's snapshot may miss these: read them again after it.
                        missed = self._read_while_reloading
                        self._read_while_reloading = since if missed is None else min(missed, since)
                    started = utcnow()
                    self._read_changes(connection, form, since)
                    if polling:
                        self._watermark = started - OVERLAP
                        self._next_poll = clock + POLL
            if self._view is None:
                self._view = Ranges(self._spans)
            return self._view

    def _loaded(self, started: datetime) -> None:
        """A full read that started at ``started`` is in: changes are read from there on."""
        since = started - OVERLAP
        if self._read_while_reloading is not None:
            since = min(since, self._read_while_reloading)
        self._view = None
        self._loaded_at = time.monotonic()
        self._watermark = since
        self._next_poll = 0.0
        self._read_while_reloading = None

    def _reload(self, engine: Engine) -> None:
        """Read every range again, on a connection of its own (this runs in a thread)."""
        started = utcnow()
        try:
            with engine.connect() as connection:
                # A reader: on SQLite it must not hold the write lock while it reads.
                connection.execution_options(krsn_begin="DEFERRED")
                spans = _read_all(connection, StorageForm(connection))
        except Exception:
            log.exception("range index reload failed; it keeps what it has and tries later")
            with self._lock:
                self._loaded_at = time.monotonic()
                self._reloader = None
            return
        with self._lock:
            self._spans = spans
            self._loaded(started)
            self._reloader = None
        log.info("range index reloaded: %d active ranges", len(spans))

    def _read_changes(self, connection: Connection, form: StorageForm, since: datetime) -> None:
        # The unary + keeps SQLite on the updated_at index: left to itself it would pick
        # the indicator_type index (an equality) and walk every stored IP.
        kind = "+indicator_type" if form.sqlite else "indicator_type"
        sql = form.param(
            f"SELECT hash_signature, indicator_value, is_active FROM {_TABLE} "  # noqa: S608
            f"WHERE updated_at >= ? AND {kind} = ? AND indicator_value LIKE ?"
        )
        changed = False
        for signature, value, active in form.fetch(
            connection, sql, (form.time(since), _IP, _RANGE)
        ):
            if active:
                if signature not in self._spans:
                    span = _span(value)
                    if span is not None:
                        self._spans[signature] = span
                        changed = True
            elif self._spans.pop(signature, None) is not None:
                changed = True
        if changed:
            self._view = None


_indexes: weakref.WeakKeyDictionary[Engine, RangeIndex] = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def ranges_of(engine: Engine) -> RangeIndex:
    """The range index of a database (one per engine, so databases never share one)."""
    with _indexes_lock:
        index = _indexes.get(engine)
        if index is None:
            index = _indexes[engine] = RangeIndex()
            _follow_writes(engine, index)
        return index


def _follow_writes(engine: Engine, index: RangeIndex) -> None:
    """Note every committed transaction of ``engine`` that wrote ``threat_indicators``."""

    def began(connection: Connection) -> None:
        connection.info[_BEGAN] = utcnow()

    def executing(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if _TABLE in statement and _WRITE.match(statement):
            info = connection.info
            if _WROTE not in info:
                info[_WROTE] = info.get(_BEGAN) or utcnow()

    def committing(connection: Connection) -> None:
        began = connection.info.pop(_WROTE, None)
        if began is not None:
            connection.info[_COMMITTED] = began

    def rolling_back(connection: Connection) -> None:
        connection.info.pop(_WROTE, None)

    def returned(_dbapi_connection: Any, record: Any) -> None:
        # The pool takes a connection back after its transaction ended, so the rows of a
        # commit are visible to the lookup this note wakes.
        if record is not None:
            began = record.info.pop(_COMMITTED, None)
            if began is not None:
                index.note_write(began)

    event.listen(engine, "begin", began)
    event.listen(engine, "before_cursor_execute", executing)
    event.listen(engine, "commit", committing)
    event.listen(engine, "rollback", rolling_back)
    event.listen(engine, "checkin", returned)
