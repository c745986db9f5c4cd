"""REST routes of entities: list, show, merge, split, rescore and risk history.

Everyone signed in reads; analysts and admins (``IntelWriter``) merge, split and rescore, and
each of those is audited. Enrichments and analyses of an entity live under the enrichment
routes (``/entities/{id}/enrichments``, ``/analyses?entity_id=``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.errors import Invalid
from krsn.osint.entities import service
from krsn.osint.entities.schemas import (
    EntityDetail,
    EntityRead,
    EntitySort,
    MergeRequest,
    MergeResult,
    RescoreRequest,
    RescoreResult,
    RiskRead,
    SplitRequest,
    SplitResult,
)
from krsn.osint.models import EntityType
from krsn.osint.risk.service import rescore_all
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of

router = APIRouter(prefix="/entities", tags=["entities"], route_class=ApiRoute)

EntityId = Annotated[uuid.UUID, Path(description="The entity's id.")]


@router.get("", response_model=Page[EntityRead], summary="List entities")
def list_entities(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        EntitySort, Query(description="A field ascending, or descending with a leading '-'.")
    ] = EntitySort.RISK_DESC,
    entity_type: Annotated[
        EntityType | None, Query(alias="type", description="Only entities of this type.")
    ] = None,
    tag: Annotated[str | None, Query(max_length=255, description="Only with this tag.")] = None,
    min_risk: Annotated[
        int | None, Query(ge=0, le=100, description="Only with a risk score at least this.")
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=500, description="The start of the name, any case."),
    ] = None,
) -> dict[str, Any]:
    """Entities, riskiest first unless ``sort`` says otherwise."""
    result = service.page_entities(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort.value,
        entity_type=entity_type,
        tag=tag,
        min_risk=min_risk,
        q=q,
    )
    return page_of(result, service.entity_read)


@router.post("/merge", response_model=MergeResult, summary="Merge entities")
def merge(body: MergeRequest, principal: IntelWriter, session: DbSession) -> MergeResult:
    """Fold ``merged`` into ``survivor``: sources, edges, enrichments, risk history and names
    move to it, and the merged entities are deleted (audited)."""
    result = service.merge_entities(
        session, actor=principal.actor, survivor_id=body.survivor, merged_ids=body.merged
    )
    return MergeResult(
        survivor=service.entity_read(result.survivor),
        merged=result.merged,
        moved_sources=result.moved_sources,
        moved_edges=result.moved_edges,
    )


@router.post("/rescore", response_model=RescoreResult, summary="Recompute risk scores")
def rescore(body: RescoreRequest, principal: IntelWriter, session: DbSession) -> RescoreResult:
    """Recompute the scores of the entities named, or of every entity with ``all``."""
    if body.all:
        return RescoreResult(rescored=rescore_all(session, calculated_by=principal.actor.user_id))
    if not body.entity_ids:
        raise Invalid("entity_ids", "name the entities to rescore, or set all")
    scores = service.rescore_entities(session, actor=principal.actor, entity_ids=body.entity_ids)
    return RescoreResult(rescored=len(scores), scores=scores)


@router.get("/{entity_id}", response_model=EntityDetail, summary="Show an entity")
def show(entity_id: EntityId, principal: Reader, session: DbSession) -> EntityDetail:
    """An entity with its sources, linked indicator, names, risk history and enrichments."""
    return service.entity_detail(session, entity_id)


@router.post("/{entity_id}/split", response_model=SplitResult, summary="Split an entity")
def split(
    entity_id: EntityId, body: SplitRequest, principal: IntelWriter, session: DbSession
) -> SplitResult:
    """Move the chosen source links to a new entity (audited)."""
    result = service.split_entity(
        session,
        actor=principal.actor,
        entity_id=entity_id,
        source_link_ids=body.sources,
        name=body.name,
    )
    return SplitResult(
        original=service.entity_read(result.original),
        created=service.entity_read(result.created),
        moved_sources=result.moved_sources,
    )


@router.get("/{entity_id}/risk", response_model=list[RiskRead], summary="Risk history")
def risk(
    entity_id: EntityId,
    principal: Reader,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RiskRead]:
    """The entity's risk computations, newest first, each with its factors."""
    return service.risk_history(session, entity_id, limit=limit)


@router.post("/{entity_id}/rescore", response_model=RiskRead, summary="Rescore an entity")
def rescore_one(entity_id: EntityId, principal: IntelWriter, session: DbSession) -> RiskRead:
    """Recompute one entity's score now; the new history row."""
    return service.rescore_entities(session, actor=principal.actor, entity_ids=[entity_id])[0]
