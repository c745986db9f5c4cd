"""The search indices each engine keeps, created by migration ``0008_osint_search``.

Both engines index inside the database, so an index changes in the transaction of the
write that changes its table, whoever writes (ORM, Core executemany, COPY, raw SQL):

SQLite
    FTS5 tables with the searched table as external content (``content_rowid`` is the
    table's rowid), kept by ``AFTER INSERT/UPDATE OF/DELETE`` triggers, plus a ``trigram``
    table over entity names for substrings and a ``fts5vocab`` table per index that gives
    the document count of a term (the cheap total estimate).
PostgreSQL
    a side table per index, ``fts_<table> (id → table.id ON DELETE CASCADE, vector
    tsvector)`` with a GIN index, filled by a statement-level ``AFTER INSERT`` trigger
    (one ``INSERT … SELECT`` per statement, however many rows it wrote) and a row-level
    ``AFTER UPDATE OF`` trigger that fires only when a searched column really changed;
    ``fts_entities.name`` carries a pg_trgm GIN index for substrings.

Every object here is named ``fts_…`` (and ``krsn_fts_…`` / ``krsn_search_vector`` for
PostgreSQL functions); ``krsn.db.migrate`` leaves tables with that prefix out of the
schema-drift comparison, since they are not models.

On SQLite, a migration that rebuilds a searched table (Alembic's batch mode copies it)
drops that table's triggers and renumbers its rows: such a migration calls
:func:`install` and :func:`rebuild` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection

TABLE_PREFIX = "fts_"
# Beyond this many characters, PostgreSQL would refuse the tsvector (1 MiB) and lose
# positions anyway (16,383); the rest of a longer document is not indexed there.
PG_MAX_INDEXED_CHARS = 400_000


@dataclass(frozen=True, slots=True)
class Indexed:
    """A searched table: the columns whose text is indexed, and what fires the update."""

    table: str
    columns: tuple[str, ...]
    # PostgreSQL's text expression of a row, with ``r.`` as the row.
    pg_text: str

    @property
    def fts(self) -> str:
        return f"{TABLE_PREFIX}{self.table}"


ENTITIES = Indexed(
    "entities",
    ("name", "normalized_name", "tags"),
    "concat_ws(' ', r.name, r.normalized_name, array_to_string(r.tags, ' '))",
)
DOCUMENTS = Indexed(
    "raw_documents",
    ("content", "source"),
    f"concat_ws(' ', left(r.content, {PG_MAX_INDEXED_CHARS}), r.source)",
)
AUDIT_LOGS = Indexed(
    "audit_logs",
    ("action", "resource_type", "resource_id", "details", "ip_address"),
    "concat_ws(' ', r.action, r.resource_type, r.resource_id, "
    f"left(r.details::text, {PG_MAX_INDEXED_CHARS}), host(r.ip_address))",
)
INDICATORS = Indexed("threat_indicators", ("indicator_value",), "r.indicator_value")

INDEXED = (ENTITIES, DOCUMENTS, AUDIT_LOGS, INDICATORS)
TRIGRAM = f"{TABLE_PREFIX}entities_trigram"
# SQLite: tables whose new rows are indexed by their writer in one statement per batch
# (bulk_indexed), not by an insert trigger. Any AFTER INSERT trigger on threat_indicators,
# even one whose WHEN is false, doubled the cost of inserting a row there (about 27 µs
# measured); the one writer of new indicators (the indicator store) indexes them itself,
# and ORM inserts are indexed by a mapper event (krsn.indicators.models).
DEFERRED = (INDICATORS,)

_SQLITE_TOKENIZE = "tokenize = 'unicode61 remove_diacritics 2'"
# Prefix indexes make 'ab*' and 'abc*' one doclist read instead of a merge of every term
# (entity look-ups must stay fast on millions of names); elsewhere they would double the
# cost of every write for a query that merges few terms anyway.
_SQLITE_PREFIX = {"entities": ", prefix = '2 3'"}


def install(connection: Connection) -> None:
    """Create whatever search objects are missing on this connection's engine."""
    if connection.dialect.name == "postgresql":
        _install_postgresql(connection)
    else:
        _install_sqlite(connection)


