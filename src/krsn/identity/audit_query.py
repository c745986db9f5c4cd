"""Reading the audit trail: filters and pages for admins."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.identity.models import AuditLog, AuditSeverity


def audit_page(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    user_id: uuid.UUID | None = None,
    action: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    severity: AuditSeverity | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PageResult[AuditLog]:
    """Audit rows, newest first; ``action`` ending in ``*`` matches a prefix (``auth.*``)."""
    statement = select(AuditLog)
    if user_id is not None:
        statement = statement.where(AuditLog.user_id == user_id)
    if action:
        if action.endswith("*"):
            statement = statement.where(AuditLog.action.startswith(action[:-1], autoescape=True))
        else:
            statement = statement.where(AuditLog.action == action)
    if resource_type:
        statement = statement.where(AuditLog.resource_type == resource_type)
    if resource_id:
        statement = statement.where(AuditLog.resource_id == resource_id)
    if severity is not None:
        statement = statement.where(AuditLog.severity == severity)
    if since is not None:
        statement = statement.where(AuditLog.created_at >= since)
    if until is not None:
        statement = statement.where(AuditLog.created_at < until)
    return paginate(
        session, statement, order_by=[AuditLog.created_at, AuditLog.id], limit=limit, cursor=cursor
    )
