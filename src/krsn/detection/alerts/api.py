"""REST routes of alerts: the triage queue."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=ApiRoute)
