"""The same behaviour from both session stores, then what each store's storage looks like."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import select

from krsn.db import Database
from krsn.identity.models import User, UserSession
from krsn.security.sessions import (
    DatabaseSessionStore,
    RedisSessionStore,
    SessionStore,
    hash_session_token,
)

MakeStore = Callable[..., SessionStore]
NewUser = Callable[[], uuid.UUID]


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SessionStoreContract:
    """What every SessionStore does; subclasses provide make_store, new_user and wait."""

    def test_a_session_is_found_by_its_cookie_token(
        self, make_store: MakeStore, new_user: NewUser
    ) -> None:
        store = make_store()
        user_id = new_user()
        token, created = store.create(
            user_id=user_id, username="alice", role="analyst", data={"theme": "dark"}
        )
        found = store.get(token)
        assert found is not None
        assert found.id == created.id == hashlib.sha256(token.encode()).hexdigest()
        assert (found.user_id, found.username, found.role) == (user_id, "alice", "analyst")
        assert found.csrf_token == created.csrf_token
        assert found.data == {"theme": "dark"}
        assert found.created_at == created.created_at
        assert found.expires_at > found.last_activity >= found.created_at

    def test_the_token_is_not_the_stored_id(self, make_store: MakeStore, new_user: NewUser) -> None:
        store = make_store()
        token, session = store.create(user_id=new_user(), username="alice", role="user")
        assert token != session.id
        assert len(token) >= 43
        # Knowing the stored id (from a dump) does not open the session.
        assert store.get(session.id) is None

    def test_unknown_and_empty_tokens_find_nothing(self, make_store: MakeStore) -> None:
        store = make_store()
        assert store.get("") is None
        assert store.get("no-such-token") is None
        store.delete("no-such-token")
        store.delete("")

    def test_sessions_are_independent(self, make_store: MakeStore, new_user: NewUser) -> None:
        store = make_store()
        user_id = new_user()
        first, a = store.create(user_id=user_id, username="alice", role="user")
        second, b = store.create(user_id=user_id, username="alice", role="user")
        assert first != second
        assert a.id != b.id
        assert a.csrf_token != b.csrf_token

    def test_delete_ends_one_session(self, make_store: MakeStore, new_user: NewUser) -> None:
        store = make_store()
        user_id = new_user()
        gone, _ = store.create(user_id=user_id, username="alice", role="user")
        kept, _ = store.create(user_id=user_id, username="alice", role="user")
        store.delete(gone)
        assert store.get(gone) is None
        assert store.get(kept) is not None

    def test_delete_for_user_ends_that_users_sessions_only(
        self, make_store: MakeStore, new_user: NewUser
    ) -> None:
        store = make_store()
        alice, bob = new_user(), new_user()
        alice_tokens = [
            store.create(user_id=alice, username="alice", role="user")[0] for _ in range(3)
        ]
        bob_token, _ = store.create(user_id=bob, username="bob", role="admin")
        assert store.delete_for_user(alice) == 3
        assert all(store.get(token) is None for token in alice_tokens)
        assert store.get(bob_token) is not None
        assert store.delete_for_user(alice) == 0
        # Signing in again afterwards works as usual.
        again, _ = store.create(user_id=alice, username="alice", role="user")
        assert store.get(again) is not None

    def test_an_expired_session_is_rejected(
        self, make_store: MakeStore, new_user: NewUser, wait: Callable[[float], None]
    ) -> None:
        store = make_store(ttl_seconds=1)
        token, _ = store.create(user_id=new_user(), username="alice", role="user")
        assert store.get(token) is not None
        wait(1.1)
        assert store.get(token) is None
        assert store.get(token) is None


# --- the database store ---------------------------------------------------------------------


def add_user(db: Database, name: str | None = None) -> uuid.UUID:
    name = name or f"user{uuid.uuid4().hex[:8]}"
    with db.transaction() as session:
        user = User(email=f"{name}@example.org", username=name, password_hash="x")
        session.add(user)
        session.flush()
        return user.id


def stored_rows(db: Database) -> list[UserSession]:
    with db.transaction(readonly=True) as session:
        return list(session.scalars(select(UserSession)))


class TestDatabaseSessionStore(SessionStoreContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def make_store(self, db: Database, clock: FakeClock) -> MakeStore:
        def make(ttl_seconds: int = 86400, **options: Any) -> DatabaseSessionStore:
            return DatabaseSessionStore(db, ttl_seconds, clock=clock, **options)

        return make

    @pytest.fixture
    def new_user(self, db: Database) -> NewUser:
        return lambda: add_user(db)

    @pytest.fixture
    def wait(self, clock: FakeClock) -> Callable[[float], None]:
        return clock.advance

    def test_the_row_holds_the_tokens_hash_not_the_token(
        self, db: Database, make_store: MakeStore
    ) -> None:
        token, session = make_store().create(user_id=add_user(db), username="a", role="user")
        (row,) = stored_rows(db)
        assert row.id == hash_session_token(token) == session.id
        assert token not in {row.id, row.csrf_token, str(row.data)}

    def test_activity_slides_the_expiry(
        self, db: Database, make_store: MakeStore, clock: FakeClock
    ) -> None:
        store = make_store(ttl_seconds=100)
        token, created = store.create(user_id=add_user(db), username="a", role="user")
        clock.advance(60)
        touched = store.get(token)
        assert touched is not None
        assert touched.last_activity == clock.now
        assert touched.expires_at == clock.now + timedelta(seconds=100)
        clock.advance(60)  # 120 s after creation: alive only because of the touch
        assert store.get(token) is not None
        (row,) = stored_rows(db)
        assert row.last_activity == clock.now
        assert row.created_at == created.created_at

    def test_reads_within_a_minute_do_not_write(
        self, db: Database, make_store: MakeStore, clock: FakeClock
    ) -> None:
        store = make_store()
        token, created = store.create(user_id=add_user(db), username="a", role="user")
        clock.advance(30)
        assert store.get(token) is not None
        (row,) = stored_rows(db)
        assert row.last_activity == created.last_activity

    def test_expired_rows_are_swept_when_a_session_is_created(
        self, db: Database, make_store: MakeStore, clock: FakeClock
    ) -> None:
        store = make_store(ttl_seconds=10)
        user_id = add_user(db)
        store.create(user_id=user_id, username="a", role="user")
        clock.advance(11)
        token, _ = store.create(user_id=user_id, username="a", role="user")
        assert [row.id for row in stored_rows(db)] == [hash_session_token(token)]

    def test_sessions_of_a_deleted_user_go_with_it(
        self, db: Database, make_store: MakeStore
    ) -> None:
        store = make_store()
        user_id = add_user(db)
        token, _ = store.create(user_id=user_id, username="a", role="user")
        with db.transaction() as session:
            session.delete(session.get(User, user_id))
        assert store.get(token) is None


# --- the Redis store ------------------------------------------------------------------------


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


class TestRedisSessionStore(SessionStoreContract):
    @pytest.fixture
    def make_store(self, redis_url: str) -> MakeStore:
        def make(ttl_seconds: int = 86400) -> RedisSessionStore:
            return RedisSessionStore(redis_url, ttl_seconds)

        return make

    @pytest.fixture
    def new_user(self) -> NewUser:
        return uuid.uuid4

    @pytest.fixture
    def wait(self) -> Callable[[float], None]:
        # Expiry is Redis's own TTL, so only real time will do.
        return time.sleep

    def test_key_layout_is_the_documents(
        self, make_store: MakeStore, redis_client: redis.Redis
    ) -> None:
        user_id = uuid.uuid4()
        token, session = make_store().create(
            user_id=user_id, username="alice", role="analyst", data={"k": 1}
        )
        key = f"session:{hashlib.sha256(token.encode()).hexdigest()}"
        assert set(redis_client.keys("*")) == {key, f"user_sessions:{user_id}"}
        assert redis_client.type(key) == "hash"
        assert 86390 <= redis_client.ttl(key) <= 86400
        fields = redis_client.hgetall(key)
        assert set(fields) == {
            "user_id",
            "username",
            "role",
            "created_at",
            "last_activity",
            "csrf_token",
            "data",
        }
        assert fields["user_id"] == str(user_id)
        assert fields["username"] == "alice"
        assert fields["role"] == "analyst"
        assert fields["csrf_token"] == session.csrf_token
        assert datetime.fromisoformat(str(fields["created_at"])) == session.created_at
        assert token not in redis_client.keys("*") and token not in fields.values()
        assert redis_client.smembers(f"user_sessions:{user_id}") == {session.id}

    def test_get_resets_the_ttl_and_last_activity(
        self, make_store: MakeStore, redis_client: redis.Redis
    ) -> None:
        token, session = make_store().create(user_id=uuid.uuid4(), username="a", role="user")
        key = f"session:{session.id}"
        redis_client.expire(key, 100)
        before = datetime.now(UTC)
        found = make_store().get(token)
        assert found is not None
        assert 86390 <= redis_client.ttl(key) <= 86400
        assert datetime.fromisoformat(str(redis_client.hget(key, "last_activity"))) >= before

    def test_a_session_without_its_ttl_still_expires_by_its_timestamps(
        self, make_store: MakeStore, redis_client: redis.Redis
    ) -> None:
        token, session = make_store(ttl_seconds=60).create(
            user_id=uuid.uuid4(), username="a", role="user"
        )
        key = f"session:{session.id}"
        redis_client.persist(key)
        stale = (datetime.now(UTC) - timedelta(seconds=61)).isoformat()
        redis_client.hset(key, "last_activity", stale)
        assert make_store(ttl_seconds=60).get(token) is None
        assert not redis_client.exists(key)

    def test_delete_for_user_drops_the_index_set(
        self, make_store: MakeStore, redis_client: redis.Redis
    ) -> None:
        store, user_id = make_store(), uuid.uuid4()
        store.create(user_id=user_id, username="a", role="user")
        store.create(user_id=user_id, username="a", role="user")
        assert store.delete_for_user(user_id) == 2
        assert redis_client.keys("*") == []

    def test_delete_removes_the_id_from_the_users_set(
        self, make_store: MakeStore, redis_client: redis.Redis
    ) -> None:
        store, user_id = make_store(), uuid.uuid4()
        token, _ = store.create(user_id=user_id, username="a", role="user")
        _, kept = store.create(user_id=user_id, username="a", role="user")
        store.delete(token)
        assert redis_client.smembers(f"user_sessions:{user_id}") == {kept.id}

    def test_ids_of_expired_sessions_are_pruned_on_the_next_login(
        self, make_store: MakeStore, redis_client: redis.Redis
    ) -> None:
        store, user_id = make_store(), uuid.uuid4()
        _, old = store.create(user_id=user_id, username="a", role="user")
        redis_client.delete(f"session:{old.id}")  # as if its TTL ran out
        _, new = store.create(user_id=user_id, username="a", role="user")
        assert redis_client.smembers(f"user_sessions:{user_id}") == {new.id}

    def test_a_client_without_decoding_works_too(self, redis_url: str) -> None:
        store = RedisSessionStore(redis.Redis.from_url(redis_url))
        user_id = uuid.uuid4()
        token, _ = store.create(user_id=user_id, username="ünï", role="user", data={"a": [1]})
        found = store.get(token)
        assert found is not None
        assert (found.user_id, found.username, found.data) == (user_id, "ünï", {"a": [1]})
        assert store.delete_for_user(user_id) == 1
