"""REST routes of STIX 2.1: import a bundle (``POST /stix/bundles``), export a selection as
one (``GET /stix/export``).

An import's body is the bundle itself: JSON (``application/json`` or ``application/stix+json``) or
a file sent as is (``application/octet-stream``, gzip allowed). The request body cap
(``KRSN_MAX_BODY_BYTES``) bounds the upload, and the same cap bounds a gzip body once
unpacked.
"""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from krsn.dependencies import DbSession, IntelWriter
from krsn.errors import Invalid
from krsn.feeds.sources import ensure_source
from krsn.indicators.warninglists import default_index
from krsn.routing import ApiRoute, unstorable
from krsn.sharing.exports import WITHHELD_HEADER, RequestedSelection
from krsn.sharing.stix.export import write_bundle
from krsn.sharing.stix.schemas import StixImportSummary
from krsn.sharing.stix.service import DEFAULT_SOURCE, import_bundle

router = APIRouter(prefix="/stix", tags=["stix"], route_class=ApiRoute)


async def _body(request: Request) -> bytes:
    # Read on the event loop, before the transaction starts, so a slow upload holds no lock.
    body = await request.body()
    if not body.strip():
        raise Invalid("bundle", "the body is empty; send a STIX bundle")
    return body


@router.post(
    "/bundles",
    response_model=StixImportSummary,
    summary="Import a STIX bundle",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def import_stix_bundle(
    request: Request,
    body: Annotated[bytes, Depends(_body)],
    principal: IntelWriter,
    session: DbSession,
    source: Annotated[
        str,
        Query(min_length=1, max_length=255, description="The source the indicators come from."),
    ] = DEFAULT_SOURCE,
) -> StixImportSummary:
    """Import a bundle: bad objects are reported by position, the good ones imported."""
    reason = unstorable(source)
    if reason:
        raise Invalid("source", reason)
    settings = request.app.state.settings
    found = ensure_source(session, actor=principal.actor, name=source)
    return import_bundle(
        session,
        bundle=body,
        source=found,
        actor=principal.actor,
        suppressor=default_index(settings),
        max_bytes=settings.max_body_bytes,
    )


STIX_MEDIA_TYPE = "application/stix+json;version=2.1"


@router.get(
    "/export",
    summary="Export a selection as a STIX 2.1 bundle",
    response_class=Response,
    responses={200: {"content": {STIX_MEDIA_TYPE: {}}, "description": "A STIX 2.1 bundle."}},
)
def export(
    chosen: RequestedSelection,
    session: DbSession,
    observables: Annotated[
        bool, Query(description="Add each indicator's cyber observable (SCO).")
    ] = False,
) -> Response:
    """Give exactly one of collection, actor, campaign, report or query. Names match in any
    case. The bundle holds the objects, their relationships, TLP markings and the
    KRSN-RT2I identity; it passes the OASIS STIX 2.1 validator. Objects TLP keeps from you
    are left out and counted in the ``X-Withheld-By-Tlp`` header."""
    buffer = io.BytesIO()
    summary = write_bundle(session, selection=chosen, output=buffer, observables=observables)
    return Response(
        buffer.getvalue(),
        media_type=STIX_MEDIA_TYPE,
        headers={
            "X-Stix-Objects": str(summary.objects),
            WITHHELD_HEADER: str(chosen.withheld_total),
        },
    )


routers: list[APIRouter] = [router]
