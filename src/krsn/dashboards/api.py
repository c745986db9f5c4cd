"""REST route of the dashboard summary: the figures of the UI's home page in one answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from krsn.dashboards import service
from krsn.dashboards.schemas import DashboardSummary
from krsn.dependencies import DbSession, Reader
from krsn.routing import ApiRoute

router = APIRouter(prefix="/dashboard", tags=["dashboard"], route_class=ApiRoute)


@router.get("", response_model=DashboardSummary, summary="Dashboard summary")
def dashboard(
    principal: Reader,
    session: DbSession,
    days: Annotated[
        int, Query(ge=1, le=90, description="Days in the window, today (UTC) included.")
    ] = 14,
) -> DashboardSummary:
    """Indicators per day and type and per day and source over the window; open alerts by
    severity, incidents by status, every feed's health, the most linked threat actors and
    the platform's totals."""
    return DashboardSummary.model_validate(service.summary(session, days=days))


routers = [router]
