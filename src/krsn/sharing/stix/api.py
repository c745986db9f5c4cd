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

from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.errors import Invalid, NotFound
from krsn.feeds.sources import ensure_source
from krsn.indicators.warninglists import default_index
from krsn.routing import ApiRoute, unstorable
from krsn.sharing import selection as selections
from krsn.sharing import tlp as tlps
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


MAX_INDICATORS = 100_000
"""The most indicators one request exports; the command line has no such bound."""
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
WITHHELD_HEADER = "X-Withheld-By-Tlp"
"""How many objects TLP kept from the caller; a bundle has no place to say so."""


@router.get(
    "/export",
    summary="Export a selection as a STIX 2.1 bundle",
    response_class=Response,
    responses={200: {"content": {STIX_MEDIA_TYPE: {}}, "description": "A STIX 2.1 bundle."}},
)
def export(
    principal: Reader,
    session: DbSession,
    collection: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="An IOC collection's name or id."),
    ] = None,
    actor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A threat actor's name or id: with its indicators, campaigns and "
            "techniques.",
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A campaign's name or id: with its indicators, actors and techniques.",
        ),
    ] = None,
    report: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=500,
            description="A threat report's title or id: with the indicators it references.",
        ),
    ] = None,
    query: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="Indicator search filters as key=value pairs separated by commas: "
            "'type=ip,severity=high,tag=emotet'. Keys: type, severity, active, source, feed, "
            "tag (repeat for several), malware_family, q, first_seen_after, "
            "first_seen_before, last_seen_after, last_seen_before.",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_INDICATORS,
            description="At most this many indicators, most recently changed first.",
        ),
    ] = None,
    observables: Annotated[
        bool, Query(description="Add each indicator's cyber observable (SCO).")
    ] = False,
) -> Response:
    """Give exactly one of collection, actor, campaign, report or query. Names match in any
    case. The bundle holds the objects, their relationships, TLP markings and the
    KRSN-RT2I identity; it passes the OASIS STIX 2.1 validator. Objects TLP keeps from you
    are left out and counted in the ``X-Withheld-By-Tlp`` header."""
    audience = tlps.Audience(
        tlps.recipient_of(session, user_id=principal.user_id, role=principal.role),
        tlps.Channel.EXPORT,
    )
    chosen = selections.resolve(
        session,
        collection=collection,
        actor=actor,
        campaign=campaign,
        report=report,
        query=selections.parse_query(query) if query is not None else None,
        limit=limit,
        load_indicators=False,
        audience=audience,
    )
    if not selections.readable_by(chosen, user_id=principal.user_id, role=principal.role):
        # The same answer as for a name nobody uses: a private collection stays unseen.
        raise NotFound(f"No IOC collection is called {collection!r} (or has that id).")
    chosen.check_released()
    if limit is None and (chosen.indicator_total or 0) > MAX_INDICATORS:
        raise Invalid(
            "limit",
            f"the selection holds {chosen.indicator_total:,} indicators, more than one "
            f"request exports ({MAX_INDICATORS:,}): narrow it, give a limit, or use "
            "'krsn stix export'",
        )
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
