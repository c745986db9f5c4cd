"""taxii_status: the TAXII server's status resources, and the indexes it pages by

Revision ID: 0005_taxii_status
Revises: 0004_stix_objects
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import krsn.db.types

revision: str = "0005_taxii_status"
down_revision: str | Sequence[str] | None = "0004_stix_objects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "taxii_status",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("collection_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_timestamp", krsn.db.types.UTCDateTime(), nullable=True),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("successes", _JSON, nullable=True),
        sa.Column("failures", _JSON, nullable=True),
        sa.Column("pendings", _JSON, nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", krsn.db.types.UTCDateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_taxii_status_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_status")),
    )
    op.create_index("idx_taxii_status_created_at", "taxii_status", ["created_at"], unique=False)
    op.create_index("idx_taxii_status_created_by", "taxii_status", ["created_by"], unique=False)
    # Plain CREATE INDEX on both engines: adding an index needs no batch rebuild on SQLite.
    op.create_index(
        "idx_collection_indicators_taxii_page",
        "collection_indicators",
        ["collection_id", "added_at", "indicator_id"],
        unique=False,
    )
    op.create_index(
        "idx_threat_indicators_updated_at_id",
        "threat_indicators",
        ["updated_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("idx_threat_indicators_updated_at_id", table_name="threat_indicators")
    op.drop_index("idx_collection_indicators_taxii_page", table_name="collection_indicators")
    op.drop_index("idx_taxii_status_created_by", table_name="taxii_status")
    op.drop_index("idx_taxii_status_created_at", table_name="taxii_status")
    op.drop_table("taxii_status")
