"""osint: the registered collector a collection runs

Revision ID: 0012_collection_collector
Revises: 0011_osint_collections

A third party adds a collector under its own entry-point name within one of the six
categories; ``collections.collector`` names it. Null means the built-in of
``collector_type``, so every existing collection keeps running as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_collection_collector"
down_revision: str | Sequence[str] | None = "0011_osint_collections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("collector", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_column("collector")
