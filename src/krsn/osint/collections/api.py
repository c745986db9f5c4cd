"""REST routes of collections (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/collections", tags=["collections"], route_class=ApiRoute)
