"""What entities take and give over the API and the command line (``--json``)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from krsn.osint.models import EntityType, RiskLevel


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class EntitySort(enum.StrEnum):
    """Orders of the entity list: a field ascending, or descending with a leading '-'."""

    RISK = "risk"
    RISK_DESC = "-risk"
    NAME = "name"
    NAME_DESC = "-name"
    LAST_SEEN = "last_seen"
    LAST_SEEN_DESC = "-last_seen"
    FIRST_SEEN = "first_seen"
    FIRST_SEEN_DESC = "-first_seen"


class EntityRead(BaseModel):
    """An entity as lists show it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    entity_type: EntityType
    name: str
    normalized_name: str | None
    risk_score: int | None
    risk_level: RiskLevel
    confidence: float | None
    tags: list[str] | None
    is_verified: bool | None
    indicator_id: uuid.UUID | None
    first_seen: datetime | None
    last_seen: datetime | None


class SourceLink(BaseModel):
    """One item an entity was found in, and how."""

    id: uuid.UUID = Field(description="The entity_sources row: what `split` moves.")
    collection_item_id: uuid.UUID
    collection_id: uuid.UUID
    source_id: uuid.UUID | None
    source_name: str | None
    item_type: str | None
    confidence: float | None
    extraction_method: str | None
    collected_at: datetime | None


class LinkedIndicator(BaseModel):
    """The threat indicator with the entity's type and value."""

    id: uuid.UUID
    indicator_type: str
    value: str
    threat_score: float | None
    severity: str | None
    is_active: bool


class RiskFactor(BaseModel):
    """One factor of a computation: ``contribution = weight × value``."""

    factor: str
    weight: int
    value: float
    contribution: float
    evidence: Any = None


class RiskRead(BaseModel):
    """One computation of an entity's risk, with its reasons."""

    id: uuid.UUID
    score: int
    level: RiskLevel | None
    factors: list[RiskFactor]
    calculation_method: str | None
    calculated_by: uuid.UUID | None
    calculated_at: datetime | None


class AliasRead(BaseModel):
    """A name the entity is found by."""

    normalized_name: str
    name: str
    origin: str


class EntityDetail(EntityRead):
    """An entity with where it was found, its indicator, aliases, risk history, enrichments."""

    properties: dict[str, Any] | None
    metadata: dict[str, Any] | None
    aliases: list[AliasRead]
    source_count: int
    sources: list[SourceLink]
    indicator: LinkedIndicator | None
    risk_history: list[RiskRead]
    enrichments: list[dict[str, Any]]


class MergeRequest(Strict):
    """Merge ``merged`` into ``survivor``."""

    survivor: uuid.UUID
    merged: Annotated[list[uuid.UUID], Field(min_length=1, max_length=100)]


class SplitRequest(Strict):
    """Move the chosen source links of an entity to a new entity."""

    sources: Annotated[
        list[uuid.UUID],
        Field(min_length=1, max_length=10_000, description="entity_sources ids to move."),
    ]
    name: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
        Field(description="The new entity's name; by default the original's."),
    ] = None


class SplitResult(BaseModel):
    original: EntityRead
    created: EntityRead
    moved_sources: int


class MergeResult(BaseModel):
    survivor: EntityRead
    merged: list[uuid.UUID]
    moved_sources: int
    moved_edges: int


class RescoreRequest(Strict):
    """Entities to rescore; empty with ``all`` rescoring every entity."""

    entity_ids: Annotated[list[uuid.UUID], Field(max_length=10_000)] = []
    all: bool = False


class RescoreResult(BaseModel):
    rescored: int
    scores: list[RiskRead] = []
