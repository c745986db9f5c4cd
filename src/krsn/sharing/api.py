"""REST routes of the knowledge objects: threat actors, threat campaigns, ATT&CK and custom
techniques, the indicators linked to each, IOC collections and threat reports.

Actors, campaigns and reports share one shape of create, show, change and delete routes, and
actors, campaigns and techniques one shape of indicator-link routes: each is made by a
factory below, with its own path parameter, schemas, summaries and permissions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from krsn.dependencies import DbSession, IntelWriter, OwnWriter, Principal, Reader
from krsn.identity.models import Role
from krsn.indicators.models import ThreatIndicator
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, UtcDateTime, page_of
from krsn.sharing import actors, campaigns, collections, knowledge, links, reports
from krsn.sharing.misp.api import router as misp_router
from krsn.sharing.models import (
    CampaignStatus,
    Classification,
    CollectionIndicator,
    IocCollection,
    ReportType,
    Sophistication,
)
from krsn.sharing.schemas import (
    ActorCreate,
    ActorDetail,
    ActorIndicatorCreate,
    ActorIndicatorRead,
    ActorIndicatorUpdate,
    ActorRead,
    ActorUpdate,
    CampaignCreate,
    CampaignIndicatorCreate,
    CampaignIndicatorRead,
    CampaignIndicatorUpdate,
    CampaignRead,
    CampaignUpdate,
    CollectionChange,
    CollectionCreate,
    CollectionIndicatorRead,
    CollectionIndicators,
    CollectionRead,
    CollectionUpdate,
    IndicatorRef,
    IndicatorTechniqueCreate,
    IndicatorTechniqueRead,
    IndicatorTechniqueUpdate,
    LinkCreate,
    ListSort,
    ReportCreate,
    ReportRead,
    ReportSort,
    ReportUpdate,
    TechniqueCreate,
    TechniqueDetail,
    TechniqueRead,
)
from krsn.sharing.tlp import collection_tlp

actors_router = APIRouter(prefix="/threat-actors", tags=["threat actors"], route_class=ApiRoute)
campaigns_router = APIRouter(
    prefix="/threat-campaigns", tags=["threat campaigns"], route_class=ApiRoute
)
techniques_router = APIRouter(prefix="/mitre-techniques", tags=["techniques"], route_class=ApiRoute)
collections_router = APIRouter(
    prefix="/ioc-collections", tags=["IOC collections"], route_class=ApiRoute
)
reports_router = APIRouter(prefix="/threat-reports", tags=["threat reports"], route_class=ApiRoute)

# Path parameters by the name they stand under in the path; the route factories' endpoints
# take each as a parameter of their own name, so the alias is what the path and OpenAPI see.
ActorId = Annotated[uuid.UUID, Path(alias="actor_id")]
CampaignId = Annotated[uuid.UUID, Path(alias="campaign_id")]
ReportId = Annotated[uuid.UUID, Path(alias="report_id")]
TechniqueId = Annotated[
    str,
    Path(
        alias="technique_id",
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="An ATT&CK technique id (T1059.001) or a custom one.",
    ),
]
Text = Annotated[
    str | None, Query(min_length=1, max_length=255, description="Part of the name, any case.")
]
After = Annotated[UtcDateTime | None, Query(description="At or after this time.")]
Before = Annotated[UtcDateTime | None, Query(description="Before this time.")]
ObservedAfter = Annotated[
    UtcDateTime | None, Query(description="Last observed at or after this time.")
]
ObservedBefore = Annotated[
    UtcDateTime | None, Query(description="First observed before this time.")
]
SortOf = Annotated[
    ListSort,
    Query(
        description="A field ascending, or descending with a leading '-'; a cursor pages "
        "on only through the order it was issued for."
    ),
]


# --- route factories ------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """An operation's summary and, when it has one, its description in the OpenAPI document."""

    summary: str
    description: str | None = None


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def _typed(endpoint: Endpoint, **annotations: Any) -> Endpoint:
    """``endpoint`` with these parameters' types set for FastAPI, which reads them to parse a
    request and write the OpenAPI document: a route factory learns them only when called."""
    endpoint.__annotations__.update(annotations)
    return endpoint


def _path_name(key: Any) -> str:
    """The name a path parameter type (``ActorId``) stands under in the path."""
    return str(key.__metadata__[0].alias)


