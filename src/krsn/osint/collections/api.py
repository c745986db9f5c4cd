"""REST routes of collections, their runs, items and uploads; OSINT sources under
``/collections/sources``.

Everyone signed in reads. Users create collections and run, change, cancel, upload to and
delete their own; analysts and admins do so with everyone's. ``POST /{id}/run`` claims the
collection at once (409 when it already runs) and answers 202 while the background runner
works; ``GET /{id}/status`` follows it. Routes that run or read files open their own
transaction after the slow part, so no lock is held while a body arrives or a PDF is read.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from krsn.config import Settings
from krsn.db import Database
from krsn.dependencies import DbSession, OwnWriter, Principal, Reader, get_database, get_settings
from krsn.errors import Forbidden
from krsn.osint.collections import service
from krsn.osint.collections.scheduler import CollectionScheduler
from krsn.osint.collections.schemas import (
    CollectionCreate,
    CollectionRead,
    CollectionSort,
    CollectionState,
    CollectionUpdate,
    CollectorInfo,
    ItemRead,
    ItemSort,
    UploadOutcome,
)
from krsn.osint.collections.uploads import Upload, read_uploads, store_uploads
from krsn.osint.models import Collection, CollectionStatus, CollectorType
from krsn.osint.sources.api import router as sources_router
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of
from krsn.security.permissions import can_see_private

router = APIRouter(prefix="/collections", tags=["collections"], route_class=ApiRoute)
# Before the /{collection_id} routes, so 'sources' is never read as an id.
router.include_router(sources_router)

CollectionId = Annotated[uuid.UUID, Path(description="The collection's id.")]
AppDatabase = Annotated[Database, Depends(get_database)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def scheduler_of(request: Request) -> CollectionScheduler:
    """The app's background runner; one without a schedule when the app was not started
    through its lifespan (an embedded app, the tests)."""
    state = request.app.state
    found: CollectionScheduler | None = getattr(state, "collection_scheduler", None)
    if found is None:
        found = CollectionScheduler(state.database, state.settings)
        state.collection_scheduler = found
    return found


def _read(row: Collection) -> CollectionRead:
    return CollectionRead.model_validate(row)


def _state(row: Collection) -> CollectionState:
    return CollectionState.model_validate(row)


def _may_change(principal: Principal, row: Collection) -> None:
    if not can_see_private(role=principal.role, user_id=principal.user_id, owner_id=row.user_id):
        raise Forbidden("Only its owner, an analyst or an admin may change or run this collection.")


@router.get("/types", response_model=list[CollectorInfo], summary="List collectors")
def list_types(principal: Reader) -> list[CollectorInfo]:
    """The installed collectors by name, with their category, what they do and the JSON
    schema of their config."""
    return service.collectors()


@router.get("", response_model=Page[CollectionRead], summary="List collections")
def list_collections(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        CollectionSort, Query(description="A field ascending, or descending with a leading '-'.")
    ] = CollectionSort.CREATED_DESC,
    status: Annotated[CollectionStatus | None, Query(description="Only in this state.")] = None,
    collector_type: Annotated[
        CollectorType | None, Query(description="Only of this collector type.")
    ] = None,
    collector: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Only run by this collector (a category's name: its built-in).",
        ),
    ] = None,
    mine: Annotated[bool, Query(description="Only the caller's own.")] = False,
    q: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Part of the name.")
    ] = None,
) -> dict[str, Any]:
    """The collections, newest first unless ``sort`` says otherwise."""
    result = service.page_collections(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort.value,
        status=status,
        collector_type=collector_type,
        collector=collector,
        user_id=principal.user_id if mine else None,
        q=q,
    )
    return page_of(result, _read)


@router.post("", response_model=CollectionRead, status_code=201, summary="Create a collection")
def create_collection(
    body: CollectionCreate, principal: OwnWriter, session: DbSession
) -> CollectionRead:
    """A new, pending collection of the caller; its config is checked by the collector."""
    row = service.create_collection(
        session, actor=principal.actor, owner_id=principal.user_id, values=body.model_dump()
    )
    return _read(row)


@router.get("/{collection_id}", response_model=CollectionRead, summary="Show a collection")
def show_collection(
    collection_id: CollectionId, principal: Reader, session: DbSession
) -> CollectionRead:
    return _read(service.get_collection(session, collection_id))


@router.patch("/{collection_id}", response_model=CollectionRead, summary="Change a collection")
def update_collection(
    collection_id: CollectionId, body: CollectionUpdate, principal: OwnWriter, session: DbSession
) -> CollectionRead:
    """Change the fields sent, audited; a new config is checked again. Config and source
    cannot change while a run is in progress (409)."""
    _may_change(principal, service.get_collection(session, collection_id))
    row = service.update_collection(
        session,
        actor=principal.actor,
        collection_id=collection_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return _read(row)


@router.delete(
    "/{collection_id}", status_code=204, response_class=Response, summary="Delete a collection"
)
def delete_collection(
    collection_id: CollectionId, principal: OwnWriter, session: DbSession
) -> Response:
    """Delete the collection with its items, audited; not while it runs (409)."""
    _may_change(principal, service.get_collection(session, collection_id))
    service.delete_collection(session, actor=principal.actor, collection_id=collection_id)
    return Response(status_code=204)


@router.get(
    "/{collection_id}/status", response_model=CollectionState, summary="A collection's run state"
)
def collection_status(
    collection_id: CollectionId, principal: Reader, session: DbSession
) -> CollectionState:
    """Status, live progress (0-100), new items so far, the error of a failed run, times."""
    return _state(service.get_collection(session, collection_id))


@router.post(
    "/{collection_id}/run",
    response_model=CollectionState,
    status_code=202,
    summary="Run a collection in the background",
)
def run_collection(
    collection_id: CollectionId, principal: OwnWriter, request: Request, database: AppDatabase
) -> CollectionState:
    """Start a run now (409 when one is in progress); it goes on after the answer, which
    shows it ``running``. Follow it with ``GET /{id}/status``."""
    with database.transaction() as session:
        _may_change(principal, service.get_collection(session, collection_id))
        row = service.claim_run(session, actor=principal.actor, collection_id=collection_id)
        state = _state(row)
    # Submitted after the claim commits, so the run never reads a row still pending.
    scheduler_of(request).submit(collection_id, actor=principal.actor, database=database)
    return state


@router.post(
    "/{collection_id}/cancel", response_model=CollectionState, summary="Cancel a running collection"
)
def cancel_collection(
    collection_id: CollectionId, principal: OwnWriter, request: Request, database: AppDatabase
) -> CollectionState:
    """Mark the run cancelled (409 when none is in progress); the runner, in this process or
    another, stops at its next check and keeps what it stored."""
    with database.transaction() as session:
        _may_change(principal, service.get_collection(session, collection_id))
        row = service.request_cancel(session, actor=principal.actor, collection_id=collection_id)
        state = _state(row)
    scheduler_of(request).cancel(collection_id)
    return state


@router.get(
    "/{collection_id}/items", response_model=Page[ItemRead], summary="List a collection's items"
)
def list_items(
    collection_id: CollectionId,
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        ItemSort, Query(description="collected or -collected (newest first).")
    ] = ItemSort.COLLECTED_DESC,
    item_type: Annotated[
        str | None, Query(max_length=100, description="Only items of this type (upload, ...).")
    ] = None,
) -> dict[str, Any]:
    """The items the collection's runs and uploads stored."""
    result = service.page_items(
        session,
        collection_id=collection_id,
        limit=limit,
        cursor=cursor,
        sort=sort.value,
        item_type=item_type,
    )
    return page_of(result, ItemRead.model_validate)


