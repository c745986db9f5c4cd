"""What crosses the boundary for sightings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SightingProblem(BaseModel):
    index: int | None = Field(description="0-based position in the batch (null: an NDJSON line).")
    value: str | None
    reason: str


class SightingHit(BaseModel):
    index: int
    value: str = Field(description="The observable as sent.")
    matched: str | None = Field(description="The stored value it matched: itself or a range.")
    indicator_id: uuid.UUID
    indicator_type: str
    severity: str | None
    threat_score: float | None = Field(description="The indicator's threat score decayed to now.")


class SightingReportRead(BaseModel):
    """What one posted batch did."""

    received: int
    rejected: int = Field(description="Items that are not sightings (listed in problems).")
    unreadable: int = Field(description="Values that are not observables (listed in problems).")
    matched: int = Field(description="Sightings of an active indicator.")
    watchlist_hits: int
    stored: int = Field(
        description="Sightings kept: those that matched an indicator or a watchlist item."
    )
    alerts_created: int
    alerts_updated: int = Field(description="Open alerts these sightings added to.")
    suppressed: int = Field(description="Alerts a whitelist item stopped (recorded).")
    problems: list[SightingProblem] = Field(description="The first 1,000 problems.")
    hits: list[SightingHit] = Field(description="The first 1,000 hits.")


class SightingRead(BaseModel):
    """A stored sighting."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    indicator_id: uuid.UUID | None
    watchlist_item_id: uuid.UUID | None
    value: str
    matched: str | None
    observed_at: datetime
    received_at: datetime | None
    host: str | None
    sensor: str | None
    log_source: str | None
    context: dict[str, Any] | None
    reported_by: uuid.UUID | None
