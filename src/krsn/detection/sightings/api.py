"""REST routes of sightings: observables seen in the customer's environment."""

from __future__ import annotations

from fastapi import APIRouter

from krsn.routing import ApiRoute

router = APIRouter(prefix="/sightings", tags=["sightings"], route_class=ApiRoute)