async def _body(request: Request) -> tuple[str | None, bytes]:
    # Read on the event loop, before any transaction, so a slow upload holds no lock.
    return request.headers.get("content-type"), await request.body()


@router.post(
    "/{collection_id}/uploads",
    response_model=UploadOutcome,
    status_code=201,
    summary="Upload a file as an item",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("text/plain", "text/html", "application/pdf", "message/rfc822")
            },
        }
    },
)
def upload(
    collection_id: CollectionId,
    principal: OwnWriter,
    database: AppDatabase,
    body: Annotated[tuple[str | None, bytes], Depends(_body)],
    filename: Annotated[
        str, Query(min_length=1, max_length=255, description="The file's name (report.pdf).")
    ],
) -> UploadOutcome:
    """The raw body is one file: text, HTML, PDF or an e-mail (.eml); its Content-Type (or,
    when that is application/octet-stream, its name's extension) says which. It is read into
    text and stored as an item with its raw document; entities are extracted. The same bytes
    uploaded again are a duplicate. Other types are 415; the size cap is the body limit."""
    media_type, data = body
    with database.transaction(readonly=True) as session:
        _may_change(principal, service.get_collection(session, collection_id))
    files = read_uploads([Upload(filename=filename, data=data, mime_type=media_type)])
    with database.transaction() as session:
        return store_uploads(
            session, actor=principal.actor, collection_id=collection_id, files=files
        )
