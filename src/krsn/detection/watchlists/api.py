"""REST routes of watchlists and their items.

Everyone signed in reads; analysts and admins (``IntelWriter``) change lists and items.
Items are added as a JSON list (``POST /watchlists/{id}/items``) or imported
(``POST /watchlists/{id}/items/import``) from a text or CSV body, or from an IOC collection
named in a JSON body. The request body cap (``KRSN_MAX_BODY_BYTES``) bounds an upload; the
command line (``krsn watchlists import``) streams files of any size.
"""

from __future__ import annotations

import uuid
from email.message import Message
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import ValidationError

from krsn.db.types import utcnow
from krsn.dependencies import DbSession, IntelWriter, Principal, Reader
from krsn.detection.models import WatchlistType
from krsn.detection.watchlists import service
from krsn.detection.watchlists.schemas import (
    CollectionImport,
    ItemRead,
    ItemsAdd,
    ItemsChange,
    ItemSort,
    WatchlistCheck,
    WatchlistCreate,
    WatchlistRead,
    WatchlistSort,
    WatchlistUpdate,
)
from krsn.errors import Invalid
from krsn.identity.models import Role
from krsn.routing import ApiRoute, parse_json, unstorable
from krsn.schemas import Cursor, Limit, Page, UtcDateTime, page_of

router = APIRouter(prefix="/watchlists", tags=["watchlists"], route_class=ApiRoute)

WatchlistId = Annotated[uuid.UUID, Path(description="The watchlist's id.")]
ItemId = Annotated[uuid.UUID, Path(description="The item's id.")]

_TEXT = ("text/plain", "text/csv")
_JSON = "application/json"


def _read(row: Any) -> WatchlistRead:
    return WatchlistRead.model_validate(row)


@router.get("", response_model=Page[WatchlistRead], summary="List watchlists")
def list_watchlists(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        WatchlistSort,
        Query(
            description="A field ascending, or descending with a leading '-'; a cursor pages "
            "on only through the order it was issued for."
        ),
    ] = WatchlistSort.NAME,
    q: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Part of the name, any case.")
    ] = None,
    list_type: Annotated[
        WatchlistType | None, Query(description="Only lists of this type.")
    ] = None,
    is_active: Annotated[
        bool | None, Query(description="Only active (true) or inactive (false) lists.")
    ] = None,
) -> dict[str, Any]:
    """The watchlists, by name unless ``sort`` says otherwise."""
    result = service.page_watchlists(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort.value,
        q=q,
        list_type=list_type,
        is_active=is_active,
    )
    return page_of(result, _read)


@router.post("", response_model=WatchlistRead, status_code=201, summary="Create a watchlist")
def create_watchlist(
    body: WatchlistCreate, principal: IntelWriter, session: DbSession
) -> WatchlistRead:
    """A new, empty list; a name already taken (in any case) is 409."""
    row = service.create_watchlist(session, actor=principal.actor, values=body.model_dump())
    return _read(row)


@router.get("/check", response_model=WatchlistCheck, summary="Check a value against watchlists")
def check(
    principal: Reader,
    session: DbSession,
    value: Annotated[
        str,
        Query(
            min_length=1,
            max_length=4096,
            description="An IP, range, domain, URL, hash or e-mail address, defanged or not.",
        ),
    ],
) -> WatchlistCheck:
    """Which active lists hold or cover the value (the same value, a parent domain, a range
    holding the address, a URL's host, an e-mail's domain), each with its unexpired item."""
    return service.check_value(session, value=value, now=utcnow())


@router.get("/{watchlist_id}", response_model=WatchlistRead, summary="Show a watchlist")
def show_watchlist(
    watchlist_id: WatchlistId, principal: Reader, session: DbSession
) -> WatchlistRead:
    return _read(service.get_watchlist(session, watchlist_id))


@router.patch("/{watchlist_id}", response_model=WatchlistRead, summary="Change a watchlist")
def update_watchlist(
    watchlist_id: WatchlistId, body: WatchlistUpdate, principal: IntelWriter, session: DbSession
) -> WatchlistRead:
    """Change the fields sent, audited with old and new values. A new type must fit every
    item already on the list; deactivating a list stops it matching and keeps its items."""
    row = service.update_watchlist(
        session,
        actor=principal.actor,
        watchlist_id=watchlist_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return _read(row)


@router.delete(
    "/{watchlist_id}", status_code=204, response_class=Response, summary="Delete a watchlist"
)
def delete_watchlist(
    watchlist_id: WatchlistId, principal: IntelWriter, session: DbSession
) -> Response:
    """Delete the list and its items, audited."""
    service.delete_watchlist(session, actor=principal.actor, watchlist_id=watchlist_id)
    return Response(status_code=204)


@router.get(
    "/{watchlist_id}/items", response_model=Page[ItemRead], summary="List a watchlist's items"
)
def list_items(
    watchlist_id: WatchlistId,
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        ItemSort, Query(description="A field ascending, or descending with a leading '-'.")
    ] = ItemSort.VALUE,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2048,
            description="The start of the value, defanged or not: '10.0.', 'hxxp://evil[.]'.",
        ),
    ] = None,
    include_expired: Annotated[
        bool, Query(description="Include items past their expiry (they no longer match).")
    ] = True,
) -> dict[str, Any]:
    """The items, by value unless ``sort`` says otherwise; each says whether it expired."""
    now = utcnow()
    result = service.page_items(
        session,
        watchlist_id=watchlist_id,
        limit=limit,
        cursor=cursor,
        sort=sort.value,
        q=q,
        include_expired=include_expired,
        now=now,
    )
    return page_of(result, lambda item: service.item_read(item, now=now))


