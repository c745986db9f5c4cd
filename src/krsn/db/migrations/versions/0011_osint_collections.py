"""osint: collections, sources and items

Revision ID: 0011_osint_collections
Revises: 0010_osint_entities

What running collections needs beyond the drawn tables: the OSINT source a collection's
runs go through (its rate limit, credentials and proxy).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_osint_collections"
down_revision: str | Sequence[str] | None = "0010_osint_entities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_id", sa.Uuid(), nullable=True))
        batch_op.create_index("idx_collections_source_id", ["source_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_collections_source_id_sources"),
            "sources",
            ["source_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_collections_source_id_sources"), type_="foreignkey")
        batch_op.drop_index("idx_collections_source_id")
        batch_op.drop_column("source_id")
