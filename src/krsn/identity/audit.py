"""The audit trail: who did what to which resource, written in the same transaction."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from krsn.identity.models import AuditLog, AuditSeverity

# Never copied into old_values / new_values.
SECRET_FIELDS = frozenset(
    {
        "password_hash",
        "mfa_secret",
        "mfa_recovery_codes",
        "key_hash",
        "api_key_hash",
        "credentials",
        "authentication_config",
        "mfa_last_used_step",
    }
)

# Change on every write, so they would make every update look like a change.
BOOKKEEPING_FIELDS = frozenset({"updated_at"})


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: a signed-in user, an API key, or the command line."""

    user_id: uuid.UUID | None
    via: str = "cli"
    ip_address: str | None = None
    user_agent: str | None = None
    api_key_id: uuid.UUID | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, via="system")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def snapshot(obj: Any, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-safe copy of a model's column values, secrets left out."""
    columns = [c.key for c in obj.__mapper__.column_attrs]
    wanted = fields or columns
    return {
        name: _plain(getattr(obj, name))
        for name in wanted
        if name in columns and name not in SECRET_FIELDS
    }


def changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, as (old_values, new_values); bookkeeping left out."""
    keys = [k for k in new if old.get(k) != new.get(k) and k not in BOOKKEEPING_FIELDS]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    resource_type: str | None = None,
    resource_id: object = None,
    old_values: dict[str, Any] | None = None,
    new_values: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    severity: AuditSeverity = AuditSeverity.INFO,
) -> AuditLog:
    """Add one audit row to the caller's transaction."""
    entry = AuditLog(
        user_id=actor.user_id,
        action=action,
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        old_values=_plain(old_values) if old_values is not None else None,
        new_values=_plain(new_values) if new_values is not None else None,
        details=_plain(details) if details is not None else None,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
        severity=severity,
        metadata_={
            "via": actor.via,
            **({"api_key_id": str(actor.api_key_id)} if actor.api_key_id else {}),
        },
    )
    session.add(entry)
    return entry


def created(
    session: Session,
    obj: Any,
    *,
    actor: Actor,
    resource_type: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Add a new row and audit its creation (``<resource_type>.create``) in one step."""
    session.add(obj)
    session.flush()
    record(
        session,
        actor=actor,
        action=f"{resource_type}.create",
        resource_type=resource_type,
        resource_id=obj.id,
        new_values=snapshot(obj),
        details=details,
    )
