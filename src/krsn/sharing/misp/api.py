"""REST route of MISP: export a selection as one MISP event (``GET /misp/export``), the
event ``krsn misp export`` writes, released by TLP to the caller."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Response

from krsn.dependencies import DbSession
from krsn.routing import ApiRoute
from krsn.sharing.exports import WITHHELD_HEADER, RequestedSelection
from krsn.sharing.misp.export import DEFAULT_ORG, export_event

router = APIRouter(prefix="/misp", tags=["misp"], route_class=ApiRoute)


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
def export(chosen: RequestedSelection, session: DbSession) -> Response:
    """Give exactly one of collection, actor, campaign, report or query. Every attribute and
    the event carry their TLP tags; objects TLP keeps from you are left out and counted in
    the ``X-Withheld-By-Tlp`` header."""
    event = export_event(session, selection=chosen, org=DEFAULT_ORG)
    return Response(
        orjson.dumps(event),
        media_type="application/json",
        headers={
            "X-Misp-Attributes": str(len(event["Event"]["Attribute"])),
            WITHHELD_HEADER: str(chosen.withheld_total),
        },
    )