def _add(
    router: APIRouter, method: str, path: str, endpoint: Any, doc: Doc, **options: Any
) -> None:
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        summary=doc.summary,
        description=doc.description,
        **options,
    )


def _object_routes(
    router: APIRouter,
    kind: knowledge.Kind[Any],
    *,
    word: str,
    key: Any,
    create_body: type[BaseModel],
    update_body: type[BaseModel],
    read: type[BaseModel],
    shape: Callable[[Session, Any], BaseModel],
    creating: Doc,
    showing: Doc,
    changing: Doc,
    deleting: Doc,
) -> None:
    """Create, show, change and delete routes of a named knowledge object that analysts
    write and everyone reads; ``word`` names the operations (``create_actor``)."""

    def create(body: BaseModel, principal: IntelWriter, session: DbSession) -> Any:
        row = knowledge.create(session, kind, actor=principal.actor, values=body.model_dump())
        return shape(session, row)

    def show(row_id: uuid.UUID, principal: Reader, session: DbSession) -> Any:
        return shape(session, knowledge.get(session, kind, row_id))

    def update(
        row_id: uuid.UUID, body: BaseModel, principal: IntelWriter, session: DbSession
    ) -> Any:
        row = knowledge.update(
            session,
            kind,
            knowledge.get(session, kind, row_id),
            actor=principal.actor,
            changes=body.model_dump(exclude_unset=True),
        )
        return shape(session, row)

    def delete(row_id: uuid.UUID, principal: IntelWriter, session: DbSession) -> Response:
        knowledge.delete(session, kind, knowledge.get(session, kind, row_id), actor=principal.actor)
        return Response(status_code=204)

    one = f"/{{{_path_name(key)}}}"
    _add(
        router,
        "POST",
        "",
        _typed(create, body=create_body),
        creating,
        name=f"create_{word}",
        response_model=read,
        status_code=201,
    )
    _add(
        router,
        "GET",
        one,
        _typed(show, row_id=key),
        showing,
        name=f"show_{word}",
        response_model=read,
    )
    _add(
        router,
        "PATCH",
        one,
        _typed(update, row_id=key, body=update_body),
        changing,
        name=f"update_{word}",
        response_model=read,
    )
    _add(
        router,
        "DELETE",
        one,
        _typed(delete, row_id=key),
        deleting,
        name=f"delete_{word}",
        status_code=204,
    )


def _indicator(row: ThreatIndicator | None, indicator_id: uuid.UUID) -> IndicatorRef:
    if row is None:
        return IndicatorRef(id=indicator_id, value=None, type=None)
    return IndicatorRef(id=row.id, value=row.indicator_value, type=row.indicator_type)


