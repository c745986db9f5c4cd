"""What crosses the boundary for threat correlations: the API's answers and bodies, and the
CLI's ``--json``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from krsn.detection.models import CorrelationType
from krsn.indicators.models import IndicatorType
from krsn.schemas import UtcDateTime

MAX_DISCOVER_IDS = 10_000
"""Indicator ids one discovery request may name."""

Notes = Annotated[str, Field(max_length=100_000)]


class IndicatorBrief(BaseModel):
    """One side of a correlation: the indicator's id, value and type."""

    id: uuid.UUID
    value: str
    type: IndicatorType


class CorrelationRead(BaseModel):
    """A correlation between two indicators, with its score, evidence and the analyst's
    verdict."""

    id: uuid.UUID
    correlation_type: CorrelationType
    primary_indicator: IndicatorBrief = Field(
        description="The domain of an ip_domain pair, the hash of a hash_ip pair; for "
        "temporal and behavioral pairs, the indicator with the smaller id."
    )
    related_indicator: IndicatorBrief
    correlation_score: float | None = Field(description="0 to 100: how strong the evidence is.")
    correlation_data: dict[str, Any] | None = Field(
        description="The evidence: each piece with its kind, strength (0 to 1) and what it "
        "rests on (records, events, reports, DNS rows, first-seen times, shared values)."
    )
    rule_id: uuid.UUID | None
    discovered_at: datetime | None
    is_verified: bool
    analyst_notes: str | None


class CorrelationUpdate(BaseModel):
    """An analyst's verdict: only the fields sent change; ``analyst_notes: null`` clears
    the notes."""

    model_config = ConfigDict(extra="forbid")

    is_verified: bool | None = None
    analyst_notes: Notes | None = None

    @model_validator(mode="after")
    def _something(self) -> CorrelationUpdate:
        if not self.model_fields_set:
            raise ValueError("send is_verified, analyst_notes or both")
        if "is_verified" in self.model_fields_set and self.is_verified is None:
            raise ValueError("is_verified must be true or false")
        return self


class DiscoverRequest(BaseModel):
    """What to discover: the correlations of these indicators, of what changed since a time
    (both: those of these indicators that changed since then), or, with neither, of
    everything."""

    model_config = ConfigDict(extra="forbid")

    since: UtcDateTime | None = None
    indicator_ids: Annotated[list[uuid.UUID], Field(max_length=MAX_DISCOVER_IDS)] | None = None


class SkippedGroupRead(BaseModel):
    correlation_type: str
    kind: str = Field(
        description="record, object, event, report, first_seen (a burst of a source's "
        "indicators), malware_family, tag, campaign or actor."
    )
    key: str
    size: int = Field(description="How many indicators it holds.")


class DiscoveryReportRead(BaseModel):
    """What one discovery did, counted per correlation type."""

    scope: str = Field(description="all, since or indicators.")
    since: datetime | None
    indicators: int | None = Field(description="Indicators in scope; null for a full run.")
    found: dict[str, int] = Field(description="Pairs with evidence, per type.")
    created: dict[str, int]
    updated: dict[str, int] = Field(description="Known pairs whose score or evidence changed.")
    unchanged: dict[str, int]
    skipped: list[SkippedGroupRead] = Field(
        description="Groups too large to be evidence (the first 50)."
    )
    skipped_total: int
    weak: int = Field(
        description="Shared values too widespread to be evidence, yet under the cap: unused."
    )
    duration_s: float
