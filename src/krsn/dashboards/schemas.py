"""What the dashboard summary sends: counts by day, severity and status, feed health, the
most linked actors and the platform's totals."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from krsn.detection.models import AlertSeverity, IncidentStatus
from krsn.indicators.models import IndicatorType


class IndicatorsOnDay(BaseModel):
    day: date = Field(description="A UTC calendar day.")
    type: IndicatorType
    count: int = Field(description="Indicators of this type first seen that day.")


class SourceOnDay(BaseModel):
    day: date = Field(description="A UTC calendar day.")
    source: str = Field(description="The threat source's name.")
    count: int = Field(
        description="Indicators the source reported for the first time that day (an "
        "indicator it reports again later is not counted again)."
    )


class FeedHealth(BaseModel):
    id: uuid.UUID
    name: str
    enabled: bool
    last_run: datetime | None = Field(
        description="When the latest run (or file upload) started; null before the first."
    )
    last_status: str | None = Field(description="ok, not_modified or failed.")
    last_error: str | None = Field(description="Why the latest run failed.")
    last_indicators: int | None = Field(
        description="Indicators the latest run stored: new ones plus known ones reported again."
    )
    next_run: datetime | None = Field(description="When the scheduler runs it next.")


class ActorIndicators(BaseModel):
    id: uuid.UUID
    name: str
    indicators: int = Field(description="Indicators linked to the actor.")


class Totals(BaseModel):
    indicators: int
    alerts_open: int = Field(description="Alerts neither resolved nor false positives.")
    incidents_open: int = Field(description="Incidents not resolved.")
    feeds: int
    entities: int = Field(description="OSINT entities.")


class DashboardSummary(BaseModel):
    """The home page's figures; each list holds only days and groups that have a count."""

    days: int = Field(description="Length of the window in days, today (UTC) included.")
    since: date = Field(description="First day of the window (UTC).")
    indicators_per_day: list[IndicatorsOnDay] = Field(description="By day, then type.")
    indicators_per_source: list[SourceOnDay] = Field(description="By day, then source name.")
    alerts_open_by_severity: dict[AlertSeverity, int] = Field(
        description="Open alerts (neither resolved nor false positives) by severity; "
        "every severity is present."
    )
    incidents_by_status: dict[IncidentStatus, int] = Field(
        description="Incidents by status; every status is present."
    )
    feeds: list[FeedHealth] = Field(description="Every feed, by name.")
    top_actors: list[ActorIndicators] = Field(
        description="Up to 10 threat actors with the most linked indicators, most first."
    )
    totals: Totals