def uninstall(connection: Connection) -> None:
    """Drop every search object (the downgrade of ``0008_osint_search``)."""
    if connection.dialect.name == "postgresql":
        for spec in INDEXED:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {spec.fts} CASCADE")
            for suffix in ("insert", "update"):
                connection.exec_driver_sql(
                    f"DROP TRIGGER IF EXISTS krsn_{spec.fts}_{suffix} ON {spec.table}"
                )
                connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS krsn_{spec.fts}_{suffix}()")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS krsn_search_vector(text)")
        return
    for spec in INDEXED:
        for suffix in ("insert", "update", "delete"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {spec.fts}_{suffix}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {spec.fts}_vocab")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {spec.fts}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {TRIGRAM}")


def rebuild(connection: Connection, *, only: Indexed | None = None) -> None:
    """Re-read every searched table (or ``only`` one) into its index: after a bulk load
    with triggers off, a table rebuilt by a migration, or a restore."""
    specs = INDEXED if only is None else (only,)
    if connection.dialect.name == "postgresql":
        for spec in specs:
            connection.exec_driver_sql(f"DELETE FROM {spec.fts}")  # noqa: S608 - fixed names
            connection.exec_driver_sql(_pg_fill(spec, source=spec.table))
        return
    names = [spec.fts for spec in specs] + ([TRIGRAM] if ENTITIES in specs else [])
    for name in names:
        connection.exec_driver_sql(f"INSERT INTO {name}({name}) VALUES ('rebuild')")  # noqa: S608


# --- SQLite ---------------------------------------------------------------------------------


