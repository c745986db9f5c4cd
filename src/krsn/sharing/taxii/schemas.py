"""What the TAXII side hands to the command line (``--json``): our collections with their
URLs, and what a pull from a remote collection did."""

from __future__ import annotations

from pydantic import BaseModel, Field

from krsn.sharing.stix.schemas import IndicatorCounts, TypeCounts


class CollectionRead(BaseModel):
    """One of our TAXII collections, where a client finds it."""

    id: str
    title: str
    description: str | None = None
    can_read: bool
    can_write: bool
    tlp: str | None = None
    url: str
    """The collection's URL; its objects are at ``objects/`` under it."""


class PullSummary(BaseModel):
    """What ``krsn taxii pull`` read from a remote collection and imported."""

    url: str
    collection: str
    added_after: str | None = None
    pages: int = 0
    objects: int = 0
    types: dict[str, TypeCounts] = Field(default_factory=dict)
    total: TypeCounts = Field(default_factory=TypeCounts)
    indicators: IndicatorCounts = Field(default_factory=IndicatorCounts)
    rejected: int = 0
    """Objects the import refused (each page's errors are logged)."""
    date_added_last: str | None = None
    """The server's ``X-TAXII-Date-Added-Last`` of the last page: pass it as
    ``--added-after`` to read only what is added from now on."""
    duration_s: float = 0.0
