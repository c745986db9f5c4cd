"""Edges of the one graph: how every writer (extraction, collectors, ATT&CK import, analysts)
adds relationships to ``entity_relationships``.

A node is a kind and an id (:class:`NodeRef`); an edge is an :class:`EdgeSpec`. Writers call
:func:`add_edges` inside their own transaction; an edge already present is left as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
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
    table = EntityRelationship.__table__
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
    return len(rows_to_add)
