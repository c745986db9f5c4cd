"""REST route of full-text search: ``GET /api/v1/search``.

Everyone signed in searches entities, documents and indicators. The audit log is the
admins': asking for ``index=audit_logs`` without the admin role is refused (403), and a
search of every index leaves the audit log out for everyone else.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from krsn.dependencies import DbSession, Reader
from krsn.errors import Forbidden
from krsn.osint.search import service
from krsn.osint.search.schemas import SearchIndex, SearchResult
from krsn.routing import ApiRoute
from krsn.schemas import UtcDateTime
from krsn.security.permissions import Action

router = APIRouter(prefix="/search", tags=["search"], route_class=ApiRoute)


def allowed_indices(requested: list[SearchIndex] | None, *, admin: bool) -> list[SearchIndex]:
    """The indices a caller searches: those asked for (all by default), the audit log only
    for admins — named explicitly by someone else, it is ``Forbidden``."""
    if requested:
        if SearchIndex.AUDIT_LOGS in requested and not admin:
            raise Forbidden("Searching the audit log needs the admin role.")
        return list(dict.fromkeys(requested))
    return [i for i in SearchIndex if admin or i is not SearchIndex.AUDIT_LOGS]


@router.get("", response_model=SearchResult, summary="Search entities, documents, indicators")
def search(
    principal: Reader,
    session: DbSession,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=10_000,
            description='Words (all must match), "phrases", prefix*, -excluded. A domain is '
            "found by any label, an e-mail by either part, a URL by its host.",
        ),
    ],
    index: Annotated[
        list[SearchIndex] | None,
        Query(description="Indices to search (repeat for several); all by default."),
    ] = None,
    type: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Entity, document or indicator type, or audited resource type.",
        ),
    ] = None,
    tag: Annotated[str | None, Query(max_length=255, description="Carries this tag.")] = None,
    min_risk: Annotated[
        float | None, Query(ge=0, le=100, description="Risk or threat score at least this.")
    ] = None,
    max_risk: Annotated[
        float | None, Query(ge=0, le=100, description="Risk or threat score at most this.")
    ] = None,
    since: Annotated[UtcDateTime | None, Query(description="Seen or created at or after.")] = None,
    until: Annotated[UtcDateTime | None, Query(description="Seen or created before.")] = None,
    collection_id: Annotated[
        uuid.UUID | None, Query(description="Documents of this collection only.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT, description="Hits to return.")] = 20,
) -> SearchResult:
    """Ranked hits with highlights; ``approximate`` says when ranking was bounded."""
    indices = allowed_indices(index, admin=principal.can(Action.ADMIN))
    return service.search(
        session,
        q=q,
        indices=indices,
        type=type,
        tag=tag,
        min_risk=min_risk,
        max_risk=max_risk,
        since=since,
        until=until,
        collection_id=collection_id,
        limit=limit,
    )
