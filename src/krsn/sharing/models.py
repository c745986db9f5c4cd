"""Attribution and sharing: threat actors and campaigns, MITRE ATT&CK techniques, IOC
collections and authored threat reports, with the tables linking each to indicators.

Link tables hold one row per pair and go with either end (ON DELETE CASCADE); the person
who made a link is kept as a nullable reference (ON DELETE SET NULL).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, created_at_column, stamped_now, updated_at_column, user_ref, uuid_pk
from krsn.db.types import JSONType, UTCDateTime, str_enum
from krsn.indicators.models import percent_check


class Sophistication(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    EXPERT = "expert"


class CampaignStatus(enum.StrEnum):
    ACTIVE = "active"
    DORMANT = "dormant"
    COMPLETED = "completed"


class CampaignRelationship(enum.StrEnum):
    INFRASTRUCTURE = "infrastructure"
    PAYLOAD = "payload"
    COMMUNICATION = "communication"
    VICTIM = "victim"


class ActorRelationship(enum.StrEnum):
    INFRASTRUCTURE = "infrastructure"
    TOOL = "tool"
    TECHNIQUE = "technique"
    VICTIM = "victim"


class ReportType(enum.StrEnum):
    INCIDENT = "incident"
    TREND = "trend"
    THREAT_ACTOR = "threat_actor"
    CAMPAIGN = "campaign"


class Classification(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"


def _indicator_ref() -> Mapped[uuid.UUID]:
    return mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="CASCADE"), nullable=False
    )


class ThreatActor(Base):
    __tablename__ = "threat_actors"
    __table_args__ = (
        Index("idx_threat_actors_sophistication", "sophistication"),
        Index("idx_threat_actors_last_observed", "last_observed"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    actor_name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    aliases: Mapped[list[str] | None] = mapped_column(JSONType)
    description: Mapped[str | None] = mapped_column(Text)
    sophistication: Mapped[Sophistication | None] = mapped_column(
        str_enum(Sophistication, "actor_sophistication")
    )
    motivations: Mapped[Any] = mapped_column(JSONType)
    target_industries: Mapped[Any] = mapped_column(JSONType)
    target_countries: Mapped[Any] = mapped_column(JSONType)
    known_tools: Mapped[Any] = mapped_column(JSONType)
    attribution_data: Mapped[Any] = mapped_column(JSONType)
    first_observed: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_observed: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class ThreatCampaign(Base):
    __tablename__ = "threat_campaigns"
    __table_args__ = (
        Index("idx_threat_campaigns_analyst_id", "analyst_id"),
        Index("idx_threat_campaigns_status", "status"),
        Index("idx_threat_campaigns_last_observed", "last_observed"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    campaign_name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus, "campaign_status"),
        default=CampaignStatus.ACTIVE,
        server_default=CampaignStatus.ACTIVE.value,
        nullable=False,
    )
    first_observed: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_observed: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tactics: Mapped[Any] = mapped_column(JSONType)
    techniques: Mapped[Any] = mapped_column(JSONType)
    procedures: Mapped[Any] = mapped_column(JSONType)
    attributed_actors: Mapped[Any] = mapped_column(JSONType)
    analyst_id: Mapped[uuid.UUID | None] = user_ref()
    # The campaign's TLP 2.0 level (krsn.sharing.tlp); its JSON columns are lists with a
    # meaning of their own, so the marking has a column.
    tlp: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class CampaignIndicator(Base):
    __tablename__ = "campaign_indicators"
    __table_args__ = (
        UniqueConstraint("campaign_id", "indicator_id"),
        percent_check("confidence_score"),
        Index("idx_campaign_indicators_campaign_id", "campaign_id"),
        Index("idx_campaign_indicators_indicator_id", "indicator_id"),
        Index("idx_campaign_indicators_associated_by", "associated_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("threat_campaigns.id", ondelete="CASCADE"), nullable=False
    )
    indicator_id: Mapped[uuid.UUID] = _indicator_ref()
    relationship_type: Mapped[CampaignRelationship | None] = mapped_column(
        str_enum(CampaignRelationship, "campaign_relationship")
    )
    confidence_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    associated_at: Mapped[datetime | None] = stamped_now()
    associated_by: Mapped[uuid.UUID | None] = user_ref()
    notes: Mapped[str | None] = mapped_column(Text)


class ActorIndicator(Base):
    __tablename__ = "actor_indicators"
    __table_args__ = (
        UniqueConstraint("actor_id", "indicator_id"),
        percent_check("confidence_score"),
        Index("idx_actor_indicators_actor_id", "actor_id"),
        Index("idx_actor_indicators_indicator_id", "indicator_id"),
        Index("idx_actor_indicators_associated_by", "associated_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    actor_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("threat_actors.id", ondelete="CASCADE"), nullable=False
    )
    indicator_id: Mapped[uuid.UUID] = _indicator_ref()
    relationship_type: Mapped[ActorRelationship | None] = mapped_column(
        str_enum(ActorRelationship, "actor_relationship")
    )
    confidence_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    associated_at: Mapped[datetime | None] = stamped_now()
    associated_by: Mapped[uuid.UUID | None] = user_ref()
    evidence: Mapped[str | None] = mapped_column(Text)


class MitreTechnique(Base):
    __tablename__ = "mitre_techniques"
    __table_args__ = (Index("idx_mitre_techniques_tactic", "tactic"),)

    # The ATT&CK id itself, e.g. "T1059.001", so STIX and MISP references join directly.
    technique_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    technique_name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    tactic: Mapped[str | None] = mapped_column(String(255))
    data_sources: Mapped[Any] = mapped_column(JSONType)
    platforms: Mapped[Any] = mapped_column(JSONType)
    defenses_bypassed: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class IndicatorTechnique(Base):
    __tablename__ = "indicator_techniques"
    __table_args__ = (
        UniqueConstraint("indicator_id", "technique_id"),
        percent_check("confidence_score"),
        Index("idx_indicator_techniques_indicator_id", "indicator_id"),
        Index("idx_indicator_techniques_technique_id", "technique_id"),
        Index("idx_indicator_techniques_mapped_by", "mapped_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    indicator_id: Mapped[uuid.UUID] = _indicator_ref()
    technique_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("mitre_techniques.technique_id", ondelete="CASCADE"), nullable=False
    )
    confidence_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    mapped_at: Mapped[datetime | None] = stamped_now()
    mapped_by: Mapped[uuid.UUID | None] = user_ref()
    evidence: Mapped[str | None] = mapped_column(Text)


class IocCollection(Base):
    __tablename__ = "ioc_collections"
    __table_args__ = (
        Index("idx_ioc_collections_created_by", "created_by"),
        Index("idx_ioc_collections_is_public", "is_public"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = user_ref()
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    indicator_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CollectionIndicator(Base):
    __tablename__ = "collection_indicators"
    __table_args__ = (
        UniqueConstraint("collection_id", "indicator_id"),
        Index("idx_collection_indicators_collection_id", "collection_id"),
        Index("idx_collection_indicators_indicator_id", "indicator_id"),
        Index("idx_collection_indicators_added_by", "added_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    collection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ioc_collections.id", ondelete="CASCADE"), nullable=False
    )
    indicator_id: Mapped[uuid.UUID] = _indicator_ref()
    added_at: Mapped[datetime | None] = stamped_now()
    added_by: Mapped[uuid.UUID | None] = user_ref()
    notes: Mapped[str | None] = mapped_column(Text)


class ThreatReport(Base):
    __tablename__ = "threat_reports"
    __table_args__ = (
        Index("idx_threat_reports_author_id", "author_id"),
        Index("idx_threat_reports_report_type", "report_type"),
        Index("idx_threat_reports_classification", "classification"),
        Index("idx_threat_reports_published_at", "published_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # As long as the OSINT reports.title, since a threat report is rendered into one.
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    executive_summary: Mapped[str | None] = mapped_column(Text)
    detailed_analysis: Mapped[str | None] = mapped_column(Text)
    report_type: Mapped[ReportType | None] = mapped_column(
        str_enum(ReportType, "threat_report_type")
    )
    # Unmarked reports stay in-house until someone decides otherwise.
    classification: Mapped[Classification] = mapped_column(
        str_enum(Classification, "report_classification"),
        default=Classification.INTERNAL,
        server_default=Classification.INTERNAL.value,
        nullable=False,
    )
    author_id: Mapped[uuid.UUID | None] = user_ref()
    indicators_referenced: Mapped[Any] = mapped_column(JSONType)
    attachments: Mapped[Any] = mapped_column(JSONType)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
