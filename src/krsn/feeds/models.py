"""Threat-intel providers (``threat_sources``), their ``threat_feeds``, and each record
ingested from them (``threat_intelligence``).

These are distinct from the OSINT ``sources`` a collection job reads from.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, Uuid, func, true
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, uuid_pk
from krsn.db.types import EncryptedJSON, JSONType, UTCDateTime, str_enum, utcnow
from krsn.indicators.models import percent_check


class ThreatSourceType(enum.StrEnum):
    COMMERCIAL = "commercial"
    OPEN_SOURCE = "open_source"
    GOVERNMENT = "government"
    INTERNAL = "internal"


class FeedFormat(enum.StrEnum):
    """The design's four formats, plus the ones the ingestion issue adds."""

    JSON = "json"
    XML = "xml"
    CSV = "csv"
    STIX = "stix"
    TEXT = "text"
    MISP = "misp"
    TAXII = "taxii"


class IntelligenceStatus(enum.StrEnum):
    NEW = "new"
    PROCESSED = "processed"
    VERIFIED = "verified"
    FALSE_POSITIVE = "false_positive"


class ThreatSource(Base):
    __tablename__ = "threat_sources"
    __table_args__ = (
        percent_check("reliability_score"),
        Index("idx_threat_sources_source_type", "source_type"),
        Index("idx_threat_sources_is_active", "is_active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    # Free prose: Text rather than the diagram's short string.
    description: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[ThreatSourceType | None] = mapped_column(
        str_enum(ThreatSourceType, "threat_source_type")
    )
    api_endpoint: Mapped[str | None] = mapped_column(String(2048))
    authentication_config: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    refresh_interval_minutes: Mapped[int | None] = mapped_column(Integer)
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    reliability_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))


class ThreatFeed(Base):
    __tablename__ = "threat_feeds"
    __table_args__ = (
        Index("idx_threat_feeds_source_id", "source_id"),
        Index("idx_threat_feeds_is_active", "is_active"),
        Index("idx_threat_feeds_next_scheduled_update", "next_scheduled_update"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # A feed is part of its provider's configuration and goes with it.
    source_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("threat_sources.id", ondelete="CASCADE"), nullable=False
    )
    feed_name: Mapped[str] = mapped_column(String(255), nullable=False)
    feed_url: Mapped[str | None] = mapped_column(String(2048))
    format: Mapped[FeedFormat | None] = mapped_column(str_enum(FeedFormat, "feed_format"))
    parsing_rules: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    update_frequency_minutes: Mapped[int | None] = mapped_column(Integer)
    last_successful_update: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_scheduled_update: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feed_statistics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ThreatIntelligence(Base):
    __tablename__ = "threat_intelligence"
    __table_args__ = (
        percent_check("source_confidence"),
        Index("idx_threat_intelligence_indicator_id", "indicator_id"),
        Index("idx_threat_intelligence_source_id", "source_id"),
        Index("idx_threat_intelligence_feed_id", "feed_id"),
        Index("idx_threat_intelligence_status", "status"),
        Index("idx_threat_intelligence_ingested_at", "ingested_at"),
        Index("idx_threat_intelligence_correlation_id", "correlation_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Nullable: a record is stored as ingested, before processing links it to an indicator.
    indicator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="CASCADE")
    )
    # SET NULL: removing a provider or feed must not erase what it already told us.
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_sources.id", ondelete="SET NULL")
    )
    feed_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_feeds.id", ondelete="SET NULL")
    )
    raw_data: Mapped[Any] = mapped_column(JSONType)
    processed_data: Mapped[Any] = mapped_column(JSONType)
    status: Mapped[IntelligenceStatus] = mapped_column(
        str_enum(IntelligenceStatus, "intelligence_status"),
        default=IntelligenceStatus.NEW,
        server_default=IntelligenceStatus.NEW.value,
        nullable=False,
    )
    source_confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    ingested_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrichment_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    correlation_id: Mapped[str | None] = mapped_column(String(255))
