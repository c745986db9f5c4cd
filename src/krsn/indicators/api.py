"""REST routes of indicators: search, one indicator with its intelligence, lookup, edits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.indicators import service
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator
from krsn.indicators.schemas import (
    IndicatorDetail,
    IndicatorRead,
    IndicatorUpdate,
    IntelligenceRead,
    LookupMatch,
    LookupRequest,
    LookupResponse,
)
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of

router = APIRouter(prefix="/indicators", tags=["indicators"], route_class=ApiRoute)


@router.get("", response_model=Page[IndicatorRead], summary="Search indicators")
def search(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    indicator_type: Annotated[IndicatorType | None, Query(alias="type")] = None,
    severity: Severity | None = None,
    is_active: bool | None = None,
    q: Annotated[str | None, Query(max_length=2048, description="Value prefix.")] = None,
    seen_after: datetime | None = None,
    seen_before: datetime | None = None,
) -> dict[str, Any]:
    """Indicators, most recently changed first, filtered by type, severity, state and value."""
    result = service.search_indicators(
        session,
        limit=limit,
        cursor=cursor,
        indicator_type=indicator_type,
        severity=severity,
        is_active=is_active,
        q=q,
        seen_after=seen_after,
        seen_before=seen_before,
    )
    return page_of(result, IndicatorRead.model_validate)


@router.post("/lookup", response_model=LookupResponse, summary="Look up observables")
def lookup(body: LookupRequest, principal: Reader, session: DbSession) -> LookupResponse:
    """Which of these observables are known active indicators (exact, or IP inside a range)."""
    hits, unreadable = service.lookup(session, values=body.values)
    return LookupResponse(
        matches=[
            LookupMatch(
                value=h.value,
                matched=h.matched,
                indicator=IndicatorRead.model_validate(h.indicator),
            )
            for h in hits
        ],
        unreadable=unreadable,
    )


@router.get("/{key:path}", response_model=IndicatorDetail, summary="Show an indicator")
def show(key: str, principal: Reader, session: DbSession) -> IndicatorDetail:
    """One indicator (by id or value, defanged or not), with what each source said and why
    it scores what it does (``metadata.score``)."""
    return _detail(session, service.get_indicator(session, key))


@router.patch("/{key:path}", response_model=IndicatorDetail, summary="Edit an indicator")
def edit(
    key: str, body: IndicatorUpdate, principal: IntelWriter, session: DbSession
) -> IndicatorDetail:
    """An analyst's edits: false positive, tags, confidence override, the records' status.

    Only the fields sent change; ``confidence_override: null`` clears the override. Every
    change is audited with its old and new values.
    """
    indicator = service.update_indicator(
        session, actor=principal.actor, key=key, changes=body.model_dump(exclude_unset=True)
    )
    return _detail(session, indicator)


def _detail(session: Session, indicator: ThreatIndicator) -> IndicatorDetail:
    return IndicatorDetail(
        indicator=IndicatorRead.model_validate(indicator),
        intelligence=[
            IntelligenceRead(**r) for r in service.intelligence_of(session, indicator.id)
        ],
    )


routers = [router]
