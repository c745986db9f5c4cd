"""The enrichment store: context attached to entities or indicators, and analysis results.

Enrichments are written by enrichers and analysts (audited), listed by target newest first
(expired ones on request) and read one by one. Analyses keep their input entities, results,
metrics and insights; an entity's analyses are those naming it among their inputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, Text, cast, func, or_, select
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.db.types import utcnow
from krsn.enrichment.models import EnrichmentData, EnrichmentType
from krsn.enrichment.schemas import AnalysisRead, EnrichmentRead
from krsn.errors import Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.osint.models import AnalysisResult, CollectionItem, Entity


def enrichment_read(row: EnrichmentData, *, now: datetime | None = None) -> EnrichmentRead:
    """An enrichment as the API shows it."""
    moment = now or utcnow()
    return EnrichmentRead(
        id=row.id,
        entity_id=row.entity_id,
        indicator_id=row.indicator_id,
        collection_item_id=row.collection_item_id,
        enrichment_type=row.enrichment_type,
        enricher=row.enricher,
        version=row.version,
        confidence=None if row.confidence is None else float(row.confidence),
        data=row.enrichment_data,
        enriched_at=row.enriched_at,
        expires_at=row.expires_at,
        expired=row.expires_at is not None and row.expires_at <= moment,
    )


def analysis_read(row: AnalysisResult) -> AnalysisRead:
    """An analysis result as the API shows it."""
    return AnalysisRead(
        id=row.id,
        analysis_id=row.analysis_id,
        analysis_type=row.analysis_type,
        input_entities=[uuid.UUID(i) for i in row.input_entities or []],
        results=row.results,
        metrics=row.metrics,
        insights=list(row.insights or []),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _target(session: Session, entity_id: uuid.UUID | None, indicator_id: uuid.UUID | None) -> None:
    if (entity_id is None) == (indicator_id is None):
        raise Invalid("target", "name exactly one of an entity or an indicator")
    if entity_id is not None and session.get(Entity, entity_id) is None:
        raise NotFound(f"No entity {entity_id}.")
    if indicator_id is not None and session.get(ThreatIndicator, indicator_id) is None:
        raise NotFound(f"No indicator {indicator_id}.")


def add_enrichment(
    session: Session,
    *,
    actor: Actor,
    enrichment_type: EnrichmentType,
    enricher: str,
    data: Any,
    entity_id: uuid.UUID | None = None,
    indicator_id: uuid.UUID | None = None,
    version: str | None = None,
    confidence: float | None = None,
    expires_at: datetime | None = None,
    collection_item_id: uuid.UUID | None = None,
) -> EnrichmentData:
    """Attach what an enricher said to one entity or one indicator (audited)."""
    _target(session, entity_id, indicator_id)
    if collection_item_id is not None and session.get(CollectionItem, collection_item_id) is None:
        raise NotFound(f"No collection item {collection_item_id}.")
    row = EnrichmentData(
        entity_id=entity_id,
        indicator_id=indicator_id,
        collection_item_id=collection_item_id,
        enrichment_type=EnrichmentType(enrichment_type),
        enrichment_data=data,
        enricher=enricher,
        version=version,
        confidence=None if confidence is None else Decimal(f"{confidence:.2f}"),
        expires_at=expires_at,
        enriched_at=utcnow(),
        metadata_={"enricher": enricher, "version": version, "confidence": confidence},
    )
    audit.created(
        session,
        row,
        actor=actor,
        resource_type="enrichment",
        details={"entity_id": entity_id, "indicator_id": indicator_id, "enricher": enricher},
    )
    return row


def get_enrichment(session: Session, enrichment_id: uuid.UUID) -> EnrichmentData:
    """One enrichment, or NotFound."""
    row = session.get(EnrichmentData, enrichment_id)
    if row is None:
        raise NotFound(f"No enrichment {enrichment_id}.")
    return row


def page_enrichments(
    session: Session,
    *,
    limit: int,
    cursor: str | None = None,
    entity_id: uuid.UUID | None = None,
    indicator_id: uuid.UUID | None = None,
    enricher: str | None = None,
    include_expired: bool = False,
    now: datetime | None = None,
) -> PageResult[EnrichmentData]:
    """The enrichments of one entity or indicator, newest first."""
    _target(session, entity_id, indicator_id)
    statement = select(EnrichmentData)
    if entity_id is not None:
        statement = statement.where(EnrichmentData.entity_id == entity_id)
    else:
        statement = statement.where(EnrichmentData.indicator_id == indicator_id)
    if enricher:
        statement = statement.where(EnrichmentData.enricher == enricher)
    if not include_expired:
        moment = now or utcnow()
        statement = statement.where(
            or_(EnrichmentData.expires_at.is_(None), EnrichmentData.expires_at > moment)
        )
    return paginate(
        session,
        statement,
        order_by=[EnrichmentData.enriched_at, EnrichmentData.id],
        limit=limit,
        cursor=cursor,
    )


def add_analysis(
    session: Session,
    *,
    actor: Actor,
    analysis_type: str,
    input_entities: Sequence[uuid.UUID] = (),
    results: Any = None,
    metrics: dict[str, Any] | None = None,
    insights: Sequence[str] = (),
) -> AnalysisResult:
    """Store an analysis over entities (audited); every input must exist."""
    wanted = list(dict.fromkeys(input_entities))
    if wanted:
        found = set(session.scalars(select(Entity.id).where(Entity.id.in_(wanted))))
        missing = [str(i) for i in wanted if i not in found]
        if missing:
            raise Invalid("input_entities", f"no such entities: {', '.join(missing[:10])}")
    row = AnalysisResult(
        analysis_id=uuid.uuid4(),
        analysis_type=analysis_type,
        input_entities=[str(i) for i in wanted],
        results=results,
        metrics=metrics,
        insights=list(insights),
        created_by=actor.user_id,
    )
    audit.created(session, row, actor=actor, resource_type="analysis")
    return row


def get_analysis(session: Session, analysis_id: uuid.UUID) -> AnalysisResult:
    """One analysis by its id or its analysis_id, or NotFound."""
    row = session.scalars(
        select(AnalysisResult).where(
            or_(AnalysisResult.id == analysis_id, AnalysisResult.analysis_id == analysis_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No analysis {analysis_id}.")
    return row


def page_analyses(
    session: Session,
    *,
    limit: int,
    cursor: str | None = None,
    entity_id: uuid.UUID | None = None,
    analysis_type: str | None = None,
) -> PageResult[AnalysisResult]:
    """Analyses, newest first; with ``entity_id`` those that took the entity as an input."""
    statement = select(AnalysisResult)
    if analysis_type:
        statement = statement.where(AnalysisResult.analysis_type == analysis_type)
    if entity_id is not None:
        statement = statement.where(_names_entity(session, str(entity_id)))
    return paginate(
        session,
        statement,
        order_by=[AnalysisResult.created_at, AnalysisResult.id],
        limit=limit,
        cursor=cursor,
    )


def _names_entity(session: Session, entity: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        # Array containment uses the GIN index on input_entities.
        return AnalysisResult.input_entities.op("@>")(cast(pg_array([entity]), ARRAY(Text)))
    each = func.json_each(AnalysisResult.input_entities).table_valued("value")
    return select(each.c.value).where(each.c.value == entity).exists()