@contextmanager
def bulk_indexed(connection: Connection, spec: Indexed) -> Iterator[None]:
    """Insert rows into a :data:`DEFERRED` table inside the block; on SQLite they are
    indexed at its end by one ``INSERT … SELECT``, in the same transaction. Elsewhere a
    no-op: PostgreSQL's triggers already work per statement.

    New rows are the ones above the largest rowid before the block: a rowid table's new
    rowids grow past its largest, and SQLite runs one writer at a time.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    if spec not in DEFERRED:
        raise ValueError(f"{spec.table} is indexed by its insert trigger")
    run = connection.exec_driver_sql
    before = run(f"SELECT coalesce(max(rowid), 0) FROM {spec.table}").scalar()  # noqa: S608
    yield
    index_rows(connection, spec, f"rowid > {int(before or 0)}")


def index_rows(connection: Connection, spec: Indexed, where: str) -> None:
    """Index the rows of a :data:`DEFERRED` table that ``where`` (fixed SQL) selects."""
    columns = ", ".join(spec.columns)
    connection.exec_driver_sql(
        f"INSERT INTO {spec.fts} (rowid, {columns}) "  # noqa: S608 - fixed names
        f"SELECT rowid, {columns} FROM {spec.table} WHERE {where}"
    )


def _install_sqlite(connection: Connection) -> None:
    run = connection.exec_driver_sql
    for spec in INDEXED:
        columns = ", ".join(spec.columns)
        run(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {spec.fts} USING fts5({columns}, "
            f"content = '{spec.table}', content_rowid = 'rowid', {_SQLITE_TOKENIZE}"
            f"{_SQLITE_PREFIX.get(spec.table, '')})"
        )
        run(f"CREATE VIRTUAL TABLE IF NOT EXISTS {spec.fts}_vocab USING fts5vocab({spec.fts}, row)")
    run(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {TRIGRAM} USING fts5(name, content = 'entities', "
        "content_rowid = 'rowid', tokenize = 'trigram')"
    )
    for spec in INDEXED:
        extra = [(TRIGRAM, ("name",))] if spec is ENTITIES else []
        targets = [(spec.fts, spec.columns), *extra]
        inserts = "".join(_sqlite_row(name, cols, "new") for name, cols in targets)
        deletes = "".join(_sqlite_row(name, cols, "old", delete=True) for name, cols in targets)
        changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in spec.columns)
        of = ", ".join(spec.columns)
        if spec not in DEFERRED:
            run(
                f"CREATE TRIGGER IF NOT EXISTS {spec.fts}_insert AFTER INSERT ON {spec.table} "
                f"BEGIN {inserts} END"
            )
        run(
            f"CREATE TRIGGER IF NOT EXISTS {spec.fts}_delete AFTER DELETE ON {spec.table} "
            f"BEGIN {deletes} END"
        )
        # UPDATE OF: ingestion's updates of scores and times never touch the index.
        run(
            f"CREATE TRIGGER IF NOT EXISTS {spec.fts}_update AFTER UPDATE OF {of} "
            f"ON {spec.table} WHEN {changed} BEGIN {deletes}{inserts} END"
        )


def _sqlite_row(name: str, columns: tuple[str, ...], row: str, *, delete: bool = False) -> str:
    values = ", ".join(f"{row}.{column}" for column in columns)
    if delete:
        return (
            f"INSERT INTO {name}({name}, rowid, {', '.join(columns)}) "  # noqa: S608
            f"VALUES ('delete', {row}.rowid, {values});"
        )
    columns_sql = ", ".join(columns)
    return f"INSERT INTO {name}(rowid, {columns_sql}) VALUES ({row}.rowid, {values});"  # noqa: S608


# --- PostgreSQL -----------------------------------------------------------------------------

# ASCII punctuation becomes a space before the default parser runs, so it cuts a host, an
# address or a URL into its labels as FTS5's unicode61 does; the 'simple' configuration
# only lower-cases (no stemming, no stop words: an IOC label is not English).
_PG_VECTOR = """
CREATE OR REPLACE FUNCTION krsn_search_vector(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_tsvector('simple'::regconfig,
                     regexp_replace(coalesce(body, ''), '[[:punct:]]+', ' ', 'g'))
$$
"""


def _pg_fill(spec: Indexed, *, source: str) -> str:
    name = ", name" if spec is ENTITIES else ""
    name_value = ", lower(r.name)" if spec is ENTITIES else ""
    return (
        f"INSERT INTO {spec.fts} (id, vector{name}) "  # noqa: S608 - fixed identifiers
        f"SELECT r.id, krsn_search_vector({spec.pg_text}){name_value} FROM {source} r"
    )


def _install_postgresql(connection: Connection) -> None:
    run = connection.exec_driver_sql
    run("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    run(_PG_VECTOR)
    for spec in INDEXED:
        name_column = ", name text NOT NULL" if spec is ENTITIES else ""
        run(
            f"CREATE TABLE IF NOT EXISTS {spec.fts} (id uuid PRIMARY KEY "
            f"REFERENCES {spec.table} (id) ON DELETE CASCADE, vector tsvector NOT NULL"
            f"{name_column})"
        )
        run(f"CREATE INDEX IF NOT EXISTS {spec.fts}_vector ON {spec.fts} USING gin (vector)")
        if spec is ENTITIES:
            run(
                f"CREATE INDEX IF NOT EXISTS {spec.fts}_name ON {spec.fts} "
                "USING gin (name gin_trgm_ops)"
            )
        run(
            f"CREATE OR REPLACE FUNCTION krsn_{spec.fts}_insert() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_pg_fill(spec, source='krsn_new')}; "
            "RETURN NULL; END $$"
        )
        assignments = "vector = krsn_search_vector(" + spec.pg_text.replace("r.", "NEW.") + ")"
        if spec is ENTITIES:
            assignments += ", name = lower(NEW.name)"
        run(
            f"CREATE OR REPLACE FUNCTION krsn_{spec.fts}_update() RETURNS trigger "  # noqa: S608
            f"LANGUAGE plpgsql AS $$ BEGIN UPDATE {spec.fts} SET {assignments} "
            "WHERE id = NEW.id; RETURN NULL; END $$"
        )
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in spec.columns)
        run(f"DROP TRIGGER IF EXISTS krsn_{spec.fts}_insert ON {spec.table}")
        run(
            f"CREATE TRIGGER krsn_{spec.fts}_insert AFTER INSERT ON {spec.table} "
            "REFERENCING NEW TABLE AS krsn_new FOR EACH STATEMENT "
            f"EXECUTE FUNCTION krsn_{spec.fts}_insert()"
        )
        run(f"DROP TRIGGER IF EXISTS krsn_{spec.fts}_update ON {spec.table}")
        run(
            f"CREATE TRIGGER krsn_{spec.fts}_update AFTER UPDATE OF {', '.join(spec.columns)} "
            f"ON {spec.table} FOR EACH ROW WHEN ({changed}) "
            f"EXECUTE FUNCTION krsn_{spec.fts}_update()"
        )
