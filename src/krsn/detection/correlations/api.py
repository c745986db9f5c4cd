"""REST routes of threat correlations: list, show, verify and annotate, discover."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.detection.correlations import service
from krsn.detection.correlations.schemas import (
    CorrelationRead,
    CorrelationUpdate,
    DiscoverRequest,
    DiscoveryReportRead,
)
from krsn.detection.models import CorrelationType
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page

router = APIRouter(prefix="/correlations", tags=["correlations"], route_class=ApiRoute)


@router.get("", response_model=Page[CorrelationRead], summary="List correlations")
def list_correlations(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    correlation_type: Annotated[
        CorrelationType | None,
        Query(alias="type", description="ip_domain, hash_ip, temporal or behavioral."),
    ] = None,
    indicator: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2048,
            description="An indicator's id or value (defanged or not), on either side of the "
            "pair. An unknown one is an error, not an empty page.",
        ),
    ] = None,
    verified: Annotated[
        bool | None, Query(description="Only those an analyst verified (true) or not (false).")
    ] = None,
    min_score: Annotated[
        float | None, Query(ge=0, le=100, description="Only those scoring at least this.")
    ] = None,
) -> dict[str, Any]:
    """Correlations between indicators, newest first."""
    result = service.list_correlations(
        session,
        correlation_type=correlation_type,
        indicator=indicator,
        verified=verified,
        min_score=min_score,
        limit=limit,
        cursor=cursor,
    )
    return {
        "items": service.read(session, result.items),
        "total": result.total,
        "limit": result.limit,
        "next_cursor": result.next_cursor,
    }


@router.post("/discover", response_model=DiscoveryReportRead, summary="Discover correlations")
def discover(
    body: DiscoverRequest, principal: IntelWriter, session: DbSession
) -> DiscoveryReportRead:
    """Find the correlations of these indicators, of what changed since a time, or (with
    neither) of everything; known pairs get their score and evidence refreshed, never their
    verdict or notes. Audited."""
    report = service.discover(
        session, actor=principal.actor, since=body.since, indicator_ids=body.indicator_ids
    )
    return service.report_read(report)


@router.get("/{correlation_id}", response_model=CorrelationRead, summary="Show a correlation")
def show(correlation_id: uuid.UUID, principal: Reader, session: DbSession) -> CorrelationRead:
    """One correlation with both indicators, its score and its evidence."""
    row = service.get_correlation(session, correlation_id)
    return service.read(session, [row])[0]


@router.patch("/{correlation_id}", response_model=CorrelationRead, summary="Verify or annotate")
def update(
    correlation_id: uuid.UUID,
    body: CorrelationUpdate,
    principal: IntelWriter,
    session: DbSession,
) -> CorrelationRead:
    """An analyst's verdict and notes: only the fields sent change; ``analyst_notes: null``
    clears the notes. Audited with the old and new values."""
    row = service.update_correlation(
        session,
        actor=principal.actor,
        correlation_id=correlation_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return service.read(session, [row])[0]
