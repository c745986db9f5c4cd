"""What OSINT sources take and give over the API and the command line (``--json``)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from krsn.osint.models import CollectorType

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    Field(description="Unique in any case."),
]
BaseUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
RateLimit = Annotated[
    int,
    Field(
        ge=1,
        le=60_000,
        description="Requests per minute a run through this source may send.",
    ),
]
Reliability = Annotated[
    Decimal,
    Field(
        ge=0,
        le=1,
        max_digits=3,
        decimal_places=2,
        description="How far the source is trusted, 0 to 1; it weighs in risk scores.",
    ),
]
Credentials = Annotated[
    dict[str, Any],
    Field(
        description="Secrets the collector sends (an API token, a user name and password); "
        "stored encrypted and never shown again, only whether there are any."
    ),
]
SourceConfig = Annotated[
    dict[str, Any],
    Field(
        description="Settings the collector reads: 'proxy' (a SOCKS URL such as "
        "socks5h://127.0.0.1:9050 for Tor), 'allow_private' (reach private addresses), "
        "'allowed_hosts' (names or CIDR ranges allowed despite the private-address rule), "
        "'user_agent'."
    ),
]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class SourceSort(enum.StrEnum):
    """Orders of the sources: a field ascending, or descending with a leading '-'."""

    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created"
    CREATED_DESC = "-created"


class SourceCreate(Strict):
    name: Name
    source_type: CollectorType = Field(description="The collector type the source serves.")
    base_url: BaseUrl | None = None
    credentials: Credentials | None = None
    config: SourceConfig | None = None
    rate_limit: RateLimit = 60
    reliability_score: Reliability | None = None
    is_active: bool = Field(True, description="Collections cannot run through an inactive one.")


class SourceUpdate(Strict):
    name: Name | None = None
    source_type: CollectorType | None = None
    base_url: BaseUrl | None = None
    credentials: Credentials | None = Field(
        None, description="Replace the secrets; null removes them; leave out to keep them."
    )
    config: SourceConfig | None = None
    rate_limit: RateLimit | None = None
    reliability_score: Reliability | None = None
    is_active: bool | None = None


class SourceRead(BaseModel):
    """A source as shown: its secrets never, only whether it has any."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    source_type: str
    base_url: str | None
    config: dict[str, Any] | None
    rate_limit: int | None
    reliability_score: Decimal | None
    is_active: bool | None
    has_credentials: bool
    created_at: datetime | None
    updated_at: datetime | None
