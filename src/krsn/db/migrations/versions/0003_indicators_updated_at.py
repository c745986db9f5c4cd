"""index threat_indicators.updated_at

Revision ID: 0003_indicators_updated_at
Revises: 0002_feed_formats
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_indicators_updated_at"
down_revision: str | Sequence[str] | None = "0002_feed_formats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "idx_threat_indicators_updated_at"


def upgrade() -> None:
    # A plain CREATE INDEX on both engines: SQLite needs no table rebuild for it.
    op.create_index(NAME, "threat_indicators", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index(NAME, table_name="threat_indicators")
