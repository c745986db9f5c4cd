"""osint: graph

Revision ID: 0009_osint_graph
Revises: 0008_osint_search

What the graph needs beyond the edge table: the covering index of incoming edges, the
index the projections poll new edges by, and ``graph_changes``, the log of removals every
process's in-memory projection replays.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import krsn.db.types

revision: str = "0009_osint_graph"
down_revision: str | Sequence[str] | None = "0008_osint_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "graph_changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("node", sa.String(length=80), nullable=False),
        sa.Column("other", sa.String(length=80), nullable=True),
        sa.Column(
            "created_at", krsn.db.types.UTCDateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_graph_changes")),
    )
    op.create_index("idx_graph_changes_created_at", "graph_changes", ["created_at"])
    op.create_index(
        "idx_entity_relationships_target_cover",
        "entity_relationships",
        ["target_kind", "target_id", "source_kind", "source_id", "relation", "type"],
    )
    op.create_index("idx_entity_relationships_created_at", "entity_relationships", ["created_at"])


def downgrade() -> None:
    op.drop_index("idx_entity_relationships_created_at", table_name="entity_relationships")
    op.drop_index("idx_entity_relationships_target_cover", table_name="entity_relationships")
    op.drop_index("idx_graph_changes_created_at", table_name="graph_changes")
    op.drop_table("graph_changes")
