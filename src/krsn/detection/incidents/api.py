"""REST routes of incidents, and the promotion of an alert to one."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.detection.incidents import service
from krsn.detection.incidents.schemas import (
    AlertLinkCreate,
    IncidentAlertRead,
    IncidentCreate,
    IncidentDetail,
    IncidentIndicatorRead,
    IncidentRead,
    IncidentSort,
    IncidentUpdate,
    IndicatorLinkCreate,
    NoteCreate,
    Promotion,
    TimelineEntry,
)
from krsn.detection.models import IncidentStatus
from krsn.indicators.models import Severity
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of

router = APIRouter(prefix="/incidents", tags=["incidents"], route_class=ApiRoute)
alert_router = APIRouter(prefix="/alerts", tags=["incidents"], route_class=ApiRoute)

# Named for what it is, so that an id learnt from creating an incident fits it.
Key = Annotated[
    str,
    Path(
        alias="incident",
        min_length=1,
        max_length=64,
        description="The incident's id, or its number (INC-2026-0001).",
    ),
]


@router.get("", response_model=Page[IncidentRead], summary="List incidents")
def list_incidents(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        IncidentSort,
        Query(
            description="A field ascending, or descending with a leading '-' (-severity: most "
            "severe first, newest first within one). A cursor only pages on through the "
            "order it was issued for."
        ),
    ] = IncidentSort.CREATED_DESC,
    status: Annotated[IncidentStatus | None, Query(description="Only this status.")] = None,
    severity: Annotated[Severity | None, Query(description="Only this severity.")] = None,
    assigned_analyst_id: Annotated[
        uuid.UUID | None, Query(description="Only those assigned to this user.")
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=500, description="Part of the title or number, any case."),
    ] = None,
) -> dict[str, Any]:
    """Incidents filtered by status, severity, assigned analyst and title; newest first
    unless ``sort`` says otherwise."""
    result = service.list_incidents(
        session,
        status=status,
        severity=severity,
        assigned_analyst_id=assigned_analyst_id,
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    # Shaped together: the analysts' names and link counts take one query for the page.
    shaped = {read.id: read for read in service.reads(session, result.items)}
    return page_of(result, lambda incident: shaped[incident.id])


@router.post("", response_model=IncidentDetail, status_code=201, summary="Open an incident")
def create_incident(
    body: IncidentCreate, principal: IntelWriter, session: DbSession
) -> IncidentDetail:
    """A new open incident, numbered INC-YYYY-NNNN in the order incidents are opened."""
    incident = service.create_incident(
        session,
        actor=principal.actor,
        title=body.title,
        description=body.description,
        severity=body.severity,
        assigned_analyst_id=body.assigned_analyst_id,
        affected_assets=body.affected_assets,
    )
    return service.detail(session, incident)


@router.get("/{incident}", response_model=IncidentDetail, summary="Show an incident")
def show_incident(key: Key, principal: Reader, session: DbSession) -> IncidentDetail:
    """One incident, by id or number, with its linked alerts and indicators."""
    return service.detail(session, service.get_incident(session, key))


@router.patch("/{incident}", response_model=IncidentDetail, summary="Change an incident")
def update_incident(
    key: Key, body: IncidentUpdate, principal: IntelWriter, session: DbSession
) -> IncidentDetail:
    """Only the fields sent change, each recorded in the timeline and the audit log.

    ``status`` moves forward (open → investigating → contained → resolved, steps may be
    skipped) or reopens a resolved incident to investigating; resolving needs a
    ``resolution_summary``, sent now or already there. ``assigned_analyst_id: null``
    unassigns it.
    """
    incident = service.update_incident(
        session, actor=principal.actor, key=key, changes=body.model_dump(exclude_unset=True)
    )
    return service.detail(session, incident)


@router.post(
    "/{incident}/notes", response_model=TimelineEntry, status_code=201, summary="Add a note"
)
def add_note(
    key: Key, body: NoteCreate, principal: IntelWriter, session: DbSession
) -> TimelineEntry:
    """An analyst's note, added to the incident's timeline."""
    return service.add_note(session, actor=principal.actor, key=key, text=body.text)


@router.get("/{incident}/timeline", response_model=list[TimelineEntry], summary="Read the timeline")
def read_timeline(key: Key, principal: Reader, session: DbSession) -> list[TimelineEntry]:
    """Every change, link and note of the incident, oldest first, with who and when."""
    return service.timeline_of(session, key)


@router.post(
    "/{incident}/alerts", response_model=IncidentAlertRead, status_code=201, summary="Link an alert"
)
def link_alert(
    key: Key, body: AlertLinkCreate, principal: IntelWriter, session: DbSession
) -> IncidentAlertRead:
    """Link an alert to the incident; a second link of the same alert is 409."""
    return service.link_alert(
        session, actor=principal.actor, key=key, alert_id=body.alert_id, notes=body.notes
    )


@router.delete("/{incident}/alerts/{alert_id}", status_code=204, summary="Unlink an alert")
def unlink_alert(
    key: Key, alert_id: uuid.UUID, principal: IntelWriter, session: DbSession
) -> Response:
    """Remove an alert from the incident; the alert stays."""
    service.unlink_alert(session, actor=principal.actor, key=key, alert_id=alert_id)
    return Response(status_code=204)


@router.post(
    "/{incident}/indicators",
    response_model=IncidentIndicatorRead,
    status_code=201,
    summary="Link an indicator",
)
def link_indicator(
    key: Key, body: IndicatorLinkCreate, principal: IntelWriter, session: DbSession
) -> IncidentIndicatorRead:
    """Link an indicator as the root cause, a related one or a consequence; a second link of
    the same indicator is 409."""
    return service.link_indicator(
        session,
        actor=principal.actor,
        key=key,
        indicator_id=body.indicator_id,
        relationship_type=body.relationship_type,
        notes=body.notes,
    )


@router.delete(
    "/{incident}/indicators/{indicator_id}", status_code=204, summary="Unlink an indicator"
)
def unlink_indicator(
    key: Key, indicator_id: uuid.UUID, principal: IntelWriter, session: DbSession
) -> Response:
    """Remove an indicator from the incident; the indicator stays."""
    service.unlink_indicator(session, actor=principal.actor, key=key, indicator_id=indicator_id)
    return Response(status_code=204)


@alert_router.post(
    "/{alert_id}/incident",
    response_model=IncidentDetail,
    status_code=201,
    summary="Promote an alert to an incident",
)
def promote_alert(
    alert_id: uuid.UUID,
    principal: IntelWriter,
    session: DbSession,
    body: Annotated[Promotion | None, Body()] = None,
) -> IncidentDetail:
    """Open an incident from the alert in one step: the alert's title, a matching severity
    and its assignee unless given; the alert linked, its indicator linked as the root
    cause, the alert moved to investigating. 409 names the incident of an alert already
    promoted or linked."""
    given = body or Promotion()
    incident = service.promote_alert(
        session,
        alert_id=alert_id,
        actor=principal.actor,
        title=given.title,
        severity=given.severity,
        assigned_analyst_id=given.assigned_analyst_id,
    )
    return service.detail(session, incident)
