"""What incidents take and give over the API, in change events and in the CLI's ``--json``."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from krsn.detection.incidents.timeline import EntryKind
from krsn.detection.models import (
    AlertPriority,
    AlertSeverity,
    AlertStatus,
    IncidentRelationship,
    IncidentStatus,
)
from krsn.indicators.models import IndicatorType, Severity

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, Field(max_length=100_000)]
NoteText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)
]
Asset = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Assets = Annotated[
    list[Asset],
    Field(
        max_length=1000,
        description="What the incident touches: hosts, addresses, accounts, services.",
    ),
]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class IncidentSort(enum.StrEnum):
    """Orders of the incident list: a field ascending, or descending with a leading '-'.
    ``-severity`` puts the most severe first; incidents of one severity come newest first."""

    CREATED_DESC = "-created"
    CREATED = "created"
    UPDATED_DESC = "-updated"
    UPDATED = "updated"
    SEVERITY_DESC = "-severity"
    SEVERITY = "severity"


# --- in ---------------------------------------------------------------------------------------


class IncidentCreate(Strict):
    title: Title
    description: LongText | None = None
    severity: Severity = Severity.MEDIUM
    assigned_analyst_id: uuid.UUID | None = Field(None, description="The analyst working it.")
    affected_assets: Assets = Field(default_factory=list)


class IncidentUpdate(Strict):
    """Only the fields sent change. ``status`` moves forward (open, investigating, contained,
    resolved; steps may be skipped) or reopens a resolved incident (investigating);
    resolving needs a ``resolution_summary``, sent now or already there."""

    title: Title | None = None
    description: LongText | None = None
    severity: Severity | None = None
    status: IncidentStatus | None = None
    assigned_analyst_id: uuid.UUID | None = Field(None, description="Null unassigns it.")
    affected_assets: Assets | None = None
    resolution_summary: LongText | None = None


class NoteCreate(Strict):
    text: NoteText


class AlertLinkCreate(Strict):
    alert_id: uuid.UUID
    notes: LongText | None = None


class IndicatorLinkCreate(Strict):
    indicator_id: uuid.UUID
    relationship_type: IncidentRelationship = IncidentRelationship.RELATED
    notes: LongText | None = None


class Promotion(Strict):
    """What may differ from the alert: by default the incident takes the alert's title, a
    severity matching the alert's, and the alert's assignee."""

    title: Title | None = None
    severity: Severity | None = None
    assigned_analyst_id: uuid.UUID | None = None


# --- out --------------------------------------------------------------------------------------


class IncidentRead(BaseModel):
    id: uuid.UUID
    incident_number: str = Field(description="INC-YYYY-NNNN, unique.")
    title: str
    description: str | None
    severity: Severity
    status: IncidentStatus
    assigned_analyst_id: uuid.UUID | None
    assigned_analyst: str | None = Field(description="The assigned analyst's username.")
    affected_assets: list[str]
    resolution_summary: str | None
    created_at: datetime | None
    updated_at: datetime | None
    resolved_at: datetime | None
    alert_count: int = Field(description="Alerts linked to the incident.")
    indicator_count: int = Field(description="Indicators linked to the incident.")


class IncidentAlertRead(BaseModel):
    """An alert linked to an incident: the alert as it stands, and who linked it when."""

    alert_id: uuid.UUID
    title: str
    severity: AlertSeverity
    status: AlertStatus
    priority: AlertPriority
    linked_at: datetime | None
    linked_by: uuid.UUID | None
    notes: str | None


class IncidentIndicatorRead(BaseModel):
    """An indicator linked to an incident, how it relates, who linked it when."""

    indicator_id: uuid.UUID
    indicator_value: str
    indicator_type: IndicatorType
    relationship_type: IncidentRelationship | None
    added_at: datetime | None
    added_by: uuid.UUID | None
    notes: str | None


class IncidentDetail(IncidentRead):
    """An incident with its linked alerts and indicators, oldest link first."""

    alerts: list[IncidentAlertRead]
    indicators: list[IncidentIndicatorRead]


class TimelineActor(BaseModel):
    user_id: uuid.UUID | None
    username: str | None
    via: str | None = Field(None, description="session, api_key, cli or system.")


class TimelineEntry(BaseModel):
    at: datetime
    actor: TimelineActor
    kind: EntryKind
    details: dict[str, Any]
