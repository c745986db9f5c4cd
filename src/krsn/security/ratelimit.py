"""Rate limits: a fixed window counter per key, in-process or in Redis."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import redis

__all__ = [
    "MemoryRateLimiter",
    "RateDecision",
    "RateLimiter",
    "RedisRateLimiter",
    "rate_limit_key",
]


@dataclass(frozen=True)
class RateDecision:
    """The verdict on one request, with what the ``RateLimit-*`` headers need."""

    allowed: bool
    limit: int
    remaining: int
    # Seconds until the window resets (the Retry-After of a refused request).
    retry_after: int


class RateLimiter(Protocol):
    """Counts hits per key and decides whether one more is allowed."""

    def hit(self, key: str, *, limit: int, window_seconds: int = 60) -> RateDecision:
        """Count one hit on ``key`` and say whether it is within ``limit`` per window."""
        ...


def rate_limit_key(user_id: uuid.UUID | str, endpoint: str) -> str:
    """The counter key of a user on an endpoint: ``rate_limit:{user_id}:{endpoint}``."""
    return f"rate_limit:{user_id}:{endpoint}"


def _decide(count: int, *, limit: int, retry_after: int) -> RateDecision:
    return RateDecision(
        allowed=count <= limit,
        limit=limit,
        remaining=max(0, limit - count),
        retry_after=retry_after,
    )


class MemoryRateLimiter:
    """Counters in this process, for the single-process embedded mode."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, sweep_interval: float = 60.0
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # key -> [window end, hits in the window]
        self._windows: dict[str, list[float]] = {}
        self._sweep_interval = sweep_interval
        self._next_sweep = clock() + sweep_interval

    def hit(self, key: str, *, limit: int, window_seconds: int = 60) -> RateDecision:
        """Count one hit on ``key`` in its current window."""
        with self._lock:
            now = self._clock()
            if now >= self._next_sweep:
                self._sweep(now)
            window = self._windows.get(key)
            if window is None or now >= window[0]:
                window = self._windows[key] = [now + window_seconds, 0]
            window[1] += 1
            retry_after = min(window_seconds, max(1, math.ceil(window[0] - now)))
            return _decide(int(window[1]), limit=limit, retry_after=retry_after)

    def __len__(self) -> int:
        """How many keys are tracked (stale ones go at the next sweep)."""
        return len(self._windows)

    def _sweep(self, now: float) -> None:
        # Without this every user and endpoint ever seen would stay in memory.
        for key in [k for k, (end, _) in self._windows.items() if now >= end]:
            del self._windows[key]
        self._next_sweep = now + self._sweep_interval


class RedisRateLimiter:
    """Counters shared by every API process: a Redis String per key that expires with its window."""

    def __init__(self, client: str | redis.Redis) -> None:
        self._redis = (
            redis.Redis.from_url(client, decode_responses=True)
            if isinstance(client, str)
            else client
        )

    def hit(self, key: str, *, limit: int, window_seconds: int = 60) -> RateDecision:
        """Count one hit on ``key``; the first hit of a window sets its TTL."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        # NX: later hits must not push the window's end back, or it would never reset.
        pipe.expire(key, window_seconds, nx=True)
        # Milliseconds: TTL rounds, and would report 0 s for a window that has 400 ms left.
        pipe.pttl(key)
        count, _, pttl = cast(list[Any], pipe.execute())
        retry_after = min(window_seconds, max(1, math.ceil(int(pttl) / 1000)))
        return _decide(int(count), limit=limit, retry_after=retry_after)
