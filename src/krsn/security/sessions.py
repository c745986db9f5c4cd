"""Browser sessions: one interface, stored in the database or in Redis.

The cookie carries a random token; the store keys the session by the token's SHA-256, so
a leaked database or Redis dump holds no cookie that would log anyone in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import redis
from sqlalchemy import CursorResult, delete, update
from sqlalchemy.orm import Session

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.identity.models import UserSession
from krsn.security.csrf import new_csrf_token

__all__ = [
    "DatabaseSessionStore",
    "RedisSessionStore",
    "SessionData",
    "SessionStore",
    "hash_session_token",
]

DEFAULT_TTL_SECONDS = 86400

Clock = Callable[[], datetime]


@dataclass
class SessionData:
    """One signed-in browser: who it is, its CSRF token and its lifetime."""

    id: str
    user_id: uuid.UUID
    username: str
    role: str
    csrf_token: str
    created_at: datetime
    last_activity: datetime
    expires_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


class SessionStore(Protocol):
    """Where sessions live; every method takes the cookie token, never the stored id.

    ``session`` is the caller's open transaction: a store in the database joins it, so a
    change and the sessions it ends commit together (and SQLite's single writer is never
    asked for a second write lock by the same request). Other stores ignore it.
    """

    def create(
        self,
        *,
        user_id: uuid.UUID,
        username: str,
        role: str,
        data: dict[str, Any] | None = None,
        session: Session | None = None,
    ) -> tuple[str, SessionData]:
        """Start a session; returns the cookie token (shown once) and the session."""
        ...

    def get(self, token: str) -> SessionData | None:
        """The live session of ``token``, its lifetime extended; None if unknown or expired."""
        ...

    def delete(self, token: str, *, session: Session | None = None) -> None:
        """End the session of ``token`` (log out)."""
        ...

    def delete_for_user(self, user_id: uuid.UUID, *, session: Session | None = None) -> int:
        """End every session of a user; returns how many there were."""
        ...


def hash_session_token(token: str) -> str:
    """The stored session id of a cookie token: its SHA-256 hex digest."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_session(
    *,
    now: datetime,
    ttl: timedelta,
    user_id: uuid.UUID,
    username: str,
    role: str,
    data: dict[str, Any] | None,
) -> tuple[str, SessionData]:
    token = secrets.token_urlsafe(32)
    session = SessionData(
        id=hash_session_token(token),
        user_id=user_id,
        username=username,
        # str() turns a Role member into its value.
        role=str(role),
        csrf_token=new_csrf_token(),
        created_at=now,
        last_activity=now,
        expires_at=now + ttl,
        data=dict(data or {}),
    )
    return token, session


class DatabaseSessionStore:
    """Sessions in the ``user_sessions`` table, for deployments without Redis."""

    def __init__(
        self,
        database: Database,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        *,
        touch_interval_seconds: int = 60,
        clock: Clock = utcnow,
    ) -> None:
        self._database = database
        self._ttl = timedelta(seconds=ttl_seconds)
        # Writing last_activity on every request would make each read a write (and on
        # SQLite take the write lock); a minute's precision is plenty for a day's lifetime.
        self._touch_interval = timedelta(seconds=touch_interval_seconds)
        self._clock = clock

    def create(
        self,
        *,
        user_id: uuid.UUID,
        username: str,
        role: str,
        data: dict[str, Any] | None = None,
        session: Session | None = None,
    ) -> tuple[str, SessionData]:
        """Start a session; expired sessions of anyone are swept out on the way."""
        now = self._clock()
        token, created = _new_session(
            now=now, ttl=self._ttl, user_id=user_id, username=username, role=role, data=data
        )
        with self._joined(session) as db:
            db.execute(delete(UserSession).where(UserSession.expires_at <= now))
            db.add(
                UserSession(
                    id=created.id,
                    user_id=created.user_id,
                    username=created.username,
                    role=created.role,
                    csrf_token=created.csrf_token,
                    data=created.data,
                    created_at=created.created_at,
                    last_activity=created.last_activity,
                    expires_at=created.expires_at,
                )
            )
        return token, created

    def get(self, token: str) -> SessionData | None:
        """The live session of ``token``, its expiry slid forward; None if unknown or expired."""
        if not token:
            return None
        session_id = hash_session_token(token)
        now = self._clock()
        with self._database.transaction(readonly=True) as db:
            row = db.get(UserSession, session_id)
            session = _from_row(row) if row is not None else None
        if session is None:
            return None
        if session.expires_at <= now:
            self._delete_id(session_id)
            return None
        if now - session.last_activity >= self._touch_interval:
            expires_at = now + self._ttl
            with self._database.transaction() as db:
                result = cast(
                    CursorResult[Any],
                    db.execute(
                        update(UserSession)
                        # Not a session that expired or was deleted since it was read.
                        .where(UserSession.id == session_id, UserSession.expires_at > now)
                        .values(last_activity=now, expires_at=expires_at)
                    ),
                )
            if result.rowcount == 0:
                return None
            session.last_activity = now
            session.expires_at = expires_at
        return session

    def delete(self, token: str, *, session: Session | None = None) -> None:
        """End the session of ``token``; an unknown token is not an error."""
        if token:
            self._delete_id(hash_session_token(token), session=session)

    def delete_for_user(self, user_id: uuid.UUID, *, session: Session | None = None) -> int:
        """End every session of ``user_id``; returns how many rows went."""
        with self._joined(session) as db:
            result = cast(
                CursorResult[Any],
                db.execute(delete(UserSession).where(UserSession.user_id == user_id)),
            )
        return int(result.rowcount)

    def _delete_id(self, session_id: str, *, session: Session | None = None) -> None:
        with self._joined(session) as db:
            db.execute(delete(UserSession).where(UserSession.id == session_id))

    @contextmanager
    def _joined(self, session: Session | None) -> Iterator[Session]:
        """The caller's transaction when there is one, else a short one of our own."""
        if session is not None:
            yield session
            return
        with self._database.transaction() as own:
            yield own


