"""What crosses the boundary for indicators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from krsn.indicators.models import IndicatorType, Severity


class IndicatorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    indicator_value: str
    indicator_type: IndicatorType
    severity: Severity | None
    confidence_score: float | None
    threat_score: float | None
    is_active: bool
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    metadata: dict[str, Any] | None = Field(None, validation_alias="metadata_")


class IntelligenceRead(BaseModel):
    id: str
    source: str | None
    status: str
    source_confidence: float | None
    ingested_at: datetime | None
    processed_data: Any
    raw_data: Any


class IndicatorDetail(BaseModel):
    indicator: IndicatorRead
    intelligence: list[IntelligenceRead]


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[str] = Field(
        min_length=1,
        max_length=10_000,
        description="Observables: IPs, domains, URLs, hashes, e-mails.",
    )


class LookupMatch(BaseModel):
    value: str
    matched: str = Field(description="The stored value: the same, or a range holding the IP.")
    indicator: IndicatorRead


class LookupResponse(BaseModel):
    matches: list[LookupMatch]
    unreadable: list[str] = Field(description="Values that are not indicators of any type.")