@router.post("/{watchlist_id}/items", response_model=ItemsChange, summary="Add items")
def add_items(
    watchlist_id: WatchlistId, body: ItemsAdd, principal: IntelWriter, session: DbSession
) -> ItemsChange:
    """Add up to 10,000 values. Each is normalised (defanged input is read) and must be of
    a type the list takes; a refused one is listed with the reason and the rest go in. A
    value already on the list takes the expiry given (none: it never expires) and the notes
    given (none: it keeps its own)."""
    return service.add_items(
        session,
        actor=principal.actor,
        watchlist_id=watchlist_id,
        items=body.items,
        notes=body.notes,
        expires_at=body.expires_at,
    )


def _media_type(request: Request) -> str:
    given = request.headers.get("content-type")
    if not given:
        return "text/plain"
    message = Message()
    message["content-type"] = given
    return message.get_content_type()


async def _upload(request: Request) -> tuple[str, bytes]:
    # Read on the event loop, before the transaction starts, so a slow upload holds no lock.
    media_type = _media_type(request)
    if media_type not in (*_TEXT, _JSON):
        raise Invalid(
            "content-type",
            f"{media_type} is not importable; send text/plain (one value a line), text/csv "
            'or application/json ({"collection_id": ...})',
        )
    return media_type, await request.body()


def _collection_import(body: bytes) -> CollectionImport:
    if not body.strip():
        raise Invalid("body", 'empty; send {"collection_id": "<IOC collection id>"}')
    try:
        return CollectionImport.model_validate(parse_json(body))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise Invalid(where, error["msg"]) from None


def _text(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(
            "body", f"not UTF-8 text (byte 0x{body[exc.start]:02x} at offset {exc.start})"
        ) from None
    reason = unstorable(text)
    if reason:
        raise Invalid("body", reason)
    return text


@router.post(
    "/{watchlist_id}/items/import",
    response_model=ItemsChange,
    summary="Import items from a file or an IOC collection",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                _JSON: {"schema": CollectionImport.model_json_schema()},
            },
        }
    },
)
def import_items(
    watchlist_id: WatchlistId,
    upload: Annotated[tuple[str, bytes], Depends(_upload)],
    principal: IntelWriter,
    session: DbSession,
    column: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="CSV: the header of the value column, any case (default: the first).",
        ),
    ] = None,
    notes: Annotated[
        str | None, Query(max_length=2000, description="Notes of every item of a file.")
    ] = None,
    expires_at: Annotated[
        UtcDateTime | None, Query(description="Expiry of every item of a file; none: never.")
    ] = None,
) -> ItemsChange:
    """A ``text/plain`` body holds one value a line (blank lines and ``#`` comments are
    skipped); a ``text/csv`` one a header and the values in ``column``; an
    ``application/json`` one ``{"collection_id": ...}`` names an IOC collection you may see,
    whose indicators are added. Values are read as ``POST …/items`` reads them; a bad line is
    listed with its number and the others go in."""
    media_type, body = upload
    if media_type == _JSON:
        wanted = _collection_import(body)
        return service.import_collection(
            session,
            actor=principal.actor,
            watchlist_id=watchlist_id,
            collection=wanted.collection_id,
            see_all=_sees_all(principal),
            notes=wanted.notes,
            expires_at=wanted.expires_at,
        )
    if column is not None and media_type != "text/csv":
        raise Invalid("column", "only a text/csv body has columns")
    return service.import_lines(
        session,
        actor=principal.actor,
        watchlist_id=watchlist_id,
        lines=_text(body).splitlines(),
        as_csv=media_type == "text/csv",
        column=column,
        notes=notes,
        expires_at=expires_at,
        source="upload",
    )


def _sees_all(principal: Principal) -> bool:
    """Admins see every IOC collection; others the public ones and their own."""
    return principal.role == Role.ADMIN


@router.delete(
    "/{watchlist_id}/items/{item_id}",
    status_code=204,
    response_class=Response,
    summary="Remove an item",
)
def remove_item(
    watchlist_id: WatchlistId, item_id: ItemId, principal: IntelWriter, session: DbSession
) -> Response:
    """Remove one item, audited; the list's item count follows."""
    service.remove_item(session, actor=principal.actor, watchlist_id=watchlist_id, item_id=item_id)
    return Response(status_code=204)
