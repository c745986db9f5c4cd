"""What crosses the boundary for alerts: the API's answers and the CLI's ``--json``."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from krsn.detection.models import AlertPriority, AlertSeverity, AlertStatus
from krsn.indicators.models import IndicatorType


class IncidentRef(BaseModel):
    id: uuid.UUID
    incident_number: str


class AlertRead(BaseModel):
    """An alert, with the names of what it points to."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str | None
    severity: AlertSeverity
    priority: AlertPriority
    status: AlertStatus
    indicator_id: uuid.UUID | None
    indicator_value: str | None = Field(description="The matched indicator's value.")
    indicator_type: IndicatorType | None
    rule_id: uuid.UUID | None
    rule_name: str | None = Field(
        description="The rule that raised it; null for a "
        "watchlist hit or a sighting of a known indicator."
    )
    assigned_user_id: uuid.UUID | None
    assigned_username: str | None
    triggered_at: datetime | None
    last_seen_at: datetime | None
    occurrence_count: int = Field(
        description="How many firings this alert stands for (deduplicated within the window)."
    )
    dedup_key: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_notes: str | None
    alert_data: dict[str, Any] | None = Field(
        description="What fired and on what: value, origin, where it was seen, evidence."
    )
    metadata: dict[str, Any] | None = None
    incident: IncidentRef | None = Field(None, description="The incident it is linked to.")


class AlertSort(enum.StrEnum):
    """Orders of the alert list: a field ascending, or descending with a leading '-'."""

    TRIGGERED = "triggered"
    TRIGGERED_DESC = "-triggered"
    LAST_SEEN = "last_seen"
    LAST_SEEN_DESC = "-last_seen"
    OCCURRENCES = "occurrences"
    OCCURRENCES_DESC = "-occurrences"


class AlertUpdate(BaseModel):
    """The fields of an alert an analyst changes; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    status: AlertStatus | None = Field(
        None,
        description="open or investigating (active), resolved or false_positive (closed; "
        "a closed alert may be reopened).",
    )
    priority: AlertPriority | None = None
    severity: AlertSeverity | None = None
    assigned_user_id: uuid.UUID | None = Field(
        None, description="The analyst it is assigned to; null to unassign."
    )
    resolution_notes: str | None = Field(None, max_length=20_000)


class AlertResolve(BaseModel):
    """Close an alert."""

    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(None, max_length=20_000, description="The resolution notes.")
    false_positive: bool = Field(False, description="Close it as a false positive.")
    mark_indicator_false_positive: bool = Field(
        False,
        description="Also mark the indicator's intelligence false positive (false positives "
        "only; audited as a change of the indicator).",
    )


class SuppressionRead(BaseModel):
    """An alert a whitelist item stopped, counted like an alert."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    watchlist_item_id: uuid.UUID | None
    indicator_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    value: str
    title: str
    dedup_key: str
    occurrence_count: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None
