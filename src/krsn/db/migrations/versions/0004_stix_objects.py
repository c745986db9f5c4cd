"""stix_objects: the STIX object store

Revision ID: 0004_stix_objects
Revises: 0003_indicators_updated_at
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import krsn.db.types

revision: str = "0004_stix_objects"
down_revision: str | Sequence[str] | None = "0003_indicators_updated_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stix_objects",
        sa.Column("stix_id", sa.String(length=300), nullable=False),
        sa.Column("stix_type", sa.String(length=250), nullable=False),
        sa.Column("spec_version", sa.String(length=16), nullable=True),
        sa.Column("created", krsn.db.types.UTCDateTime(), nullable=True),
        sa.Column("modified", krsn.db.types.UTCDateTime(), nullable=True),
        sa.Column("revoked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "object",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("added_at", krsn.db.types.UTCDateTime(), nullable=False),
        sa.Column("local_table", sa.String(length=64), nullable=True),
        sa.Column("local_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("stix_id", name=op.f("pk_stix_objects")),
    )
    # Plain CREATE INDEX on both engines: a new table needs no batch rebuild on SQLite.
    op.create_index("idx_stix_objects_added_at", "stix_objects", ["added_at"], unique=False)
    op.create_index(
        "idx_stix_objects_local", "stix_objects", ["local_table", "local_id"], unique=False
    )
    op.create_index("idx_stix_objects_modified", "stix_objects", ["modified"], unique=False)
    op.create_index("idx_stix_objects_stix_type", "stix_objects", ["stix_type"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_stix_objects_stix_type", table_name="stix_objects")
    op.drop_index("idx_stix_objects_modified", table_name="stix_objects")
    op.drop_index("idx_stix_objects_local", table_name="stix_objects")
    op.drop_index("idx_stix_objects_added_at", table_name="stix_objects")
    op.drop_table("stix_objects")
