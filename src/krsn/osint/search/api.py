"""REST routes of search (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/search", tags=["search"], route_class=ApiRoute)
