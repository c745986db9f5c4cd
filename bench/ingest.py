"""Ingestion end to end, on SQLite and PostgreSQL, against the raw floor of this machine.

Generates a CSV feed (mixed types, 10 % defanged, 2 % invalid), then ingests it with the
real parser, normaliser, warninglists, intelligence records and indicator upserts,
committing as the platform does; then ingests it again (everything known). Prints a table
and, last, one JSON line with the figures and the floors measured in the same run:

- plain ``csv.reader`` parsing;
- a bare SQLite ``executemany`` into a table with a unique index, and PostgreSQL ``COPY``
  into an indexed table (the machine's raw write speed);
- the schema floor: the same number of new values stored the way the platform stores them
  (an indicator row and an intelligence record each, with every index the data model
  asks for, committed in the same batches), generated inside the database by one
  ``INSERT … SELECT`` per table and batch, with no Python per row. No ingestion into this
  schema can beat it on this machine.

    python bench/ingest.py [--rows 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from scratch_databases import scratch_postgres

from krsn.config import Settings
from krsn.db import Database
from krsn.db.migrate import upgrade
from krsn.feeds.formats.registry import get_format
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.heap import tune_for_batches
from krsn.identity.audit import Actor
from krsn.indicators.store import INSERT_COLUMNS
from krsn.indicators.warninglists import default_index

RULES = {
    "header": True,
    "columns": {
        "value": "value",
        "first_seen": "first_seen",
        "tags": "tags",
        "malware_family": "family",
    },
}
FAMILIES = ["Emotet", "Qakbot", "Pikabot", "AgentTesla", "", ""]


def defang(value: str) -> str:
    return value.replace("http", "hxxp", 1).replace(".", "[.]", 1)


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["value", "first_seen", "tags", "family"])
        for i in range(rows):
            r = rnd.random()
            if r < 0.35:
                value = (
                    f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}."
                    f"{rnd.randint(1, 254)}"
                )
            elif r < 0.6:
                value = f"host{i}.{rnd.choice(['evil', 'bad', 'c2'])}{rnd.randint(0, 9999)}.com"
            elif r < 0.85:
                value = f"http://site{i}.example{rnd.randint(0, 999)}.net/p/{rnd.getrandbits(32):x}"
            else:
                value = f"{rnd.getrandbits(256):064x}"
            roll = rnd.random()
            if roll < 0.02:
                value = f"not a value {i}"
            elif roll < 0.12:
                value = defang(value)
            writer.writerow([value, "2026-11-01 10:00:00", "botnet|c2", rnd.choice(FAMILIES)])


def floor_csv(path: Path) -> float:
    started = time.perf_counter()
    with path.open(newline="") as handle:
        count = sum(1 for _ in csv.reader(handle))
    return count / (time.perf_counter() - started)


def floor_sqlite(rows: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(Path(folder) / "floor.db")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE t (id TEXT PRIMARY KEY, value TEXT, signature TEXT)")
        connection.execute("CREATE UNIQUE INDEX t_sig ON t(signature)")
        data = [(uuid.uuid4().hex, f"v{i}", f"{i:064x}") for i in range(rows)]
        started = time.perf_counter()
        connection.executemany("INSERT INTO t VALUES (?, ?, ?)", data)
        connection.commit()
        elapsed = time.perf_counter() - started
        connection.close()
    return rows / elapsed


def floor_postgres(url: str, rows: int) -> float:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS krsn_floor")
        connection.execute(
            "CREATE TABLE krsn_floor (id uuid PRIMARY KEY, value text, signature text UNIQUE)"
        )
        buffer = io.StringIO()
        for i in range(rows):
            buffer.write(f"{uuid.uuid4()}\tv{i}\t{i:064x}\n")
        started = time.perf_counter()
        with connection.cursor().copy("COPY krsn_floor FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        elapsed = time.perf_counter() - started
        connection.execute("DROP TABLE krsn_floor")
    return rows / elapsed


# Stored documents of the sizes the pipeline writes, so the floor moves the same bytes.
_META = (
    '{"kind":"domain","sources":{"bench":56.0},"tags":["botnet|c2"],"malware_families":'
    '["Emotet"],"score":{"model":"krsn-1","confidence":56.0,"threat_score":60.0,'
    '"severity":"medium","factors":{"source_confidences":{"bench":56.0},"type_weight":0.75,'
    '"malware_family_bonus":5.0}}}'
)
_RAW = '{"value":"%s","first_seen":"2026-11-01 10:00:00","tags":"botnet|c2","family":"Emotet"}'
_PROCESSED = (
    '{"kind":"domain","value":"%s","line":%d,"first_seen":"2026-11-01T10:00:00+00:00",'
    '"tags":["botnet|c2"],"malware_family":"Emotet","last_seen":"2026-11-25T10:00:00+00:00"}'
)
_INDICATOR_COLUMNS = ", ".join(INSERT_COLUMNS)
_RECORD_COLUMNS = (
    "id, indicator_id, source_id, raw_data, processed_data, status, source_confidence, "
    "ingested_at, processed_at, correlation_id"
)


def _generate_in_batches(
    database: Database, statements: tuple[str, ...], rows: int, batch: int
) -> float:
    """Rows/s of statements that each generate rows ``first..last``, one commit a batch."""
    started = time.perf_counter()
    for first in range(1, rows + 1, batch):
        last = min(rows, first + batch - 1)
        with database.engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement, (first, last))
    return rows / (time.perf_counter() - started)


def floor_sqlite_schema(root: Path, rows: int, batch: int, settings: Settings) -> float:
    """New values into the real schema, generated by SQL in the platform's batches."""
    url = f"sqlite:///{root / 'floor-schema.db'}"
    upgrade(url)
    database = Database(url, cache_mb=settings.sqlite_cache_mb)
    with database.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="floor", reliability=80)
    stamp = "'2026-11-25 10:00:00.000000'"
    raw = _RAW.replace("%s", "' || v || '").replace('"', '"')
    processed = _PROCESSED.replace("%s", "' || v || '").replace("%d", "' || i || '")
    indicators = (
        f"INSERT INTO threat_indicators ({_INDICATOR_COLUMNS}) "
        "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "SELECT printf('0190%028x', i), 'host' || i || '.evil' || (i % 9973) || '.com', "
        f"'domain', 'medium', 56.0, 60.0, '{_META}', {stamp}, {stamp}, {stamp}, {stamp}, 1, "
        "lower(hex(randomblob(32))) FROM n WHERE true ON CONFLICT DO NOTHING"
    )
    records = (
        f"INSERT INTO threat_intelligence ({_RECORD_COLUMNS}) "
        "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?), "
        "m(i, v) AS (SELECT i, 'host' || i || '.evil' || (i % 9973) || '.com' FROM n) "
        f"SELECT printf('0191%028x', i), printf('0190%028x', i), '{source.id.hex}', "
        f"'{raw}', '{processed}', 'processed', 56.0, {stamp}, {stamp}, 'run-floor' FROM m"
    )
    rate = _generate_in_batches(database, (indicators, records), rows, batch)
    database.dispose()
    return rate


