"""REST routes of graph (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/graph", tags=["graph"], route_class=ApiRoute)
