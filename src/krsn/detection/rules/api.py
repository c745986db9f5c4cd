"""REST routes of correlation rules, with their dry run."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/correlation-rules", tags=["correlation rules"], route_class=ApiRoute)
