"""The transaction scope and the engines' settings, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from krsn.db import Database
from krsn.identity.models import Organization


def test_a_block_that_ends_commits(db: Database):
    with db.transaction() as session:
        session.add(Organization(name="Committed"))
    with db.transaction(readonly=True) as session:
        assert session.scalar(select(Organization.name)) == "Committed"


def test_a_block_that_raises_leaves_nothing_behind(db: Database):
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(Organization(name="Doomed"))
        session.flush()
        raise RuntimeError("boom")
    with db.transaction(readonly=True) as session:
        assert session.scalar(select(Organization.name)) is None


def test_timestamps_round_trip_as_aware_utc(db: Database):
    with db.transaction() as session:
        organization = Organization(name="Clock")
        session.add(organization)
    with db.transaction(readonly=True) as session:
        loaded = session.scalar(select(Organization))
        assert loaded is not None and loaded.created_at is not None
        assert loaded.created_at.utcoffset() is not None
        assert loaded.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(sqlite_db: Database):
    with sqlite_db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_sqlite_writers_queue_instead_of_failing(sqlite_db: Database):
    """A second writer waits for the first (busy timeout) rather than erroring at once."""
    holding = threading.Event()
    errors: list[BaseException] = []

    def first_writer() -> None:
        try:
            with sqlite_db.transaction() as session:
                session.add(Organization(name="first"))
                session.flush()
                holding.set()
                time.sleep(0.3)
        except BaseException as exc:  # surfaced through the list below
            errors.append(exc)

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert holding.wait(5)
    with sqlite_db.transaction() as session:
        session.add(Organization(name="second"))
    thread.join()
    assert errors == []
    with sqlite_db.transaction(readonly=True) as session:
        assert sorted(session.scalars(select(Organization.name))) == ["first", "second"]


def test_readers_are_not_blocked_by_a_writer_on_sqlite(sqlite_db: Database):
    with sqlite_db.transaction() as session:
        session.add(Organization(name="seen"))
    with sqlite_db.transaction() as writer:
        writer.add(Organization(name="pending"))
        writer.flush()
        started = time.monotonic()
        with sqlite_db.transaction(readonly=True) as reader:
            names = list(reader.scalars(select(Organization.name)))
        assert time.monotonic() - started < 1
        assert names == ["seen"]


def test_plain_postgresql_urls_use_psycopg_3():
    from krsn.db.engine import normalise_url

    assert normalise_url("postgresql://u:p@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("postgres://h/db").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
