"""REST routes of alerts: the triage queue."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from krsn.db.pagination import paginate
from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.detection.alerts import service
from krsn.detection.alerts.schemas import (
    AlertRead,
    AlertResolve,
    AlertSort,
    AlertUpdate,
    SuppressionRead,
)
from krsn.detection.models import AlertPriority, AlertSeverity, AlertStatus, AlertSuppression
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, UtcDateTime

router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=ApiRoute)


def _page(session: Any, result: Any) -> dict[str, Any]:
    return {
        "items": service.describe(session, result.items),
        "total": result.total,
        "limit": result.limit,
        "next_cursor": result.next_cursor,
    }


@router.get("", response_model=Page[AlertRead], summary="List alerts")
def list_alerts(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        AlertSort,
        Query(description="A field ascending, or descending with a leading '-'."),
    ] = AlertSort.TRIGGERED_DESC,
    status: Annotated[
        list[AlertStatus] | None,
        Query(max_length=4, description="Repeat for several; default every status."),
    ] = None,
    severity: Annotated[
        list[AlertSeverity] | None, Query(max_length=5, description="Repeat for several.")
    ] = None,
    priority: AlertPriority | None = None,
    assigned_user_id: Annotated[
        uuid.UUID | None, Query(description="Alerts assigned to this user.")
    ] = None,
    unassigned: Annotated[bool, Query(description="Only alerts nobody is assigned.")] = False,
    rule_id: uuid.UUID | None = None,
    indicator_id: uuid.UUID | None = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Part of the title.")
    ] = None,
    triggered_after: UtcDateTime | None = None,
    triggered_before: UtcDateTime | None = None,
) -> dict[str, Any]:
    """The triage queue: alerts filtered by status, severity, priority, assignee, rule,
    indicator, title and time; newest first by default."""
    filters = service.AlertFilters(
        status=status or (),
        severity=severity or (),
        priority=priority,
        assigned_user_id=assigned_user_id,
        unassigned=unassigned,
        rule_id=rule_id,
        indicator_id=indicator_id,
        q=q,
        triggered_after=triggered_after,
        triggered_before=triggered_before,
    )
    result = service.list_alerts(
        session, filters=filters, sort=sort.value, limit=limit, cursor=cursor
    )
    return _page(session, result)


@router.get(
    "/suppressed", response_model=Page[SuppressionRead], summary="Alerts whitelists stopped"
)
def suppressed(
    principal: Reader, session: DbSession, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """What whitelist items suppressed, most recent first: suppression is never silent."""
    result = paginate(
        session,
        select(AlertSuppression),
        order_by=[AlertSuppression.last_seen_at, AlertSuppression.id],
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    return {
        "items": [SuppressionRead.model_validate(row) for row in result.items],
        "total": result.total,
        "limit": result.limit,
        "next_cursor": result.next_cursor,
    }


@router.get("/{alert_id}", response_model=AlertRead, summary="Show an alert")
def show(alert_id: uuid.UUID, principal: Reader, session: DbSession) -> dict[str, Any]:
    return service.describe(session, [service.get_alert(session, alert_id)])[0]


@router.patch("/{alert_id}", response_model=AlertRead, summary="Change an alert")
def update(
    alert_id: uuid.UUID, body: AlertUpdate, principal: IntelWriter, session: DbSession
) -> dict[str, Any]:
    """Change status, priority, severity, assignee or notes; audited."""
    alert = service.update_alert(
        session,
        actor=principal.actor,
        alert_id=alert_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return service.describe(session, [alert])[0]


@router.post("/{alert_id}/acknowledge", response_model=AlertRead, summary="Acknowledge an alert")
def acknowledge(alert_id: uuid.UUID, principal: IntelWriter, session: DbSession) -> dict[str, Any]:
    """Take it on: investigating, acknowledged now, assigned to you unless someone has it."""
    alert = service.acknowledge(session, actor=principal.actor, alert_id=alert_id)
    return service.describe(session, [alert])[0]


@router.post("/{alert_id}/resolve", response_model=AlertRead, summary="Resolve an alert")
def resolve(
    alert_id: uuid.UUID, body: AlertResolve, principal: IntelWriter, session: DbSession
) -> dict[str, Any]:
    """Close it as resolved or as a false positive; a false positive may mark its
    indicator's intelligence false positive in the same action."""
    alert = service.resolve(
        session,
        actor=principal.actor,
        alert_id=alert_id,
        notes=body.notes,
        false_positive=body.false_positive,
        mark_indicator=body.mark_indicator_false_positive,
    )
    return service.describe(session, [alert])[0]