def _link_routes(
    router: APIRouter,
    kind: links.LinkKind,
    *,
    word: str,
    key: Any,
    create_body: type[LinkCreate],
    update_body: type[BaseModel],
    read: type[BaseModel],
    listing: Doc,
    adding: Doc,
    changing: Doc,
    removing: Doc,
    owner_of: Callable[[Any], Any] = lambda key: key,
) -> None:
    """List, add, change and remove routes of the indicators linked to an owner (an actor, a
    campaign, a technique); ``owner_of`` turns the path's id into the stored one."""

    def shown(link: Any, found: dict[uuid.UUID, ThreatIndicator]) -> BaseModel:
        extra = {name: getattr(link, name) for name in (kind.owner_column, kind.note)}
        if kind.has_relationship:
            extra["relationship_type"] = link.relationship_type
        score = link.confidence_score
        return read(
            id=link.id,
            indicator=_indicator(found.get(link.indicator_id), link.indicator_id),
            confidence_score=float(score) if score is not None else None,
            linked_at=getattr(link, kind.at),
            linked_by=getattr(link, kind.by),
            **extra,
        )

    def one(session: Session, link: Any) -> BaseModel:
        return shown(link, links.indicators_by_id(session, [link.indicator_id]))

    def list_links(
        owner: Any, principal: Reader, session: DbSession, limit: Limit = 50, cursor: Cursor = None
    ) -> dict[str, Any]:
        result, found = links.list_links(
            session, kind=kind, owner_id=owner_of(owner), limit=limit, cursor=cursor
        )
        return page_of(result, lambda link: shown(link, found))

    def add(owner: Any, body: LinkCreate, principal: IntelWriter, session: DbSession) -> Any:
        link = links.add_link(
            session,
            actor=principal.actor,
            kind=kind,
            owner_id=owner_of(owner),
            indicator=body.indicator,
            values=body.model_dump(exclude={"indicator"}),
        )
        return one(session, link)

    def update(
        owner: Any,
        indicator_id: uuid.UUID,
        body: BaseModel,
        principal: IntelWriter,
        session: DbSession,
    ) -> Any:
        link = links.update_link(
            session,
            actor=principal.actor,
            kind=kind,
            owner_id=owner_of(owner),
            indicator_id=indicator_id,
            changes=body.model_dump(exclude_unset=True),
        )
        return one(session, link)

    def remove(
        owner: Any, indicator_id: uuid.UUID, principal: IntelWriter, session: DbSession
    ) -> Response:
        links.remove_link(
            session,
            actor=principal.actor,
            kind=kind,
            owner_id=owner_of(owner),
            indicator_id=indicator_id,
        )
        return Response(status_code=204)

    many = f"/{{{_path_name(key)}}}/indicators"
    _add(
        router,
        "GET",
        many,
        _typed(list_links, owner=key),
        listing,
        name=f"list_{word}_indicators",
        response_model=Page[read],  # type: ignore[valid-type]
    )
    _add(
        router,
        "POST",
        many,
        _typed(add, owner=key, body=create_body),
        adding,
        name=f"link_{word}_indicator",
        response_model=read,
        status_code=201,
    )
    _add(
        router,
        "PATCH",
        f"{many}/{{indicator_id}}",
        _typed(update, owner=key, body=update_body),
        changing,
        name=f"update_{word}_indicator",
        response_model=read,
    )
    _add(
        router,
        "DELETE",
        f"{many}/{{indicator_id}}",
        _typed(remove, owner=key),
        removing,
        name=f"unlink_{word}_indicator",
        status_code=204,
    )


# --- threat actors --------------------------------------------------------------------------


@actors_router.get("", response_model=Page[ActorRead], summary="List threat actors")
def list_actors(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: SortOf = ListSort.NAME,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="Part of the name or of an alias."),
    ] = None,
    sophistication: Sophistication | None = None,
    observed_after: ObservedAfter = None,
    observed_before: ObservedBefore = None,
) -> dict[str, Any]:
    """Threat actors by name, each with the number of indicators linked to it."""
    result = actors.page_actors(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort,
        q=q,
        sophistication=sophistication,
        observed_after=observed_after,
        observed_before=observed_before,
    )
    counts = actors.indicator_counts(session, [row.id for row in result.items])
    return page_of(result, lambda row: actors.actor_read(row, counts.get(row.id, 0)))


_CHANGE_KEEPS_ATTACK = (
    "Change the fields sent; a list replaces the analyst's part of it, what the ATT&CK\n"
    "import wrote stays."
)

_object_routes(
    actors_router,
    actors.KIND,
    word="actor",
    key=ActorId,
    create_body=ActorCreate,
    update_body=ActorUpdate,
    read=ActorDetail,
    shape=actors.actor_detail,
    creating=Doc("Add a threat actor", "A new threat actor; its name must be free, in any case."),
    showing=Doc(
        "Show a threat actor",
        "An actor's profile: tools and techniques (from ATT&CK, by hand, from its indicators),\n"
        "its campaigns and how many indicators are linked to it.",
    ),
    changing=Doc("Change a threat actor", _CHANGE_KEEPS_ATTACK),
    deleting=Doc(
        "Delete a threat actor",
        "Delete an actor and its indicator links; campaigns stop naming it.",
    ),
)
_link_routes(
    actors_router,
    links.ACTOR_LINKS,
    word="actor",
    key=ActorId,
    create_body=ActorIndicatorCreate,
    update_body=ActorIndicatorUpdate,
    read=ActorIndicatorRead,
    listing=Doc(
        "List an actor's indicators", "The indicators linked to an actor, the latest link first."
    ),
    adding=Doc(
        "Link an indicator to an actor",
        "Link an indicator (by id or value) with how it relates, how sure, and the evidence.",
    ),
    changing=Doc("Change an actor's indicator link"),
    removing=Doc("Unlink an indicator from an actor"),
)


# --- threat campaigns -----------------------------------------------------------------------


