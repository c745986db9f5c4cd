"""OSINT investigation tables: collection jobs, their sources and items, extracted
entities, risk scores, workflows, generated reports, and the two document stores of the
OSINT design (``raw_documents``, ``analysis_results``) as JSON tables.

The graph is the edge table ``entity_relationships``. A node is named by a kind and an
id (entities, indicators, actors, campaigns and sources by UUID text, ATT&CK techniques
by their id), so one table holds every edge. ``relation`` is the edge label of the graph
design (``RELATED_TO`` between entities with a ``type`` sub-type, ``COLLECTED_FROM`` from
an entity to its source); the kind/id pairs cannot carry foreign keys, so whoever deletes
a node deletes its edges.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, created_at_column, stamped_now, updated_at_column, uuid_pk
from krsn.db.types import EncryptedJSON, JSONType, TextArray, UTCDateTime, str_enum


class CollectionStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CollectorType(enum.StrEnum):
    SOCIAL_MEDIA = "social_media"
    DOMAIN_INTEL = "domain_intel"
    PUBLIC_DB = "public_db"
    NEWS = "news"
    DARK_WEB = "dark_web"
    CUSTOM = "custom"


class EntityType(enum.StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"
    LOCATION = "location"
    DOMAIN = "domain"
    IP_ADDRESS = "ip_address"
    EMAIL = "email"
    PHONE = "phone"
    CRYPTOCURRENCY_ADDRESS = "cryptocurrency_address"
    USERNAME = "username"
    DOCUMENT = "document"
    # Beyond the design's list: the IOC forms extraction finds that have no type of their own.
    URL = "url"
    HASH = "hash"
    CVE = "cve"


class RiskLevel(enum.StrEnum):
    """Bands of the 0..100 risk score: low 0-25, medium 26-50, high 51-75, critical 76-100."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class NodeKind(enum.StrEnum):
    ENTITY = "entity"
    INDICATOR = "indicator"
    ACTOR = "actor"
    CAMPAIGN = "campaign"
    TECHNIQUE = "technique"
    SOURCE = "source"


class EdgeRelation(enum.StrEnum):
    RELATED_TO = "RELATED_TO"
    COLLECTED_FROM = "COLLECTED_FROM"


