"""search: bulk loads index their rows in one statement on SQLite

Revision ID: 0013_search_bulk_load
Revises: 0012_collection_collector

SQLite's insert triggers of the search indices hold back while a bulk writer has named its
table in ``fts_bulk_load``; that writer indexes its new rows with one ``INSERT … SELECT``
(see :func:`krsn.osint.search.schema.bulk_indexed`). PostgreSQL is unchanged. The downgrade
keeps the table and the triggers' condition: with the table empty they behave as before.
"""

from collections.abc import Sequence

from alembic import op

from krsn.osint.search import schema

revision: str = "0013_search_bulk_load"
down_revision: str | Sequence[str] | None = "0012_collection_collector"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    for spec in schema.INDEXED:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {spec.fts}_insert")
    schema.install(connection)


def downgrade() -> None:
    pass
