"""REST routes of incidents, and the promotion of an alert to one."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/incidents", tags=["incidents"], route_class=ApiRoute)
alert_router = APIRouter(prefix="/alerts", tags=["incidents"], route_class=ApiRoute)
