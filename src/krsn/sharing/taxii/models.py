"""What the TAXII server keeps: the status of each ``POST objects``, and the indexes it pages by.

A status row is written once, when the envelope has been imported (we import synchronously,
so every status is ``complete`` and nothing is pending); ``GET status/{id}`` reads it back
for its creator and admins.

The two indexes below belong to other domains' tables but serve only TAXII: a collection's
objects page in the order they were added (``collection_indicators.added_at``, then the
indicator id) and the "all indicators" collection in the order indicators last changed
(``threat_indicators.updated_at``, then id). Whole batches of ingestion share one timestamp,
so the id must be in the index too or every page would sort the whole batch again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, created_at_column, user_ref, uuid_pk
from krsn.db.types import JSONType, UTCDateTime
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.models import CollectionIndicator


class TaxiiStatus(Base):
    """The outcome of one ``POST objects``: counts, and each object's id and version."""

    __tablename__ = "taxii_status"
    __table_args__ = (
        Index("idx_taxii_status_created_by", "created_by"),
        Index("idx_taxii_status_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # A TAXII collection id: an IOC collection's, or the fixed one of every indicator.
    collection_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    request_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    total_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    success_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failure_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    pending_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    successes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    failures: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    pendings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    created_by: Mapped[uuid.UUID | None] = user_ref()
    created_at: Mapped[datetime] = created_at_column()


COLLECTION_PAGE_INDEX = Index(
    "idx_collection_indicators_taxii_page",
    CollectionIndicator.collection_id,
    CollectionIndicator.added_at,
    CollectionIndicator.indicator_id,
)
INDICATOR_PAGE_INDEX = Index(
    "idx_threat_indicators_updated_at_id", ThreatIndicator.updated_at, ThreatIndicator.id
)
