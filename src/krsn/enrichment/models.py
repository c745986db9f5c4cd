"""Enrichment providers and the context they add (``enrichment_data``).

One ``enrichment_data`` table serves both designs: the threat-intel table, whose target is
an indicator, and the OSINT document store ``enriched_data``, whose target is an entity
(and the collection item it came from). The document's ``metadata.enricher``,
``metadata.version`` and ``metadata.confidence`` are columns; its ``data`` and
``created_at`` are served by ``enrichment_data`` and ``enriched_at`` (``COLUMN_SYNONYMS``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    Uuid,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, updated_at_column, uuid_pk
from krsn.db.types import EncryptedJSON, JSONType, UTCDateTime, str_enum, utcnow

# Column of one design -> the column of the merged table that holds it.
COLUMN_SYNONYMS: dict[str, dict[str, str]] = {
    "enrichment_data": {"data": "enrichment_data", "created_at": "enriched_at"},
}


class ProviderType(enum.StrEnum):
    COMMERCIAL = "commercial"
    FREE = "free"
    INTERNAL = "internal"


class EnrichmentType(enum.StrEnum):
    GEOLOCATION = "geolocation"
    WHOIS = "whois"
    REPUTATION = "reputation"
    MALWARE_ANALYSIS = "malware_analysis"


class EnrichmentProvider(Base):
    __tablename__ = "enrichment_providers"
    __table_args__ = (
        CheckConstraint("cost_per_query >= 0", name="cost_per_query_non_negative"),
        Index("idx_enrichment_providers_provider_type", "provider_type"),
        Index("idx_enrichment_providers_is_active", "is_active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    # Free prose: Text rather than the diagram's short string.
    description: Mapped[str | None] = mapped_column(Text)
    provider_type: Mapped[ProviderType | None] = mapped_column(
        str_enum(ProviderType, "enrichment_provider_type")
    )
    api_endpoint: Mapped[str | None] = mapped_column(String(2048))
    authentication_config: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    rate_limits: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Sub-cent prices per query are common, hence four decimals.
    cost_per_query: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))


class EnrichmentData(Base):
    __tablename__ = "enrichment_data"
    __table_args__ = (
        CheckConstraint("indicator_id IS NOT NULL OR entity_id IS NOT NULL", name="has_target"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        Index("idx_enrichment_data_indicator_id", "indicator_id"),
        Index("idx_enrichment_data_entity_id", "entity_id"),
        Index("idx_enrichment_data_collection_item_id", "collection_item_id"),
        Index("idx_enrichment_data_provider_id", "provider_id"),
        Index("idx_enrichment_data_enrichment_type", "enrichment_type"),
        Index("idx_enrichment_data_enriched_at", "enriched_at"),
        Index("idx_enrichment_data_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Context about a deleted indicator, entity or item is worthless: it goes with them.
    indicator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="CASCADE")
    )
    entity_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("entities.id", ondelete="CASCADE")
    )
    collection_item_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("collection_items.id", ondelete="CASCADE")
    )
    enrichment_type: Mapped[EnrichmentType] = mapped_column(
        str_enum(EnrichmentType, "enrichment_type"), nullable=False
    )
    enrichment_data: Mapped[Any] = mapped_column(JSONType)
    # SET NULL: what a provider told us stays after its configuration is removed.
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("enrichment_providers.id", ondelete="SET NULL")
    )
    enriched_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    enricher: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(100))
    # A fraction, like the OSINT design's other confidences.
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    updated_at: Mapped[datetime] = updated_at_column()
