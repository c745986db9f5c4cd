"""Edges of the one graph: how every writer (extraction, collectors, ATT&CK import, analysts)
adds relationships to ``entity_relationships``.

A node is a kind and an id (:class:`NodeRef`); an edge is an :class:`EdgeSpec`. Writers call
:func:`add_edges` inside their own transaction; an edge already present is left as it is.
Whoever deletes or merges a node calls :func:`delete_node` or :func:`repoint_node`, which
remove or move its edges. Every change reaches the in-memory projections: this process's once
the transaction commits, other processes' through ``graph_changes`` and the edges' creation
times (see :mod:`krsn.osint.graph.projection`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.osint.graph import expand
from krsn.osint.graph.models import GraphChange, GraphChangeOp
from krsn.osint.graph.projection import Change, queue
from krsn.osint.models import EdgeRelation, EntityRelationship, NodeKind, RelationshipType


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node of the graph: entities, indicators, actors, campaigns and sources by UUID text,
    ATT&CK techniques by their id (``T1059.001``)."""

    kind: NodeKind
    id: str

    @classmethod
    def of(cls, kind: NodeKind | str, id: uuid.UUID | str) -> NodeRef:
        return cls(NodeKind(kind), str(id))

    @classmethod
    def parse(cls, text: str) -> NodeRef:
        """``kind:id`` as the API and the CLI write it (``entity:<uuid>``, ``technique:T1059``)."""
        kind, sep, ident = text.strip().partition(":")
        if not sep or not ident:
            raise ValueError(f"{text!r} is not kind:id")
        return cls.of(kind.lower(), ident)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True, slots=True)
class EdgeSpec:
    """One edge to add. ``type`` is required for ``RELATED_TO`` and absent otherwise."""

    source: NodeRef
    target: NodeRef
    type: RelationshipType | None = None
    relation: EdgeRelation = EdgeRelation.RELATED_TO
    confidence: float | None = None
    # Who or what asserted it: an extractor, a collector, "attack", an analyst's username.
    asserted_by: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    collection_id: uuid.UUID | None = None
    collected_at: datetime | None = None


_TABLE = cast(Table, EntityRelationship.__table__)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _key(edge: EdgeSpec) -> tuple[str, str, str, str, str, str | None]:
    return (
        edge.source.kind.value,
        edge.source.id,
        edge.target.kind.value,
        edge.target.id,
        edge.relation.value,
        edge.type.value if edge.type else None,
    )


def add_edges(session: Session, edges: Iterable[EdgeSpec]) -> int:
    """Add the edges not already present (same ends, relation and type); how many were new."""
    wanted: dict[tuple[str, str, str, str, str, str | None], EdgeSpec] = {}
    for edge in edges:
        if edge.relation is EdgeRelation.RELATED_TO and edge.type is None:
            raise ValueError("a RELATED_TO edge needs a type")
        wanted.setdefault(_key(edge), edge)
    if not wanted:
        return 0
    table = _TABLE
    typed = [key for key in wanted if key[5] is not None]
    present: set[tuple[str, ...]] = set()
    for start in range(0, len(typed), 500):
        chunk = typed[start : start + 500]
        rows = session.execute(
            select(
                table.c.source_kind,
                table.c.source_id,
                table.c.target_kind,
                table.c.target_id,
                table.c.relation,
                table.c.type,
            ).where(
                tuple_(
                    table.c.source_kind,
                    table.c.source_id,
                    table.c.target_kind,
                    table.c.target_id,
                    table.c.relation,
                    table.c.type,
                ).in_(chunk)
            )
        )
        present.update(tuple(str(getattr(v, "value", v)) for v in row) for row in rows)
    now = utcnow()
    rows_to_add = [
        {
            "id": uuid.uuid4(),
            "source_kind": edge.source.kind,
            "source_id": edge.source.id,
            "target_kind": edge.target.kind,
            "target_id": edge.target.id,
            "relation": edge.relation,
            "type": edge.type,
            "confidence": None if edge.confidence is None else Decimal(f"{edge.confidence:.2f}"),
            "source": edge.asserted_by,
            "properties": edge.properties,
            "collection_id": edge.collection_id,
            "collected_at": edge.collected_at,
            "created_at": now,
        }
        for key, edge in wanted.items()
        if key not in present
    ]
    if rows_to_add:
        session.execute(insert(table), rows_to_add)
        queue(
            session,
            Change(
                "add",
                tuple(
                    (f"{_text(r['source_kind'])}:{r['source_id']}",
                     f"{_text(r['target_kind'])}:{r['target_id']}")
                    for r in rows_to_add
                ),
            ),
        )  # fmt: skip
    return len(rows_to_add)


def _ends(node: NodeRef, side: str) -> Any:
    table = _TABLE
    return and_(table.c[f"{side}_kind"] == node.kind.value, table.c[f"{side}_id"] == node.id)


