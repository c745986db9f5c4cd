"""The in-memory projection: every edge of one database as an undirected igraph graph, one per
engine per process, loaded on first use and kept in step with writes.

What it holds is the set of connected pairs (edge labels and direction stay in SQL), which is
what paths, centrality and components need. Changes reach it two ways:

- from this process: :mod:`krsn.osint.graph.edges` queues each change on the session, and it
  is applied here once that transaction commits (never for a rollback);
- from other processes: before use, at most every ``poll_s`` seconds, it reads the edges
  created after its high-water mark or in the last ``slack_s`` seconds (for transactions
  that committed late) and the removals logged in ``graph_changes`` since the last it
  applied.

Applying is idempotent (adding a present pair or removing an absent one does nothing), so a
change seen both ways is harmless. Links kept in other tables (indicator ↔ campaign, …)
are read at load; as those tables are written by code that does not tell the graph, a
projection older than ``max_age_s`` reloads.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import igraph as ig
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.osint.graph.expand import all_pairs
from krsn.osint.graph.models import GraphChange, GraphChangeOp
from krsn.osint.models import EntityRelationship

log = logging.getLogger(__name__)

_PENDING = "krsn_graph_changes"


@dataclass(frozen=True, slots=True)
class Change:
    """One change to apply: ``add`` / ``unlink`` carry pairs, ``delete`` nodes,
    ``repoint`` (old, new) pairs."""

    op: str
    items: tuple[tuple[str, str], ...] | tuple[str, ...]


@dataclass
class _Queued:
    engine: Engine
    changes: list[Change] = field(default_factory=list)


def queue(session: Session, change: Change) -> None:
    """Apply ``change`` to this engine's projection once the session's transaction commits."""
    queued: _Queued | None = session.info.get(_PENDING)
    if queued is None:
        queued = session.info[_PENDING] = _Queued(engine=session.get_bind().engine)
    queued.changes.append(change)


@event.listens_for(Session, "after_commit")
def _apply(session: Session) -> None:
    queued: _Queued | None = session.info.pop(_PENDING, None)
    if queued is None:
        return
    projection = _projections.get(queued.engine)
    if projection is None or not projection.loaded:
        return
    try:
        projection.apply(queued.changes)
    except Exception:
        # The change is committed; a projection that missed it must not fail the write.
        # Drop it so the next use reloads from the database.
        log.exception("graph projection missed %d change(s); it will reload", len(queued.changes))
        projection.invalidate()


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_PENDING, None)


class Projection:
    """The graph of one database; methods are safe to call from several threads."""

    def __init__(
        self, engine: Engine, *, poll_s: float = 2.0, slack_s: float = 10.0, max_age_s: float = 3600
    ) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.slack_s = slack_s
        self.max_age_s = max_age_s
        self.lock = threading.RLock()
        self.graph = ig.Graph()
        self.index: dict[str, int] = {}
        self.names: list[str | None] = []
        self.loaded = False
        self.loaded_at = 0.0
        self.load_seconds = 0.0
        self.polled_at = 0.0
        self.watermark: datetime | None = None
        self.change_seq = 0

    # --- Loading ------------------------------------------------------------------------

    def load(self, session: Session) -> None:
        """Read every edge (this replaces whatever was held)."""
        started = time.perf_counter()
        table = EntityRelationship.__table__
        watermark = session.scalar(select(func.max(table.c.created_at)))
        change_seq = session.scalar(select(func.max(GraphChange.seq))) or 0
        index: dict[str, int] = {}
        sources, targets = array("q"), array("q")
        for batch in all_pairs(session):
            for a, b in batch:
                va = index.get(a)
                if va is None:
                    va = index[a] = len(index)
                vb = index.get(b)
                if vb is None:
                    vb = index[b] = len(index)
                sources.append(va)
                targets.append(vb)
        graph = ig.Graph(n=len(index))
        graph.add_edges(zip(sources, targets, strict=True))
        # One edge per connected pair: labels and direction are the database's business.
        graph.simplify(multiple=True, loops=True)
        names: list[str | None] = [None] * len(index)
        for name, vertex in index.items():
            names[vertex] = name
        with self.lock:
            self.graph, self.index, self.names = graph, index, names
            self.watermark, self.change_seq = watermark, int(change_seq)
            self.loaded, self.loaded_at = True, time.monotonic()
            self.polled_at = self.loaded_at
            self.load_seconds = time.perf_counter() - started
        log.info(
            "graph projection loaded: %d nodes, %d edges in %.2fs",
            graph.vcount(),
            graph.ecount(),
            self.load_seconds,
        )

    def invalidate(self) -> None:
        with self.lock:
            self.loaded = False

    def ready(self, session: Session) -> Projection:
        """Loaded and caught up with what other processes did; loads on first use."""
        now = time.monotonic()
        if not self.loaded or now - self.loaded_at > self.max_age_s:
            self.load(session)
        elif now - self.polled_at >= self.poll_s:
            self.poll(session)
        return self

    def poll(self, session: Session) -> None:
        """Apply what other processes added (by creation time) and removed (by the log)."""
        table = EntityRelationship.__table__
        # Past the newest edge seen, and again over the last slack_s seconds of the clock for
        # transactions that committed after a later one: never the whole tail of a bulk load
        # whose rows share one timestamp.
        recent = utcnow() - timedelta(seconds=self.slack_s)
        since = min(self.watermark, recent) if self.watermark else None
        statement = select(
            table.c.source_kind, table.c.source_id, table.c.target_kind, table.c.target_id,
            table.c.created_at,
        )  # fmt: skip
        if since is not None:
            statement = statement.where(table.c.created_at > since)
        pairs, newest = [], self.watermark
        for sk, si, tk, ti, created in session.execute(statement):
            pairs.append((f"{_value(sk)}:{si}", f"{_value(tk)}:{ti}"))
            if created is not None and (newest is None or created > newest):
                newest = created
        changes = [Change("add", tuple(pairs))] if pairs else []
        seq = self.change_seq
        for row in session.execute(
            select(GraphChange.seq, GraphChange.op, GraphChange.node, GraphChange.other)
            .where(GraphChange.seq > self.change_seq)
            .order_by(GraphChange.seq)
        ):
            seq = row.seq
            if row.op == GraphChangeOp.DELETE:
                changes.append(Change("delete", (row.node,)))
            elif row.op == GraphChangeOp.UNLINK and row.other:
                changes.append(Change("unlink", ((row.node, row.other),)))
            elif row.op == GraphChangeOp.REPOINT and row.other:
                changes.append(Change("repoint", ((row.node, row.other),)))
        self.apply(changes)
        with self.lock:
            self.watermark, self.change_seq = newest, seq
            self.polled_at = time.monotonic()

    # --- Changes ------------------------------------------------------------------------

    def _vertex(self, name: str) -> int:
        vertex = self.index.get(name)
        if vertex is None:
            vertex = self.index[name] = self.graph.vcount()
            self.graph.add_vertices(1)
            self.names.append(name)
        return vertex

    def apply(self, changes: Iterable[Change]) -> None:
        """Apply changes in order; each is idempotent."""
        with self.lock:
            for change in changes:
                if change.op == "add":
                    self._add(change.items)  # type: ignore[arg-type]
                elif change.op == "unlink":
                    self._unlink(change.items)  # type: ignore[arg-type]
                elif change.op == "delete":
                    for node in change.items:
                        self._delete(str(node))
                elif change.op == "repoint":
                    for pair in change.items:
                        self._repoint(*pair)

    def _add(self, pairs: Iterable[tuple[str, str]]) -> None:
        graph, new = self.graph, set()
        for a, b in pairs:
            if a == b:
                continue
            va, vb = self._vertex(a), self._vertex(b)
            key = (va, vb) if va < vb else (vb, va)
            if key not in new and graph.get_eid(va, vb, directed=False, error=False) < 0:
                new.add(key)
        if new:
            graph.add_edges(sorted(new))

    def _unlink(self, pairs: Iterable[tuple[str, str]]) -> None:
        doomed = []
        for a, b in pairs:
            va, vb = self.index.get(a), self.index.get(b)
            if va is None or vb is None:
                continue
            eid = self.graph.get_eid(va, vb, directed=False, error=False)
            if eid >= 0:
                doomed.append(eid)
        if doomed:
            self.graph.delete_edges(doomed)

    def _delete(self, node: str) -> None:
        # The vertex stays as an unnamed isolate: deleting it would renumber every vertex.
        vertex = self.index.pop(node, None)
        if vertex is None:
            return
        self.graph.delete_edges(self.graph.incident(vertex))
        self.names[vertex] = None

    def _repoint(self, old: str, new: str) -> None:
        vertex = self.index.get(old)
        if vertex is None:
            return
        neighbours = [self.names[v] for v in self.graph.neighbors(vertex)]
        self._delete(old)
        self._add((new, n) for n in neighbours if n is not None and n != new)

    # --- Reading ------------------------------------------------------------------------

    def vertex_of(self, node: str) -> int | None:
        return self.index.get(node)

    def name_of(self, vertex: int) -> str | None:
        return self.names[vertex] if vertex < len(self.names) else None

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "nodes": len(self.index),
                "edges": self.graph.ecount(),
                "load_seconds": round(self.load_seconds, 3),
                "age_seconds": round(time.monotonic() - self.loaded_at, 1) if self.loaded else None,
            }


def _value(kind: Any) -> str:
    return str(getattr(kind, "value", kind))


_projections: weakref.WeakKeyDictionary[Engine, Projection] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def projection_for(session: Session) -> Projection:
    """This database's projection, loaded and caught up (the first call loads it)."""
    engine = session.get_bind().engine
    with _registry_lock:
        projection = _projections.get(engine)
        if projection is None:
            projection = _projections[engine] = Projection(engine)
    with projection.lock:
        return projection.ready(session)


def loaded_projection(session: Session) -> Projection | None:
    """This database's projection if one is loaded in this process, else None."""
    projection = _projections.get(session.get_bind().engine)
    if projection is None or not projection.loaded:
        return None
    with projection.lock:
        return projection.ready(session)


def forget(engine: Engine) -> None:
    """Drop this engine's projection (the next use loads it again)."""
    with _registry_lock:
        _projections.pop(engine, None)
