"""The TAXII 2.1 server's routes, under ``/taxii2/`` (outside ``/api/v1``, as TAXII clients
expect a discovery URL of their own).

``/taxii2/`` is the discovery resource; ``/taxii2/krsn/`` the one API root, with its
collections, their objects, manifests and versions, and the status of posted envelopes.
Callers authenticate as everywhere else: an API key as ``Authorization: Bearer <key>`` or a
session cookie (with the CSRF header on changes). Every answer, errors included, is
``application/taxii+json;version=2.1``: an ``Accept`` naming nothing TAXII 2.1 gets 406, a
``POST`` of anything else 415, and errors are the specification's error message.

These routes are left out of the OpenAPI document: TAXII 2.1 is specified by OASIS, and its
errors are TAXII error messages rather than the problem details the rest of the API answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from krsn.dependencies import DbSession, Principal, Reader
from krsn.errors import Invalid, KrsnError, RateLimited, Unauthorized
from krsn.indicators.warninglists import default_index
from krsn.routing import ApiRoute, parse_json
from krsn.security.permissions import Action
from krsn.sharing.taxii import service
from krsn.sharing.taxii.service import (
    API_ROOT,
    STIX_MEDIA_TYPE,
    TAXII_MEDIA_TYPE,
    Caller,
    Collection,
    Filters,
    Page,
)

log = logging.getLogger(__name__)

_TAXII_TYPE = "application/taxii+json"


# --- Media types and errors -----------------------------------------------------------------


def _media_ranges(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in header.split(","):
        if not part.strip():
            continue
        message = Message()
        message["content-type"] = part.strip()
        params = {k.lower(): v for k, v in message.get_params(failobj=[])[1:]}
        ranges.append((message.get_content_type(), params))
    return ranges


def acceptable(header: str | None) -> bool:
    """Whether an ``Accept`` header admits TAXII 2.1 JSON (no header admits anything)."""
    if header is None or not header.strip():
        return True
    for media_type, params in _media_ranges(header):
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if media_type in ("*/*", "application/*"):
            return True
        if media_type == _TAXII_TYPE and params.get("version", "2.1").strip() == "2.1":
            return True
    return False


def _is_taxii_body(header: str | None) -> bool:
    if not header:
        return False
    found = _media_ranges(header)
    return bool(found) and found[0][0] == _TAXII_TYPE and found[0][1].get("version", "2.1") == "2.1"


def taxii_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A TAXII 2.1 answer: ``body`` as JSON (bytes are sent as they are)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, media_type=TAXII_MEDIA_TYPE, headers=headers)


def error_response(
    status: int, title: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    """The TAXII error message of section 3.6."""
    body = {"title": title, "description": description, "http_status": str(status)}
    return taxii_response(body, status, headers)


def _validation_description(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "The request is not valid."


class TaxiiRoute(ApiRoute):
    """Answers TAXII: checks ``Accept`` and a posted body's type, and turns every error into
    a TAXII error message instead of problem details."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def taxii_handler(request: Request) -> Response:
            if not acceptable(request.headers.get("accept")):
                return error_response(
                    406,
                    "Not acceptable",
                    f"This server answers {TAXII_MEDIA_TYPE} only; accept that.",
                )
            if request.method == "POST" and not _is_taxii_body(request.headers.get("content-type")):
                return error_response(
                    415,
                    "Unsupported media type",
                    f"Send the envelope as Content-Type: {TAXII_MEDIA_TYPE}.",
                )
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return error_response(400, "Invalid request", _validation_description(exc))
            except KrsnError as exc:
                headers = None
                if isinstance(exc, Unauthorized):
                    headers = {"WWW-Authenticate": 'Bearer realm="krsn"'}
                elif isinstance(exc, RateLimited):
                    headers = {"Retry-After": str(exc.retry_after)}
                status = 400 if exc.status == 422 else exc.status
                return error_response(status, exc.title, exc.detail, headers)

        return taxii_handler


