"""What crosses the boundary for indicators."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from krsn.db.types import utcnow
from krsn.indicators import scoring
from krsn.indicators.lookup import MAX_LOOKUP
from krsn.indicators.models import IndicatorType, Severity
from krsn.indicators.normalise import Kind
from krsn.sharing.tlp import indicator_tlp, normalise_input


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
    tlp: str | None = Field(
        None, description="The TLP 2.0 marking (metadata.tlp, read as a level); null if none."
    )
    decayed_threat_score: float | None = Field(
        None,
        description="The threat score aged to now: whole for a tenth of the type's lifetime "
        "unseen, then falling linearly to 0 at its end (see the scoring model).",
    )

    @model_validator(mode="after")
    def _decay(self) -> IndicatorRead:
        if self.tlp is None:
            self.tlp = indicator_tlp(self.metadata)
        if self.decayed_threat_score is None and self.threat_score is not None:
            stored = (self.metadata or {}).get("kind")
            kind = Kind(stored) if stored in {k.value for k in Kind} else None
            if kind is not None and self.last_seen_at is not None:
                self.decayed_threat_score = scoring.decayed_score(
                    kind, self.threat_score, last_seen=self.last_seen_at, now=utcnow()
                )
        return self


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
        max_length=MAX_LOOKUP,
        description="Observables: IPs, domains, URLs, hashes, e-mails; defanged is fine.",
    )


class LookupIndicatorRead(BaseModel):
    """What a lookup tells about a matched indicator; ``GET /indicators/{id}`` has the rest."""

    id: uuid.UUID
    indicator_value: str
    indicator_type: IndicatorType
    severity: Severity | None
    confidence_score: float | None
    threat_score: float | None
    decayed_threat_score: float | None = Field(
        description="The threat score aged to now (see IndicatorRead)."
    )
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    tags: list[str]
    malware_families: list[str]


class LookupMatch(BaseModel):
    value: str = Field(description="The observable as it was sent.")
    matched: str = Field(description="The stored value: the same, or a range holding the IP.")
    indicator: LookupIndicatorRead


class LookupResponse(BaseModel):
    matches: list[LookupMatch] = Field(
        description="In the order of the values sent; for an IP, its own indicator first, "
        "then the ranges holding it, the widest first. Only active indicators match."
    )
    unreadable: list[str] = Field(description="Values that are not indicators of any type.")


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class IndicatorUpdate(BaseModel):
    """An analyst's edits; every field is optional and only the ones given change."""

    model_config = ConfigDict(extra="forbid")

    false_positive: bool | None = Field(
        None,
        description="True marks it a false positive (inactive, its records too); false undoes it.",
    )
    tags_add: list[Tag] | None = Field(None, max_length=100, description="Analyst tags to add.")
    tags_remove: list[Tag] | None = Field(
        None, max_length=100, description="Analyst tags to remove (feed tags stay)."
    )
    confidence_override: float | None = Field(
        None,
        ge=0,
        le=100,
        allow_inf_nan=False,
        description="The analyst's confidence, used instead of the sources' one; null clears it.",
    )
    status: Literal["verified", "processed"] | None = Field(
        None, description="The status of the indicator's intelligence records."
    )
    tlp: (
        Annotated[
            Literal["clear", "green", "amber", "amber+strict", "red"],
            BeforeValidator(normalise_input),
        ]
        | None
    ) = Field(
        None,
        description="The TLP 2.0 marking (clear, green, amber, amber+strict, red; "
        "'TLP:RED' reads too), kept in metadata.tlp; null unmarks it. It decides what "
        "exports, TAXII and MISP feeds release to whom.",
    )


class IndicatorSort(enum.StrEnum):
    """The orders of an indicator search: a field ascending, or descending with a leading "-".

    Indicators missing the sorted time or score come last either way.
    """

    UPDATED_DESC = "-updated"
    UPDATED = "updated"
    LAST_SEEN_DESC = "-last_seen"
    LAST_SEEN = "last_seen"
    FIRST_SEEN_DESC = "-first_seen"
    FIRST_SEEN = "first_seen"
    THREAT_SCORE_DESC = "-threat_score"
    THREAT_SCORE = "threat_score"
    CONFIDENCE_DESC = "-confidence"
    CONFIDENCE = "confidence"