@campaigns_router.get("", response_model=Page[CampaignRead], summary="List threat campaigns")
def list_campaigns(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: SortOf = ListSort.NAME,
    q: Text = None,
    status: CampaignStatus | None = None,
    actor_id: Annotated[
        uuid.UUID | None, Query(description="Only campaigns attributed to this actor.")
    ] = None,
    observed_after: ObservedAfter = None,
    observed_before: ObservedBefore = None,
) -> dict[str, Any]:
    """Campaigns by name, each with its attributed actors and linked indicators count."""
    result = campaigns.page_campaigns(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort,
        q=q,
        status=status,
        actor_id=actor_id,
        observed_after=observed_after,
        observed_before=observed_before,
    )
    shown = iter(campaigns.campaign_reads(session, result.items))
    return page_of(result, lambda _row: next(shown))


_object_routes(
    campaigns_router,
    campaigns.KIND,
    word="campaign",
    key=CampaignId,
    create_body=CampaignCreate,
    update_body=CampaignUpdate,
    read=CampaignRead,
    shape=lambda session, row: campaigns.campaign_reads(session, [row])[0],
    creating=Doc(
        "Add a threat campaign",
        "A new campaign, the caller its analyst; its name must be free, in any case.",
    ),
    showing=Doc(
        "Show a threat campaign",
        "A campaign with its attributed actors, techniques and linked indicators count.",
    ),
    changing=Doc("Change a threat campaign", _CHANGE_KEEPS_ATTACK),
    deleting=Doc("Delete a threat campaign", "Delete a campaign and its indicator links."),
)
_link_routes(
    campaigns_router,
    links.CAMPAIGN_LINKS,
    word="campaign",
    key=CampaignId,
    create_body=CampaignIndicatorCreate,
    update_body=CampaignIndicatorUpdate,
    read=CampaignIndicatorRead,
    listing=Doc(
        "List a campaign's indicators",
        "The indicators linked to a campaign, the latest link first.",
    ),
    adding=Doc(
        "Link an indicator to a campaign",
        "Link an indicator (by id or value) with its role in the campaign, how sure, notes.",
    ),
    changing=Doc("Change a campaign's indicator link"),
    removing=Doc("Unlink an indicator from a campaign"),
)


# --- techniques -----------------------------------------------------------------------------


@techniques_router.get("", response_model=Page[TechniqueRead], summary="List techniques")
def list_techniques(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        str,
        Query(pattern=r"^-?(id|name)$", description="id or name, descending with a leading '-'."),
    ] = "id",
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="Part of the id or of the name."),
    ] = None,
    tactic: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A tactic's short name (defense-evasion), name or ATT&CK id (TA0005).",
        ),
    ] = None,
    platform: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="A platform, exactly (Windows)."),
    ] = None,
) -> dict[str, Any]:
    """ATT&CK's techniques and custom ones, by id, each with how many indicators are mapped
    to it (one grouped count for the page)."""
    result, catalog = links.page_techniques(
        session, limit=limit, cursor=cursor, sort=sort, q=q, tactic=tactic, platform=platform
    )
    counts = links.link_counts(
        session, kind=links.TECHNIQUE_LINKS, owner_ids=[row.technique_id for row in result.items]
    )

    def read(row: Any) -> TechniqueRead:
        listed = links.technique_read(row, catalog.get(row.technique_id))
        return listed.model_copy(update={"indicator_count": counts.get(row.technique_id, 0)})

    return page_of(result, read)


@techniques_router.post(
    "", response_model=TechniqueDetail, status_code=201, summary="Add a custom technique"
)
def create_technique(body: TechniqueCreate, principal: IntelWriter, session: DbSession) -> Any:
    """A technique ATT&CK does not have; its id must be free."""
    row = links.create_technique(
        session,
        actor=principal.actor,
        technique_id=body.technique_id,
        values=body.model_dump(exclude={"technique_id"}),
    )
    return links.get_technique(session, row.technique_id)


@techniques_router.get(
    "/{technique_id}", response_model=TechniqueDetail, summary="Show a technique"
)
def show_technique(technique_id: TechniqueId, principal: Reader, session: DbSession) -> Any:
    """A technique with what ATT&CK says of it, the groups and software using it, and how
    many indicators analysts mapped to it."""
    return links.get_technique(session, technique_id)