def floor_postgres_schema(base: str, rows: int, batch: int) -> float:
    """New values into the real schema, generated by SQL in the platform's batches."""
    with scratch_postgres(base) as url:
        upgrade(url)
        database = Database(url)
        with database.transaction() as session:
            source = ensure_source(session, actor=Actor.system(), name="floor", reliability=80)
        stamp = "now()"
        value = "'host' || i || '.evil' || mod(i, 9973) || '.com'"
        raw = _RAW.replace("%s", f"' || {value} || '")
        processed = _PROCESSED.replace("%s", f"' || {value} || '").replace("%d", "' || i || '")
        indicators = (
            f"INSERT INTO threat_indicators ({_INDICATOR_COLUMNS}) "
            f"SELECT ('01900000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, {value}, "
            f"'domain', 'medium', 56.0, 60.0, '{_META}'::jsonb, {stamp}, {stamp}, {stamp}, "
            f"{stamp}, true, md5(i::text) || md5(random()::text) "
            "FROM generate_series(%s::int, %s::int) AS i ON CONFLICT DO NOTHING"
        )
        records = (
            f"INSERT INTO threat_intelligence ({_RECORD_COLUMNS}) "
            "SELECT ('01910000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, "
            "('01900000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, "
            f"'{source.id}'::uuid, ('{raw}')::jsonb, ('{processed}')::jsonb, 'processed', "
            f"56.0, {stamp}, {stamp}, 'run-floor' FROM generate_series(%s::int, %s::int) AS i"
        )
        rate = _generate_in_batches(database, (indicators, records), rows, batch)
        database.dispose()
    return rate


def run_engine(url: str, feed: Path, rows: int, settings: Settings) -> tuple[float, float]:
    upgrade(url)
    database = Database(url, cache_mb=settings.sqlite_cache_mb)
    with database.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="bench", reliability=80)
    parser = get_format("csv")
    rules = parser.validate_rules(RULES)
    suppressor = default_index(settings)
    rates = []
    for _ in range(2):
        started = time.perf_counter()
        with feed.open("rb") as stream:
            summary = ingest(
                database,
                rows=parser.parse(stream, rules),
                source=source,
                suppressor=suppressor,
                default_confidence=70,
                batch_size=settings.ingest_batch_rows,
            )
        rates.append(rows / (time.perf_counter() - started))
        print(
            f"  {url.split(':')[0]:<10} new {summary.new:>9,} updated "
            f"{summary.updated:>9,} rejected {summary.rejected:>7,}  "
            f"{rates[-1]:>10,.0f} rows/s"
        )
    database.dispose()
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("KRSN_TEST_DATABASE_URL"))
    args = parser.parse_args()
    tune_for_batches()  # as the krsn command does
    figures: dict[str, object] = {"bench": "ingest", "rows": args.rows}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        feed = root / "feed.csv"
        generate(feed, args.rows)
        settings = Settings(data_dir=root / "var")
        print(f"Ingesting {args.rows:,} rows ({feed.stat().st_size / 1e6:.0f} MB)")
        first, second = run_engine(f"sqlite:///{root / 'bench.db'}", feed, args.rows, settings)
        figures.update(sqlite_rows_per_s=round(first), sqlite_rerun_rows_per_s=round(second))
        if args.postgres:
            with scratch_postgres(args.postgres) as url:
                first, second = run_engine(url, feed, args.rows, settings)
            figures.update(
                postgres_rows_per_s=round(first), postgres_rerun_rows_per_s=round(second)
            )
        figures["floor_csv_rows_per_s"] = round(floor_csv(feed))
        batch = settings.ingest_batch_rows
        figures["floor_sqlite_schema_rows_per_s"] = round(
            floor_sqlite_schema(root, args.rows, batch, settings)
        )
        if args.postgres:
            figures["floor_postgres_schema_rows_per_s"] = round(
                floor_postgres_schema(args.postgres, args.rows, batch)
            )
    figures["floor_sqlite_executemany_rows_per_s"] = round(floor_sqlite(args.rows))
    if args.postgres:
        figures["floor_postgres_copy_rows_per_s"] = round(floor_postgres(args.postgres, args.rows))
    print()
    print(f"{'figure':<40}{'rows/s':>14}")
    for key, value in figures.items():
        if key.endswith("per_s"):
            print(f"{key:<40}{value:>14,}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
