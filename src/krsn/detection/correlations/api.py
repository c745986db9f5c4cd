"""REST routes of threat correlations: list, show, verify and annotate."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/correlations", tags=["correlations"], route_class=ApiRoute)
