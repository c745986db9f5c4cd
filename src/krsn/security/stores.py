"""Pick the session store and rate limiter that fit the deployment: Redis when configured."""

from __future__ import annotations

from krsn.config import Settings
from krsn.db import Database
from krsn.security.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from krsn.security.sessions import DatabaseSessionStore, RedisSessionStore, SessionStore

__all__ = ["build_rate_limiter", "build_session_store"]


def build_session_store(settings: Settings, database: Database) -> SessionStore:
    """Redis sessions when ``redis_url`` is set, otherwise sessions in the database."""
    if settings.redis_url:
        return RedisSessionStore(settings.redis_url, ttl_seconds=settings.session_ttl_seconds)
    return DatabaseSessionStore(database, ttl_seconds=settings.session_ttl_seconds)


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """A Redis limiter shared by all processes when ``redis_url`` is set, else in-process."""
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    return MemoryRateLimiter()