router = APIRouter(prefix="/taxii2", route_class=TaxiiRoute, include_in_schema=False)


# --- Helpers of the routes ------------------------------------------------------------------


def _caller(session: DbSession, principal: Principal) -> Caller:
    return service.caller_of(
        session,
        user_id=principal.user_id,
        role=principal.role,
        can_write_intel=principal.can(Action.WRITE_INTEL),
    )


def _root_url(request: Request) -> str:
    return f"{request.base_url}taxii2/{API_ROOT}/"


def collection_document(collection: Collection) -> dict[str, Any]:
    """A collection as the TAXII collection resource."""
    found: dict[str, Any] = {"id": collection.id, "title": collection.title}
    if collection.description:
        found["description"] = collection.description
    found["can_read"] = collection.can_read
    found["can_write"] = collection.can_write
    found["media_types"] = [STIX_MEDIA_TYPE]
    return found


def _page_headers(page: Page) -> dict[str, str]:
    if not page.entries:
        return {}
    return {
        "X-TAXII-Date-Added-First": page.first_added or "",
        "X-TAXII-Date-Added-Last": page.last_added or "",
    }


def _filters(
    added_after: str | None,
    limit: int | None,
    next_token: str | None,
    ids: list[str] | None = None,
    types: list[str] | None = None,
    versions: list[str] | None = None,
    spec_versions: list[str] | None = None,
) -> Filters:
    return service.read_filters(
        added_after=added_after,
        ids=ids,
        types=types,
        versions=versions,
        spec_versions=spec_versions,
        limit=limit,
        next_token=next_token,
    )


CollectionId = Annotated[str, Path(max_length=64)]
ObjectId = Annotated[str, Path(max_length=300)]
AddedAfter = Annotated[str | None, Query(max_length=64)]
Limit = Annotated[int | None, Query(ge=1, le=1_000_000)]
Next = Annotated[str | None, Query(alias="next", max_length=512)]
MatchId = Annotated[list[str] | None, Query(alias="match[id]")]
MatchType = Annotated[list[str] | None, Query(alias="match[type]")]
MatchVersion = Annotated[list[str] | None, Query(alias="match[version]")]
MatchSpec = Annotated[list[str] | None, Query(alias="match[spec_version]")]


def _reached(
    collection_id: CollectionId, principal: Reader, session: DbSession
) -> tuple[Caller, Collection]:
    """Who calls, and the collection of the path, which they may read (else 404)."""
    caller = _caller(session, principal)
    return caller, service.get_collection(session, caller=caller, collection_id=collection_id)


Reached = Annotated[tuple[Caller, Collection], Depends(_reached)]


# --- Routes ---------------------------------------------------------------------------------


@router.get("/")
def discovery(request: Request, principal: Reader) -> Response:
    """The discovery resource: one API root."""
    root = _root_url(request)
    return taxii_response(
        {
            "title": "KRSN-RT2I TAXII 2.1",
            "description": "Indicators of the platform's IOC collections, as STIX 2.1.",
            "default": root,
            "api_roots": [root],
        }
    )


@router.get(f"/{API_ROOT}/")
def api_root(request: Request, principal: Reader) -> Response:
    """The API root's information."""
    return taxii_response(
        {
            "title": "KRSN-RT2I",
            "description": "IOC collections and every indicator, as STIX 2.1 indicators.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": request.app.state.settings.max_body_bytes,
        }
    )


@router.get(f"/{API_ROOT}/collections/")
def collections(principal: Reader, session: DbSession) -> Response:
    """The collections the caller may read."""
    found = service.list_collections(session, caller=_caller(session, principal))
    return taxii_response({"collections": [collection_document(c) for c in found]})


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/")
def collection(reached: Reached) -> Response:
    """One collection."""
    return taxii_response(collection_document(reached[1]))