def _from_row(row: UserSession) -> SessionData:
    return SessionData(
        id=row.id,
        user_id=row.user_id,
        username=row.username,
        role=row.role,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_activity=row.last_activity or row.created_at,
        expires_at=row.expires_at,
        data=dict(row.data or {}),
    )


# Read the hash and extend its life in one step, so a key expiring between the two
# cannot be recreated as a fragment holding only last_activity.
_TOUCH_SCRIPT = """
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then
  redis.call('HSET', KEYS[1], 'last_activity', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return fields
"""
_REQUIRED_FIELDS = ("user_id", "username", "role", "csrf_token", "created_at", "last_activity")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisSessionStore:
    """Sessions as Redis hashes ``session:{id}`` with a sliding TTL, indexed per user.

    The set ``user_sessions:{user_id}`` lists a user's session ids so that all of them can
    be ended at once (password change, account disabled, "log out everywhere").
    """

    def __init__(
        self,
        client: str | redis.Redis,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._redis = (
            redis.Redis.from_url(client, decode_responses=True)
            if isinstance(client, str)
            else client
        )
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._touch = self._redis.register_script(_TOUCH_SCRIPT)

    @staticmethod
    def session_key(session_id: str) -> str:
        """The Redis key of a session id."""
        return f"session:{session_id}"

    @staticmethod
    def user_key(user_id: uuid.UUID | str) -> str:
        """The Redis key of the set of a user's session ids."""
        return f"user_sessions:{user_id}"

    def create(
        self,
        *,
        user_id: uuid.UUID,
        username: str,
        role: str,
        data: dict[str, Any] | None = None,
        session: Session | None = None,
    ) -> tuple[str, SessionData]:
        """Start a session: one hash with the TTL, its id added to the user's set."""
        now = self._clock()
        token, created = _new_session(
            now=now,
            ttl=timedelta(seconds=self._ttl_seconds),
            user_id=user_id,
            username=username,
            role=role,
            data=data,
        )
        key, user_key = self.session_key(created.id), self.user_key(user_id)
        self._prune(user_key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={
                "user_id": str(created.user_id),
                "username": created.username,
                "role": created.role,
                "csrf_token": created.csrf_token,
                "created_at": created.created_at.isoformat(),
                "last_activity": created.last_activity.isoformat(),
                "data": json.dumps(created.data),
            },
        )
        pipe.expire(key, self._ttl_seconds)
        pipe.sadd(user_key, created.id)
        pipe.expire(user_key, self._ttl_seconds)
        pipe.execute()
        return token, created

    def get(self, token: str) -> SessionData | None:
        """The live session of ``token``, its TTL reset; None if unknown or expired."""
        if not token:
            return None
        session_id = hash_session_token(token)
        key = self.session_key(session_id)
        now = self._clock()
        flat = cast(list[Any], self._touch(keys=[key], args=[now.isoformat(), self._ttl_seconds]))
        fields = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
        if not fields:
            return None
        if any(name not in fields for name in _REQUIRED_FIELDS):
            # A fragment no store of ours writes: refuse it rather than guess.
            self._redis.delete(key)
            return None
        ttl = timedelta(seconds=self._ttl_seconds)
        previous_activity = datetime.fromisoformat(fields["last_activity"])
        # Redis expires the key itself; this guards against a key whose TTL was lost.
        if previous_activity + ttl <= now:
            self._redis.delete(key)
            return None
        user_id = uuid.UUID(fields["user_id"])
        # The user's set must outlive each of its sessions.
        self._redis.expire(self.user_key(user_id), self._ttl_seconds)
        return SessionData(
            id=session_id,
            user_id=user_id,
            username=fields["username"],
            role=fields["role"],
            csrf_token=fields["csrf_token"],
            created_at=datetime.fromisoformat(fields["created_at"]),
            last_activity=now,
            expires_at=now + ttl,
            data=json.loads(fields.get("data") or "{}"),
        )

    def delete(self, token: str, *, session: Session | None = None) -> None:
        """End the session of ``token``; an unknown token is not an error."""
        if not token:
            return
        session_id = hash_session_token(token)
        key = self.session_key(session_id)
        user_id = self._redis.hget(key, "user_id")
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(key)
        if user_id is not None:
            pipe.srem(self.user_key(_text(user_id)), session_id)
        pipe.execute()

    def delete_for_user(self, user_id: uuid.UUID, *, session: Session | None = None) -> int:
        """End every session of ``user_id``; returns how many were live."""
        pipe = self._redis.pipeline(transaction=True)
        # Read and drop the set together: a session created afterwards is a new login
        # and belongs to a new set.
        pipe.smembers(self.user_key(user_id))
        pipe.delete(self.user_key(user_id))
        members, _ = pipe.execute()
        if not members:
            return 0
        return int(cast(int, self._redis.delete(*(self.session_key(_text(m)) for m in members))))

    def _prune(self, user_key: str) -> None:
        # Ids of sessions that expired on their own linger in the set; drop them as the
        # user logs in again, so the set stays as small as the live sessions.
        members = [_text(m) for m in cast(set[Any], self._redis.smembers(user_key))]
        if not members:
            return
        pipe = self._redis.pipeline(transaction=False)
        for member in members:
            pipe.exists(self.session_key(member))
        alive = pipe.execute()
        dead = [m for m, exists in zip(members, alive, strict=True) if not exists]
        if dead:
            self._redis.srem(user_key, *dead)
