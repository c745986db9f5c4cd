"""The ``threat_indicators`` table and the severity scale other threat-intel tables share.

Scores of the threat-intel document (``confidence_score``, ``threat_score``) are on a
0..100 scale, as STIX 2.1 and MISP express confidence; the OSINT document's fractions
(``DECIMAL(3,2)``) stay 0..1 in their own tables.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Connection, Index, Numeric, String, event, true
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, created_at_column, range_check, updated_at_column, uuid_pk
from krsn.db.types import JSONType, UTCDateTime, str_enum
from krsn.osint.search.schema import INDICATORS, index_rows


class IndicatorType(enum.StrEnum):
    IP = "ip"
    DOMAIN = "domain"
    URL = "url"
    HASH = "hash"
    EMAIL = "email"


class Severity(enum.StrEnum):
    """Severity of indicators and incidents, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


def percent_check(column: str) -> CheckConstraint:
    """A named CHECK keeping a 0..100 score in range (NULL allowed)."""
    return range_check(column, 0, 100)


class ThreatIndicator(Base):
    __tablename__ = "threat_indicators"
    __table_args__ = (
        percent_check("confidence_score"),
        percent_check("threat_score"),
        Index("idx_threat_indicators_indicator_type", "indicator_type"),
        Index("idx_threat_indicators_severity", "severity"),
        Index("idx_threat_indicators_threat_score", "threat_score"),
        Index("idx_threat_indicators_is_active", "is_active"),
        Index("idx_threat_indicators_first_seen_at", "first_seen_at"),
        Index("idx_threat_indicators_last_seen_at", "last_seen_at"),
        # What changed since a moment: the lookup's range index reads its changes by it
        # (see krsn.indicators.ranges); an order by last change can use it too.
        Index("idx_threat_indicators_updated_at", "updated_at"),
        # The deduplication key: one row per canonical (type, value).
        Index("idx_threat_indicators_hash_signature", "hash_signature", unique=True),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # URLs can be long; 2048 characters still fit a B-tree unique index entry on PostgreSQL
    # (about 2700 bytes), which Text would not guarantee.
    indicator_value: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    indicator_type: Mapped[IndicatorType] = mapped_column(
        str_enum(IndicatorType, "indicator_type"), nullable=False
    )
    severity: Mapped[Severity | None] = mapped_column(str_enum(Severity, "indicator_severity"))
    confidence_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    threat_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # A digest of the canonical type and value, computed at ingestion.
    hash_signature: Mapped[str] = mapped_column(String(255), nullable=False)


@event.listens_for(ThreatIndicator, "after_insert")
def _index_for_search(_mapper: Any, connection: Connection, target: ThreatIndicator) -> None:
    """On SQLite, new indicators have no insert trigger: the indicator store indexes its
    batches itself (see krsn.osint.search.schema). One the ORM inserts is indexed here,
    in its transaction."""
    if connection.dialect.name == "sqlite":
        index_rows(connection, INDICATORS, f"id = '{uuid.UUID(str(target.id)).hex}'")