_link_routes(
    techniques_router,
    links.TECHNIQUE_LINKS,
    word="technique",
    key=TechniqueId,
    create_body=IndicatorTechniqueCreate,
    update_body=IndicatorTechniqueUpdate,
    read=IndicatorTechniqueRead,
    listing=Doc(
        "List a technique's indicators",
        "The indicators mapped to a technique, the latest mapping first.",
    ),
    adding=Doc(
        "Map an indicator to a technique",
        "Map an indicator (by id or value) to a technique, with how sure and the evidence.",
    ),
    changing=Doc("Change an indicator's technique mapping"),
    removing=Doc("Unmap an indicator from a technique"),
    # Technique ids are stored upper-case; a path may name one in any case.
    owner_of=str.upper,
)


# --- IOC collections ------------------------------------------------------------------------


def _sees_all(principal: Principal) -> bool:
    # Private collections are their creator's; only admins see everyone's.
    return principal.role == Role.ADMIN


def _collection(row: IocCollection, count: int) -> CollectionRead:
    return CollectionRead(
        id=row.id,
        name=row.name,
        description=row.description,
        is_public=row.is_public,
        created_by=row.created_by,
        metadata=row.metadata_,
        tlp=collection_tlp(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        indicator_count=count,
    )


def _shown_collection(session: Session, row: IocCollection) -> CollectionRead:
    return _collection(row, collections.live_counts(session, [row.id]).get(row.id, 0))


@collections_router.get("", response_model=Page[CollectionRead], summary="List IOC collections")
def list_collections(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: SortOf = ListSort.NAME,
    q: Text = None,
    is_public: bool | None = None,
    mine: Annotated[
        bool | None, Query(description="Only your own collections (true), or only others'.")
    ] = None,
) -> dict[str, Any]:
    """The public collections and your own (an admin sees all), by name."""
    see_all = _sees_all(principal)
    result = collections.page_collections(
        session,
        user_id=principal.user_id,
        see_all=see_all,
        limit=limit,
        cursor=cursor,
        sort=sort,
        q=q,
        is_public=is_public,
        mine=mine,
    )
    counts = collections.live_counts(session, [row.id for row in result.items])
    return page_of(result, lambda row: _collection(row, counts.get(row.id, 0)))


@collections_router.post(
    "", response_model=CollectionRead, status_code=201, summary="Create an IOC collection"
)
def create_collection(
    body: CollectionCreate, principal: OwnWriter, session: DbSession
) -> CollectionRead:
    """A new, empty collection of yours; private unless ``is_public``."""
    row = collections.create_collection(session, actor=principal.actor, values=body.model_dump())
    return _collection(row, 0)


@collections_router.get(
    "/{collection_id}", response_model=CollectionRead, summary="Show an IOC collection"
)
def show_collection(
    collection_id: uuid.UUID, principal: Reader, session: DbSession
) -> CollectionRead:
    row = collections.get_collection(
        session, collection_id, user_id=principal.user_id, see_all=_sees_all(principal)
    )
    return _shown_collection(session, row)


@collections_router.patch(
    "/{collection_id}", response_model=CollectionRead, summary="Change an IOC collection"
)
def update_collection(
    collection_id: uuid.UUID, body: CollectionUpdate, principal: OwnWriter, session: DbSession
) -> CollectionRead:
    """Rename it, describe it, make it public or private; its creator or an admin only."""
    row = collections.update_collection(
        session,
        actor=principal.actor,
        collection_id=collection_id,
        changes=body.model_dump(exclude_unset=True),
        see_all=_sees_all(principal),
    )
    return _shown_collection(session, row)


@collections_router.delete("/{collection_id}", status_code=204, summary="Delete an IOC collection")
def delete_collection(
    collection_id: uuid.UUID, principal: OwnWriter, session: DbSession
) -> Response:
    """Delete a collection; its indicators stay. Its creator or an admin only."""
    collections.delete_collection(
        session, actor=principal.actor, collection_id=collection_id, see_all=_sees_all(principal)
    )
    return Response(status_code=204)


@collections_router.get(
    "/{collection_id}/indicators",
    response_model=Page[CollectionIndicatorRead],
    summary="List a collection's indicators",
)
def list_collection_indicators(
    collection_id: uuid.UUID,
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The collection's indicators, the latest added first."""
    result, found = collections.page_members(
        session,
        collection_id=collection_id,
        user_id=principal.user_id,
        see_all=_sees_all(principal),
        limit=limit,
        cursor=cursor,
    )

    def shape(member: CollectionIndicator) -> CollectionIndicatorRead:
        return CollectionIndicatorRead(
            indicator=_indicator(found.get(member.indicator_id), member.indicator_id),
            added_at=member.added_at,
            added_by=member.added_by,
            notes=member.notes,
        )

    return page_of(result, shape)


@collections_router.post(
    "/{collection_id}/indicators",
    response_model=CollectionChange,
    summary="Add indicators to a collection",
)
def add_collection_indicators(
    collection_id: uuid.UUID,
    body: CollectionIndicators,
    principal: OwnWriter,
    session: DbSession,
) -> CollectionChange:
    """Add up to 10,000 indicators by id or value (defanged or not); those already in it
    are counted as unchanged, unknown and unreadable ones listed."""
    return collections.add_indicators(
        session,
        actor=principal.actor,
        collection_id=collection_id,
        indicators=body.indicators,
        notes=body.notes,
        see_all=_sees_all(principal),
    )


@collections_router.post(
    "/{collection_id}/indicators/remove",
    response_model=CollectionChange,
    summary="Remove indicators from a collection",
)
def remove_collection_indicators(
    collection_id: uuid.UUID,
    body: CollectionIndicators,
    principal: OwnWriter,
    session: DbSession,
) -> CollectionChange:
    """Remove up to 10,000 indicators by id or value; those not in it count as unchanged."""
    return collections.remove_indicators(
        session,
        actor=principal.actor,
        collection_id=collection_id,
        indicators=body.indicators,
        see_all=_sees_all(principal),
    )


@collections_router.delete(
    "/{collection_id}/indicators/{indicator_id}",
    response_model=CollectionChange,
    summary="Remove one indicator from a collection",
)
def remove_collection_indicator(
    collection_id: uuid.UUID, indicator_id: uuid.UUID, principal: OwnWriter, session: DbSession
) -> CollectionChange:
    return collections.remove_indicators(
        session,
        actor=principal.actor,
        collection_id=collection_id,
        indicators=[str(indicator_id)],
        see_all=_sees_all(principal),
    )


# --- threat reports -------------------------------------------------------------------------


@reports_router.get("", response_model=Page[ReportRead], summary="List threat reports")
def list_reports(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        ReportSort, Query(description="A field ascending, or descending with a leading '-'.")
    ] = ReportSort.CREATED_DESC,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="Part of the title or the summary."),
    ] = None,
    report_type: Annotated[ReportType | None, Query(alias="type")] = None,
    classification: Classification | None = None,
    published: Annotated[
        bool | None, Query(description="Only published (true) or draft (false) reports.")
    ] = None,
    author_id: uuid.UUID | None = None,
    published_after: After = None,
    published_before: Before = None,
) -> dict[str, Any]:
    """Threat reports, newest first unless ``sort`` says otherwise."""
    result = reports.page_reports(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort,
        q=q,
        report_type=report_type,
        classification=classification,
        published=published,
        author_id=author_id,
        published_after=published_after,
        published_before=published_before,
    )
    return page_of(result, reports.report_read)


def _report(session: Session, row: Any) -> ReportRead:
    return reports.report_read(row)


_object_routes(
    reports_router,
    reports.KIND,
    word="report",
    key=ReportId,
    create_body=ReportCreate,
    update_body=ReportUpdate,
    read=ReportRead,
    shape=_report,
    creating=Doc(
        "Write a threat report",
        "A new draft report, the caller its author; publish it with ``/publish``.",
    ),
    showing=Doc("Show a threat report"),
    changing=Doc(
        "Change a threat report",
        "Change the fields sent; lists (indicators, attachments) are replaced whole.",
    ),
    deleting=Doc("Delete a threat report"),
)


@reports_router.post(
    "/{report_id}/publish", response_model=ReportRead, summary="Publish a threat report"
)
def publish_report(report_id: uuid.UUID, principal: IntelWriter, session: DbSession) -> ReportRead:
    """Publish a draft now (``published_at``); an already published one is 409."""
    row = reports.publish_report(session, actor=principal.actor, report_id=report_id)
    return reports.report_read(row)


routers: list[APIRouter] = [
    actors_router,
    campaigns_router,
    techniques_router,
    collections_router,
    reports_router,
    misp_router,
]
