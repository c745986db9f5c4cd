"""The one owner of session and transaction lifetime."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from krsn.db.engine import make_engine


class Database:
    """An engine and the transaction scope that API requests, CLI commands and jobs use."""

    def __init__(
        self, url: str, *, busy_timeout_ms: int = 5000, cache_mb: int = 256, echo: bool = False
    ) -> None:
        self.engine: Engine = make_engine(
            url, busy_timeout_ms=busy_timeout_ms, cache_mb=cache_mb, echo=echo
        )
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        self.cache_mb = cache_mb

    @property
    def shareable(self) -> bool:
        """Whether another process can open this database (an in-memory SQLite cannot)."""
        if self.dialect != "sqlite":
            return True
        name = self.engine.url.database
        return bool(name) and name != ":memory:" and "mode=memory" not in self.url

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Services take this session and never commit; ``readonly`` lets SQLite readers
        run beside a writer instead of queueing for the write lock.
        """
        with self.engine.connect() as connection:
            if self.dialect == "sqlite":
                connection.execution_options(krsn_begin="DEFERRED" if readonly else "IMMEDIATE")
            session = Session(bind=connection, expire_on_commit=False, autoflush=True)
            try:
                with connection.begin():
                    try:
                        yield session
                        session.flush()
                    finally:
                        session.close()
            except BaseException:
                session.dispatch.after_rollback(session)
                raise
            # The session never commits itself here (the connection's transaction does), so
            # its commit listeners — change events published after commit — are told now.
            session.dispatch.after_commit(session)

    def dispose(self) -> None:
        self.engine.dispose()


_lock = threading.Lock()
_database: Database | None = None


def get_database() -> Database:
    """The process-wide database, opened from the settings on first use."""
    global _database
    with _lock:
        if _database is None:
            from krsn.config import get_settings

            settings = get_settings()
            _database = Database(
                settings.database_url,
                busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                cache_mb=settings.sqlite_cache_mb,
            )
        return _database


def set_database(database: Database | None) -> None:
    """Replace the process-wide database (tests and the CLI's ``--database`` use this)."""
    global _database
    with _lock:
        _database = database
