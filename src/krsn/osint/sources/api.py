"""REST routes of OSINT sources, under ``/collections/sources``.

Everyone signed in reads them (never their credentials: only ``has_credentials``); analysts
and admins (``IntelWriter``) create, change and delete them, since every collection that
names a source sends its credentials.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.osint.models import CollectorType
from krsn.osint.sources import service
from krsn.osint.sources.schemas import (
    SourceCreate,
    SourceRead,
    SourceSort,
    SourceUpdate,
)
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of

router = APIRouter(prefix="/sources", tags=["osint sources"], route_class=ApiRoute)

SourceId = Annotated[uuid.UUID, Path(description="The source's id.")]


@router.get("", response_model=Page[SourceRead], summary="List OSINT sources")
def list_sources(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        SourceSort, Query(description="A field ascending, or descending with a leading '-'.")
    ] = SourceSort.NAME,
    source_type: Annotated[
        CollectorType | None, Query(description="Only sources of this collector type.")
    ] = None,
    is_active: Annotated[bool | None, Query(description="Only active or inactive ones.")] = None,
) -> dict[str, Any]:
    """The sources, by name unless ``sort`` says otherwise."""
    result = service.page_sources(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort.value,
        source_type=source_type,
        is_active=is_active,
    )
    return page_of(result, service.source_read)


@router.post("", response_model=SourceRead, status_code=201, summary="Create an OSINT source")
def create_source(body: SourceCreate, principal: IntelWriter, session: DbSession) -> SourceRead:
    """A new source; its credentials are stored encrypted and never shown again."""
    row = service.create_source(session, actor=principal.actor, values=body.model_dump())
    return service.source_read(row)


@router.get("/{source_id}", response_model=SourceRead, summary="Show an OSINT source")
def show_source(source_id: SourceId, principal: Reader, session: DbSession) -> SourceRead:
    return service.source_read(service.get_source(session, source_id))


@router.patch("/{source_id}", response_model=SourceRead, summary="Change an OSINT source")
def update_source(
    source_id: SourceId, body: SourceUpdate, principal: IntelWriter, session: DbSession
) -> SourceRead:
    """Change the fields sent, audited; ``credentials`` replaces the secrets, null drops them."""
    row = service.update_source(
        session,
        actor=principal.actor,
        source_id=source_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return service.source_read(row)


@router.delete(
    "/{source_id}", status_code=204, response_class=Response, summary="Delete an OSINT source"
)
def delete_source(source_id: SourceId, principal: IntelWriter, session: DbSession) -> Response:
    """Delete the source, audited; collections that named it run without one."""
    service.delete_source(session, actor=principal.actor, source_id=source_id)
    return Response(status_code=204)
