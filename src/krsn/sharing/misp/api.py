"""REST route of MISP: export a selection as one MISP event (``GET /misp/export``), the
event ``krsn misp export`` writes, released by TLP to the caller."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from krsn.dependencies import DbSession, Reader
from krsn.errors import Invalid, NotFound
from krsn.routing import ApiRoute
from krsn.sharing import selection as selections
from krsn.sharing import tlp as tlps
from krsn.sharing.misp.export import DEFAULT_ORG, export_event

router = APIRouter(prefix="/misp", tags=["misp"], route_class=ApiRoute)

MAX_INDICATORS = 100_000
"""The most indicators one request exports as attributes; the command line has no such bound."""
WITHHELD_HEADER = "X-Withheld-By-Tlp"


@router.get(
    "/export",
    summary="Export a selection as a MISP event",
    response_class=Response,
    responses={
        200: {
            "content": {"application/json": {}},
            "description": 'One MISP event, {"Event": {…}}, as MISP and PyMISP load it.',
        }
    },
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
            description="A threat actor's name or id: with its indicators and techniques.",
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
) -> Response:
    """Give exactly one of collection, actor, campaign, report or query. Every attribute and
    the event carry their TLP tags; objects TLP keeps from you are left out and counted in
    the ``X-Withheld-By-Tlp`` header."""
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
            "'krsn misp export'",
        )
    event = export_event(session, selection=chosen, org=DEFAULT_ORG)
    return Response(
        orjson.dumps(event),
        media_type="application/json",
        headers={
            "X-Misp-Attributes": str(len(event["Event"]["Attribute"])),
            WITHHELD_HEADER: str(chosen.withheld_total),
        },
    )
