"""The FastAPI application: routers, middleware, error handling, health checks, and the
background work of the embedded mode (the feed scheduler) started and stopped with it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from krsn import __version__
from krsn.config import Settings, get_settings
from krsn.dashboards.api import routers as dashboard_routers
from krsn.db import Database
from krsn.detection.api import routers as detection_routers
from krsn.errors import install_handlers, problem
from krsn.feeds.api import routers as feed_routers
from krsn.heap import tune_for_batches
from krsn.identity.api import routers as identity_routers
from krsn.indicators.api import routers as indicator_routers
from krsn.middleware import BodySizeLimit, SecurityHeaders
from krsn.osint.api import routers as osint_routers
from krsn.security.stores import build_rate_limiter, build_session_store
from krsn.sharing.api import routers as sharing_routers
from krsn.sharing.stix.api import routers as stix_routers
from krsn.sharing.taxii.api import router as taxii_router
from krsn.ui import page_route

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def configure(app: FastAPI, *, settings: Settings, database: Database) -> None:
    """Point the app at a database and settings (the stores follow them)."""
    app.state.settings = settings
    app.state.database = database
    app.state.session_store = build_session_store(settings, database)
    app.state.rate_limiter = build_rate_limiter(settings)
    from krsn.indicators.ranges import ranges_of

    # The range index hooks the engine's events; hooked now, before requests run on several
    # threads, since adding a listener while another thread fires them breaks the firing.
    ranges_of(database.engine)
    from krsn.detection.stream.bus import StreamBus

    previous: StreamBus | None = getattr(app.state, "stream_bus", None)
    if previous is not None:
        # Its subscribers are told to reconnect; they find the new bus.
        previous.close()
    app.state.stream_bus = StreamBus.from_settings(settings)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Tune the collector for batch work; start the feed and collection schedulers with the
    app (when ``KRSN_SCHEDULER_ENABLED``), the live stream's bus and the notification
    dispatcher (woken by every new alert); stop them after."""
    from krsn.detection import events
    from krsn.detection.notify.dispatcher import NotificationDispatcher
    from krsn.feeds.scheduler import FeedScheduler
    from krsn.osint.collections.scheduler import CollectionScheduler

    settings: Settings = app.state.settings
    tune_for_batches()
    scheduler = None
    if settings.scheduler_enabled:
        scheduler = FeedScheduler(app.state.database, settings)
        scheduler.start()
    app.state.scheduler = scheduler
    collections = CollectionScheduler(app.state.database, settings)
    if settings.scheduler_enabled:
        # Fails the runs a stopped process left behind, then runs due collections.
        collections.start()
    app.state.collection_scheduler = collections
    # Started now so that events committed before the first subscriber reach other
    # processes through Redis; it waits for Redis, so off the event loop.
    await asyncio.to_thread(app.state.stream_bus.start)
    dispatcher = NotificationDispatcher(app.state.database, settings)
    dispatcher.start()
    app.state.notification_dispatcher = dispatcher

    def wake(batch: list[events.ChangeEvent]) -> None:
        if any(event.topic == "alert.created" for event in batch):
            dispatcher.wake()

    events.add_sink(wake)
    try:
        yield
    finally:
        events.remove_sink(wake)
        await asyncio.to_thread(dispatcher.stop)
        app.state.notification_dispatcher = None
        await asyncio.to_thread(collections.stop)
        app.state.collection_scheduler = None
        await asyncio.to_thread(app.state.stream_bus.stop)
        if scheduler is not None:
            # Joining the thread blocks; keep that off the event loop.
            await asyncio.to_thread(scheduler.stop)
        app.state.scheduler = None


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """A ready application; without arguments it uses the process settings and database."""
    settings = settings or get_settings()
    if database is None:
        from krsn.db import get_database

        database = get_database()
    app = FastAPI(
        title="KRSN-RT2I",
        version=__version__,
        description="Threat intelligence and OSINT investigation. Authenticate with a "
        "session cookie from POST /api/v1/auth/login (send X-CSRF-Token on changes) "
        "or with an API key as 'Authorization: Bearer <key>'.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    configure(app, settings=settings, database=database)
    install_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    for router in [
        *identity_routers,
        *indicator_routers,
        *feed_routers,
        *sharing_routers,
        *stix_routers,
        *detection_routers,
        *osint_routers,
        *dashboard_routers,
    ]:
        api.include_router(router)
    app.include_router(api)
    app.include_router(taxii_router)
    _add_health_routes(app)
    _add_pages(app)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="The database is reachable and migrated")
    def readyz(request: Request) -> Any:
        from sqlalchemy import text

        from krsn.db.migrate import current, head

        database: Database = request.app.state.database
        try:
            with database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            at, latest = current(database.url), head()
        except Exception as exc:
            log.warning("readiness check failed: %s", exc)
            return problem(
                503, "Not ready", f"The database is not reachable: {exc.__class__.__name__}."
            )
        if at != latest:
            return problem(
                503,
                "Not ready",
                f"The database is at migration {at or 'none'}, the code needs {latest}: "
                "run 'krsn db upgrade'.",
            )
        return JSONResponse({"status": "ready", "migration": at})


def _add_pages(app: FastAPI) -> None:
    # Appended after every other route, so the API, TAXII and the health checks match first.
    app.router.routes.append(
        page_route(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>KRSN-RT2I</title>"
            "</head><body><h1>KRSN-RT2I</h1><p>The REST API is under "
            f"<code>{API_PREFIX}</code>; its OpenAPI document is "
            f"<a href='{API_PREFIX}/openapi.json'>{API_PREFIX}/openapi.json</a>.</p>"
            "<p>The web UI is not built: run <code>make ui</code> in the repository, then "
            "reload this page.</p></body></html>"
        )
    )
