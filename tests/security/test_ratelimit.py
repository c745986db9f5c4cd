"""The same behaviour from both limiters, then what each keeps and where."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from krsn.security.ratelimit import (
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    rate_limit_key,
)


def test_rate_limit_key_is_the_documents() -> None:
    user_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert rate_limit_key(user_id, "/api/v1/indicators") == (
        "rate_limit:12345678-1234-5678-1234-567812345678:/api/v1/indicators"
    )


class RateLimiterContract:
    """What every RateLimiter does; subclasses provide the ``limiter`` fixture."""

    def test_allows_the_limit_then_refuses(self, limiter: RateLimiter) -> None:
        key = rate_limit_key(uuid.uuid4(), "/api/v1/search")
        decisions = [limiter.hit(key, limit=5) for _ in range(7)]
        assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
        assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]
        assert all(d.limit == 5 for d in decisions)
        assert all(1 <= d.retry_after <= 60 for d in decisions)

    def test_keys_are_counted_apart(self, limiter: RateLimiter) -> None:
        user_id = uuid.uuid4()
        first, second = rate_limit_key(user_id, "/a"), rate_limit_key(user_id, "/b")
        assert limiter.hit(first, limit=1).allowed
        assert not limiter.hit(first, limit=1).allowed
        assert limiter.hit(second, limit=1).allowed

    def test_a_new_window_starts_afresh(
        self, limiter: RateLimiter, wait: Callable[[float], None]
    ) -> None:
        key = rate_limit_key(uuid.uuid4(), "/a")
        assert limiter.hit(key, limit=1, window_seconds=1).allowed
        refused = limiter.hit(key, limit=1, window_seconds=1)
        assert not refused.allowed
        assert refused.retry_after == 1
        wait(1.1)
        assert limiter.hit(key, limit=1, window_seconds=1).allowed


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TestMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def limiter(self, clock: FakeClock) -> MemoryRateLimiter:
        return MemoryRateLimiter(clock=clock)

    @pytest.fixture
    def wait(self, clock: FakeClock) -> Callable[[float], None]:
        return clock.advance

    def test_retry_after_counts_down_to_the_windows_end(
        self, limiter: MemoryRateLimiter, clock: FakeClock
    ) -> None:
        limiter.hit("k", limit=1)
        clock.advance(45.5)
        assert limiter.hit("k", limit=1).retry_after == 15

    def test_stale_keys_are_evicted(self, limiter: MemoryRateLimiter, clock: FakeClock) -> None:
        for n in range(100):
            limiter.hit(f"k{n}", limit=10)
        assert len(limiter) == 100
        clock.advance(61)
        limiter.hit("fresh", limit=10)
        assert len(limiter) == 1

    def test_concurrent_hits_are_counted_exactly(self) -> None:
        limiter = MemoryRateLimiter()
        allowed: list[bool] = []
        lock = threading.Lock()

        def worker() -> None:
            results = [limiter.hit("shared", limit=500).allowed for _ in range(100)]
            with lock:
                allowed.extend(results)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert allowed.count(True) == 500
        assert allowed.count(False) == 300


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


class TestRedisRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, redis_url: str) -> RedisRateLimiter:
        return RedisRateLimiter(redis_url)

    @pytest.fixture
    def wait(self) -> Callable[[float], None]:
        return time.sleep

    def test_the_counter_is_the_documents_string_key(
        self, limiter: RedisRateLimiter, redis_client: redis.Redis
    ) -> None:
        user_id = uuid.uuid4()
        key = rate_limit_key(user_id, "/api/v1/indicators")
        for _ in range(3):
            limiter.hit(key, limit=10)
        assert redis_client.keys("*") == [f"rate_limit:{user_id}:/api/v1/indicators"]
        assert redis_client.type(key) == "string"
        assert redis_client.get(key) == "3"
        assert 0 < redis_client.ttl(key) <= 60

    def test_later_hits_do_not_extend_the_window(
        self, limiter: RedisRateLimiter, redis_client: redis.Redis
    ) -> None:
        key = rate_limit_key(uuid.uuid4(), "/a")
        limiter.hit(key, limit=10)
        redis_client.expire(key, 20)
        decision = limiter.hit(key, limit=10)
        assert redis_client.ttl(key) <= 20
        assert decision.retry_after <= 20

    def test_a_client_without_decoding_works_too(self, redis_url: str) -> None:
        limiter = RedisRateLimiter(redis.Redis.from_url(redis_url))
        assert limiter.hit("k", limit=1).allowed
        assert not limiter.hit("k", limit=1).allowed
