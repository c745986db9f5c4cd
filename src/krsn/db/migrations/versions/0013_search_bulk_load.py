"""search: new indicators are indexed by their writer in one statement on SQLite

Revision ID: 0013_search_bulk_load
Revises: 0012_collection_collector

On SQLite any AFTER INSERT trigger on ``threat_indicators`` doubled the cost of inserting
an indicator, so the table's insert trigger goes: the indicator store indexes each batch
of new indicators with one ``INSERT … SELECT`` in the same transaction, and ORM inserts are
indexed by a mapper event (see :mod:`krsn.osint.search.schema`). PostgreSQL is unchanged.
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
    if connection.dialect.name == "sqlite":
        for spec in schema.DEFERRED:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {spec.fts}_insert")


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        for spec in schema.DEFERRED:
            columns = ", ".join(spec.columns)
            values = ", ".join(f"new.{c}" for c in spec.columns)
            body = f"INSERT INTO {spec.fts}(rowid, {columns}) VALUES (new.rowid, {values});"  # noqa: S608
            connection.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {spec.fts}_insert AFTER INSERT ON {spec.table} "
                f"BEGIN {body} END"
            )
