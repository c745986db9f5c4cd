"""Operations on organizations, which users belong to."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.errors import Conflict, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import Organization


def get_organization(session: Session, organization_id: uuid.UUID) -> Organization:
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"No organization with id {organization_id}.")
    return organization


def _check_name(session: Session, name: str, exclude: uuid.UUID | None = None) -> None:
    # The exact match is what the unique constraint enforces; lower() alone misses it where
    # the engine's lower() and Python's disagree (SQLite folds ASCII only).
    clash = session.scalar(
        select(Organization.id).where(
            or_(Organization.name == name, func.lower(Organization.name) == name.lower()),
            Organization.id != exclude if exclude is not None else true(),
        )
    )
    if clash:
        raise Conflict(f"An organization named {name!r} exists.", field="name")


def create_organization(session: Session, *, actor: Actor, **fields: Any) -> Organization:
    """A new organization."""
    _check_name(session, fields["name"])
    organization = Organization(**fields)
    audit.created(session, organization, actor=actor, resource_type="organization")
    return organization


def list_organizations(
    session: Session, *, limit: int = 50, cursor: str | None = None, q: str | None = None
) -> PageResult[Organization]:
    statement = select(Organization)
    if q:
        statement = statement.where(func.lower(Organization.name).like(f"%{q.lower()}%"))
    return paginate(
        session,
        statement,
        order_by=[Organization.created_at, Organization.id],
        limit=limit,
        cursor=cursor,
    )


def update_organization(
    session: Session, *, actor: Actor, organization_id: uuid.UUID, changes: dict[str, Any]
) -> Organization:
    organization = get_organization(session, organization_id)
    if changes.get("name"):
        _check_name(session, changes["name"], exclude=organization.id)
    before = audit.snapshot(organization)
    for field, value in changes.items():
        if field in {"name", "is_active"} and value is None:
            continue
        setattr(organization, field, value)
    session.flush()
    old, new = audit.changes(before, audit.snapshot(organization))
    if new:
        audit.record(
            session,
            actor=actor,
            action="organization.update",
            resource_type="organization",
            resource_id=organization.id,
            old_values=old,
            new_values=new,
        )
    return organization


def delete_organization(session: Session, *, actor: Actor, organization_id: uuid.UUID) -> None:
    """Delete an organization; its users stay, without an organization."""
    organization = get_organization(session, organization_id)
    before = audit.snapshot(organization)
    session.delete(organization)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organization.delete",
        resource_type="organization",
        resource_id=organization_id,
        old_values=before,
    )
