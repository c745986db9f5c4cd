from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from krsn.config import Settings
from krsn.db import Database
from krsn.security.ratelimit import MemoryRateLimiter, RedisRateLimiter
from krsn.security.sessions import DatabaseSessionStore, RedisSessionStore
from krsn.security.stores import build_rate_limiter, build_session_store


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    # Choosing a store touches no table, so an empty database will do.
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    yield database
    database.dispose()


def test_without_redis_sessions_live_in_the_database_and_limits_in_memory(
    database: Database,
) -> None:
    settings = Settings(redis_url=None)
    assert isinstance(build_session_store(settings, database), DatabaseSessionStore)
    assert isinstance(build_rate_limiter(settings), MemoryRateLimiter)


def test_with_redis_both_live_in_redis(database: Database, redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, session_ttl_seconds=3600)
    store = build_session_store(settings, database)
    assert isinstance(store, RedisSessionStore)
    assert isinstance(build_rate_limiter(settings), RedisRateLimiter)
    token, session = store.create(user_id=uuid.uuid4(), username="a", role="user")
    assert (session.expires_at - session.created_at).total_seconds() == 3600
    assert store.get(token) is not None
