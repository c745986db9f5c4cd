"""What collections take and give over the API and the command line (``--json``)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from krsn.osint.models import CollectionStatus, CollectorType

MAX_EVERY_MINUTES = 525_600
"""The longest schedule period: a year."""

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    Field(description="What the collection is about; several may share a name."),
]
Description = Annotated[str, Field(max_length=100_000)]
CollectorName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(
        description="The installed collector that runs it, by its registered name "
        "('krsn collections types' lists them); null: the built-in of collector_type."
    ),
]
Config = Annotated[
    dict[str, Any],
    Field(
        description="The collector's settings, checked by its Config model "
        "('krsn collections types' shows each one's fields)."
    ),
]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Schedule(Strict):
    """When a collection runs by itself: every ``every_minutes`` after its last start."""

    every_minutes: int = Field(ge=1, le=MAX_EVERY_MINUTES)


class CollectionSort(enum.StrEnum):
    """Orders of the collections: a field ascending, or descending with a leading '-'."""

    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created"
    CREATED_DESC = "-created"
    STARTED = "started"
    STARTED_DESC = "-started"


class CollectionCreate(Strict):
    name: Name
    description: Description | None = None
    collector_type: CollectorType | None = Field(
        None, description="The category; may be left out when collector is given (its category)."
    )
    collector: CollectorName | None = None
    config: Config = Field(default_factory=dict)
    schedule: Schedule | None = Field(None, description="Null: runs only when asked.")
    source_id: uuid.UUID | None = Field(
        None,
        description="The OSINT source runs go through (its rate limit, credentials, proxy); "
        "null: the collector's defaults.",
    )


class CollectionUpdate(Strict):
    name: Name | None = None
    description: Description | None = None
    collector: CollectorName | None = Field(
        None, description="Another collector of the same category; null: the built-in."
    )
    config: Config | None = Field(None, description="Replaces the whole config, checked again.")
    schedule: Schedule | None = Field(None, description="Null stops the schedule.")
    source_id: uuid.UUID | None = None


class CollectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    collector_type: CollectorType
    collector: str | None = Field(
        description="The registered collector that runs it; null: the built-in of collector_type."
    )
    config: dict[str, Any]
    schedule: dict[str, Any] | None
    source_id: uuid.UUID | None
    user_id: uuid.UUID
    status: CollectionStatus | None
    progress: Decimal | None = Field(description="0 to 100 during and after a run.")
    items_collected: int | None = Field(description="New items the last run stored.")
    error_message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


class CollectionState(BaseModel):
    """Where a collection's run stands: what ``status`` shows and ``--watch`` follows."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    status: CollectionStatus | None
    progress: Decimal | None
    items_collected: int | None
    error_message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime | None = Field(
        description="While running, moves at least every heartbeat: a run whose time stops "
        "moving was left by a process that died, and is marked failed."
    )


class ItemRead(BaseModel):
    """One collected item."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    collection_id: uuid.UUID
    source_id: uuid.UUID | None
    item_type: str | None
    hash: str | None
    raw_data: Any
    is_processed: bool | None
    collected_at: datetime | None


class ItemSort(enum.StrEnum):
    COLLECTED = "collected"
    COLLECTED_DESC = "-collected"


class CollectorInfo(BaseModel):
    """One installed collector: its name, category, what it does and its Config's schema."""

    name: str = Field(description="What a collection's collector field names.")
    collector_type: str = Field(description="The category it serves.")
    default: bool = Field(
        description="Whether it runs the collections of its category that name no collector."
    )
    description: str
    config_schema: dict[str, Any]
    module: str | None = Field(None, description="Where the class comes from (a plugin's module).")


class RunOutcome(BaseModel):
    """What one run did."""

    collection_id: uuid.UUID
    status: CollectionStatus
    items_collected: int = Field(description="New items stored.")
    records: int = Field(description="Records the collector yielded.")
    duplicates: int = Field(description="Records already stored by an earlier run.")
    entities: int
    documents: int
    error_message: str | None = None
    duration_s: float


class UploadedFile(BaseModel):
    """What became of one uploaded file."""

    filename: str
    mime_type: str
    size: int
    title: str | None
    item_id: uuid.UUID | None = Field(description="Null when the same file was stored before.")
    duplicate: bool


class UploadOutcome(BaseModel):
    collection_id: uuid.UUID
    files: list[UploadedFile]
    items_collected: int = Field(description="New items from these files.")
    entities: int
    documents: int
