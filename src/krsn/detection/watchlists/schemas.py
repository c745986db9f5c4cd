"""What watchlists take and give over the API and the command line (``--json``)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from krsn.detection.models import WatchlistItemType, WatchlistType
from krsn.schemas import UtcDateTime

MAX_ITEMS = 10_000
"""Items one request may add."""
MAX_REJECTIONS = 1_000
"""Refused values an answer lists one by one; the count covers them all."""

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    Field(description="Unique in any case."),
]
Description = Annotated[str, Field(max_length=100_000)]
Notes = Annotated[str, Field(max_length=10_000)]
Value = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="An IP address, CIDR range, domain, URL, hash or e-mail address; defanged "
        "input (hxxp://evil[.]com) is read too. It is stored canonical.",
    ),
]
Expiry = Annotated[
    UtcDateTime,
    Field(description="When the item stops matching (and purge may delete it); null: never."),
]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class WatchlistSort(enum.StrEnum):
    """Orders of the watchlists: a field ascending, or descending with a leading '-'."""

    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created"
    CREATED_DESC = "-created"
    UPDATED = "updated"
    UPDATED_DESC = "-updated"


class ItemSort(enum.StrEnum):
    """Orders of a list's items: a field ascending, or descending with a leading '-'."""

    VALUE = "value"
    VALUE_DESC = "-value"
    ADDED = "added"
    ADDED_DESC = "-added"


class WatchlistCreate(Strict):
    name: Name
    description: Description | None = None
    list_type: WatchlistType = Field(
        description="What the list takes and does: ip_blacklist (IP addresses and CIDR "
        "ranges), domain_blacklist (domains, URLs and e-mail addresses), hash_whitelist "
        "(file hashes; a hit suppresses alerts instead of raising them), custom (any value)."
    )
    is_active: bool = Field(True, description="An inactive list keeps its items but never matches.")


class WatchlistUpdate(Strict):
    name: Name | None = None
    description: Description | None = None
    list_type: WatchlistType | None = Field(
        None, description="Allowed only when every item of the list fits the new type."
    )
    is_active: bool | None = None


class WatchlistRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    list_type: WatchlistType
    is_active: bool
    item_count: int = Field(description="How many items the list holds, expired ones included.")
    created_by: uuid.UUID | None
    created_at: datetime | None
    updated_at: datetime | None


class ItemIn(Strict):
    """One value to add, with its own notes and expiry."""

    value: Value
    notes: Notes | None = Field(
        None, description="Kept on the item; a re-added value without notes keeps its own."
    )
    expires_at: Expiry | None = None


class ItemsAdd(Strict):
    """Values to add; one already on the list takes the notes and expiry given here."""

    items: Annotated[list[ItemIn | Value], Field(min_length=1, max_length=MAX_ITEMS)] = Field(
        description=f"Up to {MAX_ITEMS:,} values: plain strings, or objects with their own "
        "notes and expiry."
    )
    notes: Notes | None = Field(None, description="Notes of the items that give none.")
    expires_at: Expiry | None = Field(
        None, description="Expiry of the items that give none; null: they never expire."
    )


class CollectionImport(Strict):
    """Add the indicators of an IOC collection."""

    collection_id: uuid.UUID = Field(description="An IOC collection you may see.")
    notes: Notes | None = None
    expires_at: Expiry | None = None


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    watchlist_id: uuid.UUID
    item_value: str = Field(description="The value as stored: canonical.")
    item_type: WatchlistItemType
    notes: str | None
    added_at: datetime | None
    added_by: uuid.UUID | None
    expires_at: datetime | None
    expired: bool = Field(False, description="Past its expiry: it no longer matches.")


class Rejection(BaseModel):
    """A value that was not added, and why."""

    value: str
    reason: str
    line: int | None = Field(None, description="Its line in an imported file, from 1.")


class ItemsChange(BaseModel):
    """What adding or importing items did. ``added + updated + unchanged + rejected`` is
    the number of values read; a value given twice counts as unchanged the second time."""

    added: int = Field(description="Values new to the list.")
    updated: int = Field(description="Values already there whose notes or expiry changed.")
    unchanged: int = Field(description="Values already there, left as they were.")
    rejected: int = Field(description="Values refused: unreadable, or not of the list's type.")
    rejections: list[Rejection] = Field(
        description=f"The refused values with the reason, the first {MAX_REJECTIONS:,}."
    )
    item_count: int = Field(description="How many items the list holds now.")


class ItemsRemoved(BaseModel):
    """What removing values did."""

    removed: int
    not_found: list[str] = Field(description="Canonical values the list did not hold.")
    rejections: list[Rejection] = Field(description="Values that could not be read.")
    item_count: int


class CheckHit(BaseModel):
    """An item of an active list that holds or covers the value."""

    watchlist_id: uuid.UUID
    watchlist_name: str
    list_type: WatchlistType
    effect: Literal["alert", "suppress"] = Field(
        description="A blacklist or custom item raises alerts; a whitelist item suppresses them."
    )
    item: ItemRead


class WatchlistCheck(BaseModel):
    """Which active lists hold or cover a value (the same value, a parent domain, a range
    holding the address, a URL's host, an e-mail's domain), with the item."""

    value: str
    canonical: str
    kind: str
    hits: list[CheckHit]


class PurgeResult(BaseModel):
    purged: int = Field(description="Expired items deleted.")
