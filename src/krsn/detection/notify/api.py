"""REST routes of notification channels and notifications."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/notifications", tags=["notifications"], route_class=ApiRoute)