def _listed_page(
    reached: Reached,
    session: DbSession,
    added_after: AddedAfter = None,
    limit: Limit = None,
    next_token: Next = None,
    match_id: MatchId = None,
    match_type: MatchType = None,
    match_version: MatchVersion = None,
    match_spec_version: MatchSpec = None,
) -> service.Page:
    """The page of a collection that ``objects`` and ``manifest`` both list."""
    caller, found = reached
    filters = _filters(
        added_after, limit, next_token, match_id, match_type, match_version, match_spec_version
    )
    return service.page_objects(session, caller=caller, collection=found, filters=filters)


ListedPage = Annotated[service.Page, Depends(_listed_page)]


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/")
def objects(page: ListedPage) -> Response:
    """A page of the collection's objects."""
    return taxii_response(service.envelope_bytes(page), headers=_page_headers(page))


@router.post(f"/{API_ROOT}/collections/{{collection_id}}/objects/", status_code=202)
async def add_objects(request: Request, collection_id: CollectionId, principal: Reader) -> Response:
    """Import an envelope into the collection; answers its status resource."""
    # Read on the event loop, before the transaction starts, so a slow upload holds no lock.
    body = await request.body()
    if not body.strip():
        raise Invalid("body", "the body is empty; send a TAXII envelope")
    envelope = parse_json(body)
    database = request.app.state.database
    settings = request.app.state.settings

    def run() -> dict[str, Any]:
        with database.transaction() as session:
            caller = _caller(session, principal)
            found = service.get_collection(session, caller=caller, collection_id=collection_id)
            status = service.add_objects(
                session,
                caller=caller,
                collection=found,
                envelope=envelope,
                suppressor=default_index(settings),
                max_bytes=settings.max_body_bytes,
            )
            return service.status_document(status)

    return taxii_response(await run_in_threadpool(run), status=202)


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/manifest/")
def manifest(page: ListedPage) -> Response:
    """A page of the collection's manifest: each object's id, date added and version."""
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next
    if page.entries:
        body["objects"] = [service.manifest_entry(entry) for entry in page.entries]
    return taxii_response(body, headers=_page_headers(page))


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def get_object(
    reached: Reached,
    object_id: ObjectId,
    session: DbSession,
    added_after: AddedAfter = None,
    limit: Limit = None,
    next_token: Next = None,
    match_version: MatchVersion = None,
    match_spec_version: MatchSpec = None,
) -> Response:
    """One object (the one version we keep), in an envelope."""
    caller, found = reached
    filters = _filters(
        added_after, limit, next_token, versions=match_version, spec_versions=match_spec_version
    )
    page = service.get_object(
        session, caller=caller, collection=found, object_id=object_id, filters=filters
    )
    return taxii_response(service.envelope_bytes(page), headers=_page_headers(page))


@router.delete(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def delete_object(reached: Reached, object_id: ObjectId, session: DbSession) -> Response:
    """Take the object out of the collection (writers only)."""
    caller, found = reached
    service.delete_object(session, caller=caller, collection=found, object_id=object_id)
    return taxii_response(b"")


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/versions/")
def versions(
    reached: Reached,
    object_id: ObjectId,
    session: DbSession,
    added_after: AddedAfter = None,
    limit: Limit = None,
    next_token: Next = None,
    match_spec_version: MatchSpec = None,
) -> Response:
    """The versions of one object: the one we keep."""
    caller, found = reached
    filters = _filters(added_after, limit, next_token, spec_versions=match_spec_version)
    page = service.get_object(
        session, caller=caller, collection=found, object_id=object_id, filters=filters
    )
    body = {"more": False, "versions": [entry.version for entry in page.entries]}
    return taxii_response(body, headers=_page_headers(page))


@router.get(f"/{API_ROOT}/status/{{status_id}}/")
def status(
    status_id: Annotated[str, Path(max_length=64)], principal: Reader, session: DbSession
) -> Response:
    """The status of an envelope the caller posted."""
    found = service.get_status(session, caller=_caller(session, principal), status_id=status_id)
    return taxii_response(service.status_document(found))


routers = [router]
