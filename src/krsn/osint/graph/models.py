"""What the graph keeps beyond the edge table: the log of removals every process's
projection replays, and the indexes the bounded expansion reads through.

Additions need no log: a projection finds them by ``entity_relationships.created_at``.
Removals leave no row to find, so :mod:`krsn.osint.graph.edges` writes one here (an edge
pair gone, a node deleted, a node repointed to another) in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, created_at_column
from krsn.osint.models import EntityRelationship


class GraphChangeOp:
    """What a ``graph_changes`` row records."""

    UNLINK = "unlink"  # the pair node/other has no edge left
    DELETE = "delete"  # node and all its edges are gone
    REPOINT = "repoint"  # node's edges now end at other (an entity merge)


class GraphChange(Base):
    __tablename__ = "graph_changes"
    __table_args__ = (Index("idx_graph_changes_created_at", "created_at"),)

    # Increasing, so a process asks only for what came after the last one it applied;
    # SQLite makes an INTEGER PRIMARY KEY its rowid, which BIGINT would not be.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    op: Mapped[str] = mapped_column(String(16), nullable=False)
    # Nodes written "kind:id".
    node: Mapped[str] = mapped_column(String(80), nullable=False)
    other: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()


_edges = EntityRelationship.__table__

# The unique key (source_kind, source_id, target_kind, target_id, relation, type) already
# covers the outgoing side; this one covers the incoming side, so both halves of a
# neighbourhood are read from an index alone.
Index(
    "idx_entity_relationships_target_cover",
    _edges.c.target_kind,
    _edges.c.target_id,
    _edges.c.source_kind,
    _edges.c.source_id,
    _edges.c.relation,
    _edges.c.type,
)
# How a projection finds the edges other processes added since it last looked.
Index("idx_entity_relationships_created_at", _edges.c.created_at)
