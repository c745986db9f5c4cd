"""REST routes of extraction (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/extract", tags=["extraction"], route_class=ApiRoute)