def _log(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        now = utcnow()
        session.execute(insert(GraphChange), [{**row, "created_at": now} for row in rows])


def remove_edges(session: Session, edges: Iterable[EdgeSpec]) -> int:
    """Delete these edges (same ends, relation and type), in the direction given; how many."""
    table = _TABLE
    removed, pairs = 0, set()
    for edge in edges:
        condition = and_(
            _ends(edge.source, "source"),
            _ends(edge.target, "target"),
            table.c.relation == edge.relation.value,
            table.c.type.is_(None) if edge.type is None else table.c.type == edge.type.value,
        )
        count = _rowcount(session.execute(delete(table).where(condition)))
        if count:
            removed += count
            pairs.add((str(edge.source), str(edge.target)))
    # A pair leaves the projection only when no edge of any kind joins it any more.
    gone = [(a, b) for a, b in sorted(pairs) if not expand.connected(session, a, b)]
    if gone:
        _log(session, [{"op": GraphChangeOp.UNLINK, "node": a, "other": b} for a, b in gone])
        queue(session, Change("unlink", tuple(gone)))
    return removed


def delete_node(session: Session, node: NodeRef) -> int:
    """Delete every edge at ``node`` (it is going away); how many were deleted."""
    table = _TABLE
    count = _rowcount(
        session.execute(delete(table).where(or_(_ends(node, "source"), _ends(node, "target"))))
    )
    _log(session, [{"op": GraphChangeOp.DELETE, "node": str(node), "other": None}])
    queue(session, Change("delete", (str(node),)))
    return count


def repoint_node(session: Session, old: NodeRef, new: NodeRef) -> int:
    """Move every edge at ``old`` to ``new`` (an entity merge): edges ``new`` already has, and
    those between the two, are dropped. How many edges were moved."""
    if old == new:
        return 0
    table = _TABLE
    rows = session.execute(
        select(
            table.c.id, table.c.source_kind, table.c.source_id, table.c.target_kind,
            table.c.target_id, table.c.relation, table.c.type,
        ).where(or_(_ends(old, "source"), _ends(old, "target")))
    ).all()  # fmt: skip
    old_key = (old.kind.value, old.id)
    new_key = (new.kind.value, new.id)
    moved: list[tuple[Any, tuple[str, ...]]] = []
    for row in rows:
        source = (_text(row.source_kind), row.source_id)
        target = (_text(row.target_kind), row.target_id)
        source = new_key if source == old_key else source
        target = new_key if target == old_key else target
        key = (*source, *target, _text(row.relation), _text(row.type) if row.type else None)
        moved.append((row.id, key))
    typed = [key for _, key in moved if key[5] is not None]
    present: set[tuple[str, ...]] = set()
    for start in range(0, len(typed), 500):
        chunk = typed[start : start + 500]
        present.update(
            tuple(_text(v) for v in found)
            for found in session.execute(
                select(
                    table.c.source_kind, table.c.source_id, table.c.target_kind,
                    table.c.target_id, table.c.relation, table.c.type,
                ).where(
                    tuple_(
                        table.c.source_kind, table.c.source_id, table.c.target_kind,
                        table.c.target_id, table.c.relation, table.c.type,
                    ).in_(chunk)
                )
            )
        )  # fmt: skip
    doomed, updates, seen = [], [], set()
    for edge_id, key in moved:
        loop = key[0:2] == key[2:4]
        if loop or key in present or key in seen:
            doomed.append(edge_id)
            continue
        seen.add(key)
        updates.append(
            {"b_id": edge_id, "v_sk": key[0], "v_si": key[1], "v_tk": key[2], "v_ti": key[3]}
        )
    for start in range(0, len(doomed), 500):
        session.execute(delete(table).where(table.c.id.in_(doomed[start : start + 500])))
    if updates:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                source_kind=bindparam("v_sk"),
                source_id=bindparam("v_si"),
                target_kind=bindparam("v_tk"),
                target_id=bindparam("v_ti"),
            ),
            updates,
        )
    _log(session, [{"op": GraphChangeOp.REPOINT, "node": str(old), "other": str(new)}])
    queue(session, Change("repoint", ((str(old), str(new)),)))
    return len(updates)


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


# A projection older than its maximum age (an hour) reloads whole, so it never needs a
# removal logged before then; two hours leaves room for a slow reload.
CHANGES_KEPT = timedelta(hours=2)


def prune_changes(session: Session, *, now: datetime | None = None) -> int:
    """Delete the logged removals no projection can still need; how many."""
    cutoff = (now or utcnow()) - CHANGES_KEPT
    done = session.execute(delete(GraphChange).where(GraphChange.created_at < cutoff))
    return int(getattr(done, "rowcount", 0) or 0)
