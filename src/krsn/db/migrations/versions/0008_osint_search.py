"""osint: full-text search indices

Revision ID: 0008_osint_search
Revises: 0007_detection_sightings_channel

Search indices for entities, documents, audit logs and indicators on both engines: FTS5
tables kept by triggers on SQLite, trigger-kept tsvector side tables with GIN (and pg_trgm
on entity names) on PostgreSQL. See :mod:`krsn.osint.search.schema`. Rows already in the
tables are indexed here.
"""

from collections.abc import Sequence

from alembic import op

from krsn.osint.search import schema

revision: str = "0008_osint_search"
down_revision: str | Sequence[str] | None = "0007_detection_sightings_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    schema.install(connection)
    schema.rebuild(connection)


def downgrade() -> None:
    schema.uninstall(op.get_bind())
