"""REST routes of watchlists and their items."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/watchlists", tags=["watchlists"], route_class=ApiRoute)
