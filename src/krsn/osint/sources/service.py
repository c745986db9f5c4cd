"""OSINT sources: audited create, update and delete; lists; the decrypted credentials a run
needs.

A source's ``credentials`` column encrypts at rest (``EncryptedJSON``); the audit trail
never copies them (they are a secret field), so a change of credentials is audited as its
own action saying only whether the source now has any. Services never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult
from krsn.errors import Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.osint.models import CollectorType, Source
from krsn.osint.sources.schemas import SourceRead
from krsn.sharing import knowledge

__all__ = [
    "KIND",
    "RunSource",
    "create_source",
    "delete_source",
    "find_source",
    "get_source",
    "page_sources",
    "run_source",
    "source_read",
    "update_source",
]

DEFAULT_RATE_LIMIT = 60
"""Requests per minute of a source created without one, and of a run without a source."""

_TYPES = ", ".join(t.value for t in CollectorType)


def _new(actor: Actor) -> Source:
    return Source(id=uuid.uuid4(), name="", rate_limit=DEFAULT_RATE_LIMIT, is_active=True)


def _source_type(value: Any) -> str:
    try:
        return CollectorType(value).value
    except ValueError:
        raise Invalid("source_type", f"must be one of {_TYPES}") from None


def _apply(session: Session, row: Source, values: Mapping[str, Any]) -> None:
    if "source_type" in values:
        if values["source_type"] is None:
            raise Invalid("source_type", f"must be one of {_TYPES}")
        row.source_type = _source_type(values["source_type"])
    if "base_url" in values:
        row.base_url = values["base_url"] or None
    if "config" in values:
        row.config = dict(values["config"]) if values["config"] else None
    if "credentials" in values:
        # Empty means none: has_credentials must not say yes for {}.
        row.credentials = dict(values["credentials"]) if values["credentials"] else None
    if "rate_limit" in values:
        limit = values["rate_limit"]
        if limit is None or int(limit) < 1:
            raise Invalid("rate_limit", "must be a number of requests per minute, at least 1")
        row.rate_limit = int(limit)
    if "reliability_score" in values:
        score = values["reliability_score"]
        if score is not None and not 0 <= Decimal(str(score)) <= 1:
            raise Invalid("reliability_score", "must be between 0 and 1")
        row.reliability_score = None if score is None else Decimal(str(score))
    if "is_active" in values:
        if values["is_active"] is None:
            raise Invalid("is_active", "must be true or false")
        row.is_active = bool(values["is_active"])


KIND = knowledge.Kind(
    model=Source,
    resource="osint_source",
    noun="source",
    article="a",
    name="name",
    unnamed="a source needs a name",
    fields=frozenset(
        {
            "name",
            "source_type",
            "base_url",
            "credentials",
            "config",
            "rate_limit",
            "reliability_score",
            "is_active",
        }
    ),
    sorts={"name": Source.name, "created": Source.created_at},
    new=_new,
    apply=_apply,
)
"""OSINT sources: names unique in any case; a new one is active at 60 requests a minute."""


def _audit_credentials(session: Session, row: Source, *, actor: Actor) -> None:
    audit.record(
        session,
        actor=actor,
        action="osint_source.credentials",
        resource_type="osint_source",
        resource_id=row.id,
        details={"has_credentials": bool(row.credentials)},
    )


def source_read(row: Source) -> SourceRead:
    """A source as the API shows it: ``has_credentials`` in place of the secrets."""
    return SourceRead(
        id=row.id,
        name=row.name,
        source_type=row.source_type,
        base_url=row.base_url,
        config=row.config,
        rate_limit=row.rate_limit,
        reliability_score=row.reliability_score,
        is_active=row.is_active,
        has_credentials=bool(row.credentials),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_source(session: Session, source_id: uuid.UUID) -> Source:
    """The source with this id; ``NotFound`` when there is none."""
    return knowledge.get(session, KIND, source_id)


def find_source(session: Session, key: str) -> Source:
    """A source by id or by name (any case); ``NotFound`` when there is none."""
    text = key.strip()
    try:
        return get_source(session, uuid.UUID(text))
    except ValueError:
        pass
    row = knowledge.by_name(session, KIND, text)
    if row is None:
        raise NotFound(f"No source named {text!r}; 'krsn collections sources list' shows them.")
    return row


def create_source(session: Session, *, actor: Actor, values: Mapping[str, Any]) -> Source:
    """A new source, audited (its credentials only as 'has some')."""
    row = knowledge.create(session, KIND, actor=actor, values=values)
    if row.credentials:
        _audit_credentials(session, row, actor=actor)
    return row


def update_source(
    session: Session, *, actor: Actor, source_id: uuid.UUID, changes: Mapping[str, Any]
) -> Source:
    """Change the fields given, audited; ``credentials`` replaces the secrets (None: drops)."""
    row = get_source(session, source_id)
    had = row.credentials
    knowledge.update(session, KIND, row, actor=actor, changes=changes)
    if "credentials" in changes and row.credentials != had:
        _audit_credentials(session, row, actor=actor)
    return row


def delete_source(session: Session, *, actor: Actor, source_id: uuid.UUID) -> None:
    """Delete a source, audited; its collections and items keep running without it."""
    knowledge.delete(session, KIND, get_source(session, source_id), actor=actor)


def page_sources(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "name",
    source_type: str | None = None,
    is_active: bool | None = None,
) -> PageResult[Source]:
    """A page of sources, filtered by type and state."""
    statement = select(Source)
    if source_type is not None:
        statement = statement.where(Source.source_type == _source_type(source_type))
    if is_active is not None:
        statement = statement.where(func.coalesce(Source.is_active, True).is_(is_active))
    return knowledge.page(session, KIND, statement, sort=sort, limit=limit, cursor=cursor)


@dataclass(frozen=True, slots=True)
class RunSource:
    """What a collection run takes from its source, read once, secrets decrypted."""

    id: uuid.UUID | None = None
    name: str | None = None
    rate_limit: int = DEFAULT_RATE_LIMIT
    credentials: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    reliability: float | None = None


def run_source(session: Session, source_id: uuid.UUID | None) -> RunSource:
    """The source a run goes through (defaults without one); ``Invalid`` when inactive."""
    if source_id is None:
        return RunSource()
    row = session.get(Source, source_id)
    if row is None:
        return RunSource()
    if row.is_active is False:
        raise Invalid(
            "source",
            f"the source {row.name!r} is inactive; activate it "
            f"('krsn collections sources update {row.name!r} --active') or pick another",
        )
    return RunSource(
        id=row.id,
        name=row.name,
        rate_limit=row.rate_limit or DEFAULT_RATE_LIMIT,
        credentials=dict(row.credentials or {}),
        config=dict(row.config or {}),
        base_url=row.base_url,
        reliability=None if row.reliability_score is None else float(row.reliability_score),
    )
