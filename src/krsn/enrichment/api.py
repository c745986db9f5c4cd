"""REST routes of the enrichment store: enrichments of entities and indicators, and analyses.

Everyone signed in reads; analysts and admins (``IntelWriter``) add (audited).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.enrichment import service
from krsn.enrichment.schemas import AnalysisCreate, AnalysisRead, EnrichmentCreate, EnrichmentRead
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of

router = APIRouter(tags=["enrichment"], route_class=ApiRoute)


@router.post(
    "/enrichments", response_model=EnrichmentRead, status_code=201, summary="Add an enrichment"
)
def add_enrichment(
    body: EnrichmentCreate, principal: IntelWriter, session: DbSession
) -> EnrichmentRead:
    """Attach what an enricher said to one entity or one indicator."""
    row = service.add_enrichment(session, actor=principal.actor, **body.model_dump())
    return service.enrichment_read(row)


@router.get("/enrichments", response_model=Page[EnrichmentRead], summary="List enrichments")
def list_enrichments(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    entity_id: Annotated[uuid.UUID | None, Query(description="Of this entity.")] = None,
    indicator_id: Annotated[uuid.UUID | None, Query(description="Or of this indicator.")] = None,
    enricher: Annotated[str | None, Query(max_length=255)] = None,
    include_expired: Annotated[bool, Query(description="Also those past expires_at.")] = False,
) -> dict[str, Any]:
    """The enrichments of one entity or indicator, newest first."""
    result = service.page_enrichments(
        session,
        limit=limit,
        cursor=cursor,
        entity_id=entity_id,
        indicator_id=indicator_id,
        enricher=enricher,
        include_expired=include_expired,
    )
    return page_of(result, service.enrichment_read)


@router.get(
    "/enrichments/{enrichment_id}", response_model=EnrichmentRead, summary="Show an enrichment"
)
def show_enrichment(
    enrichment_id: Annotated[uuid.UUID, Path()], principal: Reader, session: DbSession
) -> EnrichmentRead:
    return service.enrichment_read(service.get_enrichment(session, enrichment_id))


@router.post("/analyses", response_model=AnalysisRead, status_code=201, summary="Add an analysis")
def add_analysis(body: AnalysisCreate, principal: IntelWriter, session: DbSession) -> AnalysisRead:
    """Store an analysis over entities: its inputs, results, metrics and insights."""
    row = service.add_analysis(session, actor=principal.actor, **body.model_dump())
    return service.analysis_read(row)


@router.get("/analyses", response_model=Page[AnalysisRead], summary="List analyses")
def list_analyses(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    entity_id: Annotated[
        uuid.UUID | None, Query(description="Only analyses with this entity among the inputs.")
    ] = None,
    analysis_type: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Analyses, newest first."""
    result = service.page_analyses(
        session, limit=limit, cursor=cursor, entity_id=entity_id, analysis_type=analysis_type
    )
    return page_of(result, service.analysis_read)


@router.get("/analyses/{analysis_id}", response_model=AnalysisRead, summary="Show an analysis")
def show_analysis(
    analysis_id: Annotated[uuid.UUID, Path(description="Its id or analysis_id.")],
    principal: Reader,
    session: DbSession,
) -> AnalysisRead:
    return service.analysis_read(service.get_analysis(session, analysis_id))
