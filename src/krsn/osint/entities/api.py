"""REST routes of entities (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/entities", tags=["entities"], route_class=ApiRoute)
