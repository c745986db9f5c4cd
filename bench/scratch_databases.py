"""Scratch PostgreSQL databases for the benchmarks: one per run, dropped after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def _plain(url: str) -> str:
    """A SQLAlchemy URL as the driver itself takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def scratch_postgres(server: str) -> Iterator[str]:
    """The URL of a new, empty database on ``server`` (a SQLAlchemy URL), dropped on exit."""
    import psycopg

    name = f"krsn_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_plain(server), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(_plain(server), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
