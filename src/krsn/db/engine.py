"""Engines for SQLite (WAL, foreign keys, busy timeout) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

WAL_CHECKPOINT_PAGES = 16_384


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str, *, busy_timeout_ms: int = 5000, cache_mb: int = 256, echo: bool = False
) -> Engine:
    """An engine configured for the platform's needs on either database."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_ms=busy_timeout_ms, cache_mb=cache_mb, echo=echo)
    return create_engine(url, pool_pre_ping=True, echo=echo, pool_size=10, max_overflow=20)


def _sqlite_engine(url: str, *, busy_timeout_ms: int, cache_mb: int, echo: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Ingestion touches pages all over the unique indexes; with SQLite's 2 MiB default
        # every batch re-reads them from the file. The cache grows only as pages are used.
        cursor.execute(f"PRAGMA cache_size={-1024 * int(cache_mb)}")
        # A checkpoint copies each changed page once however many commits changed it, so
        # checkpointing every ~64 MiB of WAL instead of every 4 MiB writes far less.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the lock up front; a deferred write upgrade can fail with
        # SQLITE_BUSY at once, which no busy timeout cures.
        mode = connection.get_execution_options().get("krsn_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
