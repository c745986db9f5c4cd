"""System configuration: named JSON values that admins set."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.errors import Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import AuditSeverity, ConfigCategory, SystemConfiguration

KEY_PATTERN_HELP = "letters, digits, dots, dashes and underscores, at most 255"


def _check_key(key: str) -> str:
    if not key or len(key) > 255 or not all(c.isalnum() or c in "._-" for c in key):
        raise Invalid("key", f"use {KEY_PATTERN_HELP}")
    return key


def get_config(session: Session, key: str) -> SystemConfiguration:
    entry = session.get(SystemConfiguration, _check_key(key))
    if entry is None:
        raise NotFound(f"No configuration key {key!r}.")
    return entry


def list_config(
    session: Session,
    *,
    category: ConfigCategory | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> PageResult[SystemConfiguration]:
    statement = select(SystemConfiguration)
    if category is not None:
        statement = statement.where(SystemConfiguration.category == category)
    return paginate(
        session,
        statement,
        order_by=[SystemConfiguration.key],
        limit=limit,
        cursor=cursor,
        descending=False,
    )


def set_config(
    session: Session,
    *,
    actor: Actor,
    key: str,
    value: Any,
    description: str | None = None,
    category: ConfigCategory | None = None,
    updated_by: uuid.UUID | None = None,
) -> SystemConfiguration:
    """Create or replace a configuration value."""
    entry = session.get(SystemConfiguration, _check_key(key))
    old = None
    if entry is None:
        entry = SystemConfiguration(
            key=key,
            value=value,
            description=description,
            category=category or ConfigCategory.GENERAL,
            updated_by=updated_by,
        )
        session.add(entry)
    else:
        old = audit.snapshot(entry, ["value", "description", "category"])
        entry.value = value
        if description is not None:
            entry.description = description
        if category is not None:
            entry.category = category
        entry.updated_by = updated_by
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="config.set",
        resource_type="system_configuration",
        resource_id=key,
        old_values=old,
        new_values=audit.snapshot(entry, ["value", "description", "category"]),
        severity=AuditSeverity.WARNING
        if entry.category == ConfigCategory.SECURITY
        else AuditSeverity.INFO,
    )
    return entry


def delete_config(session: Session, *, actor: Actor, key: str) -> None:
    entry = get_config(session, key)
    old = audit.snapshot(entry, ["value", "description", "category"])
    session.delete(entry)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="config.delete",
        resource_type="system_configuration",
        resource_id=key,
        old_values=old,
    )
