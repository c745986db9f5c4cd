"""What the enrichment store takes and gives: enrichments of entities or indicators
(``enriched_data``) and analysis results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from krsn.enrichment.models import EnrichmentType
from krsn.schemas import UtcDateTime

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class EnrichmentCreate(Strict):
    """Context an enricher adds to one entity or one indicator."""

    entity_id: uuid.UUID | None = None
    indicator_id: uuid.UUID | None = None
    enrichment_type: EnrichmentType
    enricher: Label = Field(description="What produced it, e.g. 'rdap' or 'geoip'.")
    version: Annotated[str, StringConstraints(max_length=100)] | None = None
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    data: Any = Field(description="What the enricher said, as JSON.")
    expires_at: UtcDateTime | None = Field(None, description="When it is stale; null: never.")
    collection_item_id: uuid.UUID | None = None


class EnrichmentRead(BaseModel):
    id: uuid.UUID
    entity_id: uuid.UUID | None
    indicator_id: uuid.UUID | None
    collection_item_id: uuid.UUID | None
    enrichment_type: EnrichmentType
    enricher: str | None
    version: str | None
    confidence: float | None
    data: Any
    enriched_at: datetime | None
    expires_at: datetime | None
    expired: bool


class AnalysisCreate(Strict):
    """The outcome of an analysis over entities."""

    analysis_type: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    input_entities: Annotated[list[uuid.UUID], Field(max_length=10_000)] = []
    results: Any = None
    metrics: dict[str, Any] | None = None
    insights: Annotated[list[Annotated[str, Field(max_length=10_000)]], Field(max_length=1000)] = []


class AnalysisRead(BaseModel):
    id: uuid.UUID
    analysis_id: uuid.UUID
    analysis_type: str
    input_entities: list[uuid.UUID]
    results: Any
    metrics: dict[str, Any] | None
    insights: list[str]
    created_by: uuid.UUID | None
    created_at: datetime | None
