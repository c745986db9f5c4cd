"""Every REST route of detection and response, for the app to mount under ``/api/v1``."""

from __future__ import annotations

from krsn.detection.alerts.api import router as alerts_router
from krsn.detection.correlations.api import router as correlations_router
from krsn.detection.incidents.api import alert_router as promotion_router
from krsn.detection.incidents.api import router as incidents_router
from krsn.detection.notify.api import router as notifications_router
from krsn.detection.rules.api import router as rules_router
from krsn.detection.sightings.api import router as sightings_router
from krsn.detection.stream.api import router as stream_router
from krsn.detection.watchlists.api import router as watchlists_router

routers = [
    watchlists_router,
    sightings_router,
    rules_router,
    correlations_router,
    alerts_router,
    promotion_router,
    incidents_router,
    notifications_router,
    stream_router,
]
