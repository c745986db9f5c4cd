"""API keys: random, shown once, stored as a hash, with scopes, expiry and a rate limit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.db.types import utcnow
from krsn.errors import Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import ApiKey, AuditSeverity, Role, User
from krsn.security.apikeys import generate_api_key, hash_api_key
from krsn.security.permissions import ROLE_ACTIONS, SCOPE_ACTIONS, default_scopes


def _check_scopes(scopes: list[str], role: Role) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPE_ACTIONS))
    if unknown:
        raise Invalid(
            "scopes", f"unknown scope(s) {', '.join(unknown)}; use {', '.join(SCOPE_ACTIONS)}"
        )
    beyond = [s for s in scopes if not SCOPE_ACTIONS[s] & ROLE_ACTIONS[role]]
    if beyond:
        raise Invalid("scopes", f"the {role.value} role cannot hold scope(s) {', '.join(beyond)}")
    return sorted(set(scopes))


def create_api_key(
    session: Session,
    *,
    actor: Actor,
    user_id: uuid.UUID,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    expires_in_days: int | None = None,
    rate_limit: int = 100,
    rate_limits: dict[str, int] | None = None,
) -> tuple[ApiKey, str]:
    """A new key for the user; the plaintext is returned here and never again."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    if expires_at is not None and expires_in_days is not None:
        raise Invalid("expires_at", "give expires_at or expires_in_days, not both")
    if expires_in_days is not None:
        expires_at = utcnow() + timedelta(days=expires_in_days)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise Invalid("expires_at", "give a time zone, e.g. 2027-01-01T00:00:00Z")
        if expires_at <= utcnow():
            raise Invalid("expires_at", "must be in the future")
    chosen = _check_scopes(scopes, user.role) if scopes is not None else default_scopes(user.role)
    plaintext, digest, prefix = generate_api_key()
    key = ApiKey(
        user_id=user.id,
        name=name,
        key_hash=digest,
        key_prefix=prefix,
        scopes=chosen,
        expires_at=expires_at,
        rate_limit=rate_limit,
        rate_limits=rate_limits,
    )
    audit.created(session, key, actor=actor, resource_type="api_key")
    return key, plaintext


def get_api_key(session: Session, key_id: uuid.UUID, *, owner_id: uuid.UUID | None) -> ApiKey:
    """The key with this id; when ``owner_id`` is given, only if it belongs to that user."""
    key = session.get(ApiKey, key_id)
    if key is None or (owner_id is not None and key.user_id != owner_id):
        raise NotFound(f"No API key with id {key_id}.")
    return key


def list_api_keys(
    session: Session,
    *,
    owner_id: uuid.UUID | None,
    limit: int = 50,
    cursor: str | None = None,
    include_revoked: bool = True,
) -> PageResult[ApiKey]:
    """A page of keys: the owner's, or everyone's when ``owner_id`` is None."""
    statement = select(ApiKey)
    if owner_id is not None:
        statement = statement.where(ApiKey.user_id == owner_id)
    if not include_revoked:
        statement = statement.where(ApiKey.is_active.is_(True))
    return paginate(
        session, statement, order_by=[ApiKey.created_at, ApiKey.id], limit=limit, cursor=cursor
    )


def revoke_api_key(
    session: Session, *, actor: Actor, key_id: uuid.UUID, owner_id: uuid.UUID | None
) -> ApiKey:
    """Revoke a key at once; it stays listed as revoked."""
    key = get_api_key(session, key_id, owner_id=owner_id)
    if key.is_active:
        key.is_active = False
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="api_key.revoke",
            resource_type="api_key",
            resource_id=key.id,
            old_values={"is_active": True},
            new_values={"is_active": False},
            severity=AuditSeverity.WARNING,
        )
    return key


@dataclass(frozen=True)
class KeyIdentity:
    """What an authenticated key stands for."""

    key_id: uuid.UUID
    user_id: uuid.UUID
    scopes: list[str]
    rate_limit: int
    rate_limits: dict[str, int]


def authenticate_api_key(
    session: Session,
    *,
    plaintext: str,
    ip_address: str | None,
    user_agent: str | None,
    endpoint: str,
) -> KeyIdentity | str:
    """Check a presented key, count its use and audit it; a string is why it was refused.

    Refusals are returned, not raised, so that the caller can commit their audit row.
    """
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(plaintext)))
    now = utcnow()
    reason = None
    if key is None:
        reason = "The API key is not valid."
    elif not key.is_active:
        reason = "The API key has been revoked; create a new one."
    elif key.expires_at is not None and key.expires_at <= now:
        reason = f"The API key expired at {key.expires_at.isoformat()}; create a new one."
    if key is None or reason is not None:
        audit.record(
            session,
            actor=Actor(
                user_id=key.user_id if key else None,
                via="api_key",
                ip_address=ip_address,
                user_agent=user_agent,
                api_key_id=key.id if key else None,
            ),
            action="api_key.rejected",
            resource_type="api_key",
            resource_id=key.id if key else None,
            details={"reason": reason, "endpoint": endpoint},
            severity=AuditSeverity.WARNING,
        )
        return reason or "The API key is not valid."
    user = session.get(User, key.user_id)
    if user is None or not user.is_active:
        return "The account that owns this API key is disabled."
    # One UPDATE, so concurrent requests never lose a count.
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id)
        .values(usage_count=ApiKey.usage_count + 1, last_used=now)
    )
    audit.record(
        session,
        actor=Actor(
            user_id=key.user_id,
            via="api_key",
            ip_address=ip_address,
            user_agent=user_agent,
            api_key_id=key.id,
        ),
        action="api_key.use",
        resource_type="api_key",
        resource_id=key.id,
        details={"endpoint": endpoint},
    )
    return KeyIdentity(
        key_id=key.id,
        user_id=key.user_id,
        scopes=list(key.scopes or []),
        rate_limit=key.rate_limit,
        rate_limits=dict(key.rate_limits or {}),
    )
