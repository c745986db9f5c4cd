"""REST routes of sightings: observables seen in the customer's environment."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from krsn.db import Database
from krsn.db.pagination import paginate
from krsn.db.types import utcnow
from krsn.dependencies import DbSession, OwnWriter, Reader
from krsn.detection.models import Sighting
from krsn.detection.sightings import service
from krsn.detection.sightings.schemas import SightingRead, SightingReportRead
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, UtcDateTime

router = APIRouter(prefix="/sightings", tags=["sightings"], route_class=ApiRoute)

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})


async def _body(request: Request) -> tuple[bytes, bool]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return await request.body(), content_type in NDJSON_TYPES


Body = Annotated[tuple[bytes, bool], Depends(_body)]

_EXAMPLE = (
    '[{"value": "evil.example.com", "observed_at": "2026-11-26T10:00:00Z", '
    '"host": "ws-042", "sensor": "dns-resolver-1", "log_source": "dns"}]'
)


@router.post(
    "",
    response_model=SightingReportRead,
    summary="Post a batch of sightings",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"type": "object"}},
                    "example": _EXAMPLE,
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
def post_sightings(principal: OwnWriter, request: Request, body: Body) -> Response:
    """Match observables seen in your environment against the active indicators (the same
    value, or an IP inside a stored range) and the watchlists, and raise alerts.

    Send JSON (a list, or ``{"sightings": [...]}``) or NDJSON (``application/x-ndjson``, one
    object per line). Each sighting: ``value`` (required; defanged forms are read), a time
    (``observed_at``, ``seen_at``, ``timestamp`` or ``time``: ISO 8601 or seconds since the
    epoch; default now), ``host``, ``sensor``, ``log_source`` and a ``context`` object. Up to
    50,000 per batch. Bad items are listed in ``problems`` and never stop the batch.
    """
    raw, ndjson = body
    items, broken = service.parse_batch(raw, ndjson=ndjson)
    report = service.SightingReport()
    for _line, reason in broken:
        report.received += 1
        report.rejected += 1
        report.problem(None, None, reason)
    database: Database = request.app.state.database
    now = utcnow()
    # Reading and matching need no write lock; only acting on the hits does, briefly.
    with database.transaction(readonly=True) as session:
        batch = service.match_batch(session, items=items, now=now, report=report)
    if batch.needs_writing:
        with database.transaction() as session:
            service.act_on(
                session, batch=batch, reported_by=principal.user_id, now=now, report=report
            )
    return Response(orjson.dumps(report.as_dict()), media_type="application/json")


@router.get("", response_model=Page[SightingRead], summary="List stored sightings")
def list_sightings(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    indicator_id: Annotated[uuid.UUID | None, Query(description="Sightings of it.")] = None,
    watchlist_item_id: uuid.UUID | None = None,
    host: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    value: Annotated[
        str | None, Query(min_length=1, max_length=2048, description="The value as sent.")
    ] = None,
    observed_after: UtcDateTime | None = None,
    observed_before: UtcDateTime | None = None,
) -> dict[str, Any]:
    """Matched sightings, most recent first (misses are counted, not kept)."""
    statement = select(Sighting)
    if indicator_id is not None:
        statement = statement.where(Sighting.indicator_id == indicator_id)
    if watchlist_item_id is not None:
        statement = statement.where(Sighting.watchlist_item_id == watchlist_item_id)
    if host is not None:
        statement = statement.where(Sighting.host == host)
    if value is not None:
        statement = statement.where(Sighting.value == value)
    if observed_after is not None:
        statement = statement.where(Sighting.observed_at >= observed_after)
    if observed_before is not None:
        statement = statement.where(Sighting.observed_at < observed_before)
    result = paginate(
        session,
        statement,
        order_by=[Sighting.observed_at, Sighting.id],
        limit=limit,
        cursor=cursor,
    )
    return {
        "items": [SightingRead.model_validate(row) for row in result.items],
        "total": result.total,
        "limit": result.limit,
        "next_cursor": result.next_cursor,
    }