class RelationshipType(enum.StrEnum):
    """Sub-types of ``RELATED_TO``."""

    WORKS_FOR = "WORKS_FOR"
    OWNS = "OWNS"
    LOCATED_AT = "LOCATED_AT"
    COMMUNICATES_WITH = "COMMUNICATES_WITH"
    ASSOCIATED_WITH = "ASSOCIATED_WITH"
    CONTROLS = "CONTROLS"
    MEMBER_OF = "MEMBER_OF"
    TRANSACTS_WITH = "TRANSACTS_WITH"
    # Beyond the design's list: what collectors and the ATT&CK import know for certain.
    RESOLVES_TO = "RESOLVES_TO"  # a domain to an address (DNS)
    PART_OF = "PART_OF"  # a subdomain of its domain, an e-mail of its domain, a URL of its host
    USES = "USES"  # an actor or campaign to a technique or a tool
    ATTRIBUTED_TO = "ATTRIBUTED_TO"  # a campaign to an actor
    INDICATES = "INDICATES"  # an indicator to an actor or campaign
    SAME_AS = "SAME_AS"  # an entity to the threat indicator with its type and value


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = (
        Index("idx_collections_user_id", "user_id"),
        Index("idx_collections_status", "status"),
        Index("idx_collections_collector_type", "collector_type"),
        Index("idx_collections_created_at", "created_at"),
        Index("idx_collections_source_id", "source_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    collector_type: Mapped[CollectorType] = mapped_column(
        str_enum(CollectorType, "collector_type"), nullable=False
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status: Mapped[CollectionStatus | None] = mapped_column(
        str_enum(CollectionStatus, "collection_status"),
        default=CollectionStatus.PENDING,
        server_default=CollectionStatus.PENDING.value,
    )
    progress: Mapped[Decimal | None] = mapped_column(
        Numeric(5, 2), default=Decimal("0.00"), server_default="0.00"
    )
    items_collected: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    error_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    # Not in the design: the OSINT source a run goes through (its rate limit, credentials
    # and proxy); none: the collector's defaults.
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("sources.id", ondelete="SET NULL")
    )
    # Not in the design: the registered collector (a plugin within the category) that runs
    # the collection; none: the built-in of collector_type, whose name is the category's.
    collector: Mapped[str | None] = mapped_column(String(100))


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (
        Index("idx_sources_source_type", "source_type"),
        Index("idx_sources_is_active", "is_active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    source_type: Mapped[str] = mapped_column(String(100), nullable=False)
    base_url: Mapped[str | None] = mapped_column(String(500))
    credentials: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    rate_limit: Mapped[int | None] = mapped_column(Integer, default=60, server_default="60")
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True, server_default=true())
    reliability_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class CollectionItem(Base):
    __tablename__ = "collection_items"
    __table_args__ = (
        Index("idx_collection_items_collection_id", "collection_id"),
        Index("idx_collection_items_source_id", "source_id"),
        Index("idx_collection_items_is_processed", "is_processed"),
        Index("idx_collection_items_hash", "hash"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    collection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False
    )
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("sources.id", ondelete="SET NULL")
    )
    raw_data: Mapped[Any] = mapped_column(JSONType, nullable=False)
    item_type: Mapped[str | None] = mapped_column(String(100))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_processed: Mapped[bool | None] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    collected_at: Mapped[datetime | None] = stamped_now()


class Entity(Base):
    __tablename__ = "entities"
    __table_args__ = (
        Index("idx_entities_entity_type", "entity_type"),
        Index("idx_entities_name", "name"),
        Index("idx_entities_normalized_name", "normalized_name"),
        Index("idx_entities_risk_score", "risk_score"),
        Index("idx_entities_indicator_id", "indicator_id"),
        # GIN serves array and JSONB containment; SQLite has no equivalent index.
        Index("idx_entities_tags", "tags", postgresql_using="gin").ddl_if(dialect="postgresql"),
        Index("idx_entities_properties", "properties", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    entity_type: Mapped[EntityType] = mapped_column(
        str_enum(EntityType, "entity_type"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    normalized_name: Mapped[str | None] = mapped_column(String(500))
    properties: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, default=dict, server_default="{}"
    )
    metadata_: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSONType, default=dict, server_default="{}"
    )
    tags: Mapped[list[str] | None] = mapped_column(TextArray)
    risk_score: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    confidence: Mapped[Decimal | None] = mapped_column(
        Numeric(3, 2), default=Decimal("0.50"), server_default="0.50"
    )
    is_verified: Mapped[bool | None] = mapped_column(Boolean, default=False, server_default=false())
    first_seen: Mapped[datetime | None] = stamped_now()
    last_seen: Mapped[datetime | None] = stamped_now()
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    # The threat indicator with the same type and canonical value, so the graph joins
    # what feeds report with what investigations find.
    indicator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="SET NULL")
    )


class EntitySource(Base):
    __tablename__ = "entity_sources"
    __table_args__ = (
        UniqueConstraint("entity_id", "collection_item_id"),
        Index("idx_entity_sources_entity_id", "entity_id"),
        Index("idx_entity_sources_collection_item_id", "collection_item_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    entity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("entities.id", ondelete="CASCADE"), nullable=False
    )
    collection_item_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("collection_items.id", ondelete="CASCADE"), nullable=False
    )
    confidence: Mapped[Decimal | None] = mapped_column(
        Numeric(3, 2), default=Decimal("0.50"), server_default="0.50"
    )
    extraction_method: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()


class RiskScore(Base):
    __tablename__ = "risk_scores"
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
        Index("idx_risk_scores_entity_id", "entity_id"),
        Index("idx_risk_scores_score", "score"),
        Index("idx_risk_scores_level", "level"),
        Index("idx_risk_scores_calculated_at", "calculated_at"),
        Index("idx_risk_scores_calculated_by", "calculated_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    entity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("entities.id", ondelete="CASCADE"), nullable=False
    )
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    level: Mapped[RiskLevel | None] = mapped_column(str_enum(RiskLevel, "risk_level"))
    factors: Mapped[Any] = mapped_column(JSONType, nullable=False)
    calculation_method: Mapped[str | None] = mapped_column(String(100))
    calculated_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    calculated_at: Mapped[datetime | None] = stamped_now()


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (
        Index("idx_workflows_user_id", "user_id"),
        Index("idx_workflows_status", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    steps: Mapped[Any] = mapped_column(JSONType, nullable=False)
    # The design gives no list of statuses, so they stay free text.
    status: Mapped[str | None] = mapped_column(
        String(50), default="active", server_default="active"
    )
    execution_count: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    success_count: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    failure_count: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class WorkflowExecution(Base):
    __tablename__ = "workflow_executions"
    __table_args__ = (
        Index("idx_workflow_executions_workflow_id", "workflow_id"),
        Index("idx_workflow_executions_status", "status"),
        Index("idx_workflow_executions_started_at", "started_at"),
        # Not in the design; every foreign key is indexed so deleting a user stays cheap.
        Index("idx_workflow_executions_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str | None] = mapped_column(
        String(50), default="pending", server_default="pending"
    )
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    results: Mapped[Any] = mapped_column(JSONType)
    error_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = stamped_now()
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("idx_reports_user_id", "user_id"),
        Index("idx_reports_status", "status"),
        Index("idx_reports_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str | None] = mapped_column(
        String(50), default="pending", server_default="pending"
    )
    format: Mapped[str | None] = mapped_column(String(20), default="pdf", server_default="pdf")
    file_path: Mapped[str | None] = mapped_column(String(1000))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EntityRelationship(Base):
    __tablename__ = "entity_relationships"
    __table_args__ = (
        UniqueConstraint(
            "source_kind",
            "source_id",
            "target_kind",
            "target_id",
            "relation",
            "type",
            name="uq_entity_relationships_edge",
        ),
        CheckConstraint("relation <> 'RELATED_TO' OR type IS NOT NULL", name="related_to_type"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        Index("idx_entity_relationships_source", "source_kind", "source_id"),
        Index("idx_entity_relationships_target", "target_kind", "target_id"),
        Index("idx_entity_relationships_relation", "relation", "type"),
        Index("idx_entity_relationships_collection_id", "collection_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    source_kind: Mapped[NodeKind] = mapped_column(
        str_enum(NodeKind, "source_node_kind"), nullable=False
    )
    # UUIDs in their canonical lower-case hyphenated text, or an ATT&CK id.
    source_id: Mapped[str] = mapped_column(String(64), nullable=False)
    target_kind: Mapped[NodeKind] = mapped_column(
        str_enum(NodeKind, "target_node_kind"), nullable=False
    )
    target_id: Mapped[str] = mapped_column(String(64), nullable=False)
    relation: Mapped[EdgeRelation] = mapped_column(
        str_enum(EdgeRelation, "edge_relation"), nullable=False
    )
    # NULL for relations without sub-types. NULLs are distinct in a unique key, so
    # COLLECTED_FROM edges are not deduplicated by it: one row per collection that saw
    # the entity, which is provenance worth keeping.
    type: Mapped[RelationshipType | None] = mapped_column(
        str_enum(RelationshipType, "relationship_type")
    )
    # A fraction, as the OSINT design's other confidences.
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    # Who or what asserted a RELATED_TO edge (an extractor, an analyst, a feed).
    source: Mapped[str | None] = mapped_column(String(255))
    properties: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, default=dict, server_default="{}"
    )
    # COLLECTED_FROM: the OSINT source is the target node; the job that saw it is here.
    collection_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("collections.id", ondelete="SET NULL")
    )
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()


class RawDocument(Base):
    __tablename__ = "raw_documents"
    __table_args__ = (
        Index("idx_raw_documents_collection_id", "collection_id"),
        Index("idx_raw_documents_document_type", "document_type"),
        Index("idx_raw_documents_hash", "hash", unique=True),
        Index("idx_raw_documents_created_at", "created_at"),
        Index("idx_raw_documents_source", "source"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    collection_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("collections.id", ondelete="CASCADE")
    )
    document_type: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    # metadata.source promoted to a column: one plain index that both engines can use,
    # where an expression index on the JSON would exist on PostgreSQL only.
    source: Mapped[str | None] = mapped_column(String(255))
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # {filename, size, mime_type, storage_path}
    file_info: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at_column()


class AnalysisResult(Base):
    __tablename__ = "analysis_results"
    __table_args__ = (
        Index("idx_analysis_results_analysis_id", "analysis_id", unique=True),
        Index("idx_analysis_results_analysis_type", "analysis_type"),
        Index("idx_analysis_results_created_at", "created_at"),
        Index("idx_analysis_results_created_by", "created_by"),
        # Finds the analyses an entity took part in; SQLite scans instead.
        Index(
            "idx_analysis_results_input_entities", "input_entities", postgresql_using="gin"
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    analysis_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, default=uuid.uuid4)
    analysis_type: Mapped[str] = mapped_column(String(100), nullable=False)
    # Entity ids as text; an array rather than a link table because a result is written
    # once and read whole.
    input_entities: Mapped[list[str] | None] = mapped_column(TextArray)
    results: Mapped[Any] = mapped_column(JSONType)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    insights: Mapped[list[str] | None] = mapped_column(TextArray)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
