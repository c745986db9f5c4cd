"""Detection and response: correlation rules and the correlations they find, alerts and
their notifications, incidents, threat-hunting sessions and queries, watchlists.

Alerts keep their history when the rule, indicator or assignee behind them is deleted
(ON DELETE SET NULL); rows that only make sense with their parent go with it (CASCADE).
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

from krsn.db.base import Base, created_at_column, stamped_now, updated_at_column, user_ref, uuid_pk
from krsn.db.types import EncryptedJSON, JSONType, UTCDateTime, str_enum
from krsn.indicators.models import Severity, percent_check


class RuleType(enum.StrEnum):
    PATTERN = "pattern"
    ML = "ml"
    THRESHOLD = "threshold"
    TIME_BASED = "time_based"


class CorrelationType(enum.StrEnum):
    IP_DOMAIN = "ip_domain"
    HASH_IP = "hash_ip"
    TEMPORAL = "temporal"
    BEHAVIORAL = "behavioral"


class AlertSeverity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


class AlertPriority(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class NotificationType(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    SLACK = "slack"


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    CONTAINED = "contained"
    RESOLVED = "resolved"


class IncidentRelationship(enum.StrEnum):
    ROOT_CAUSE = "root_cause"
    RELATED = "related"
    CONSEQUENCE = "consequence"


class HuntStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class QueryType(enum.StrEnum):
    SQL = "sql"
    ELASTICSEARCH = "elasticsearch"
    CUSTOM = "custom"


class WatchlistType(enum.StrEnum):
    IP_BLACKLIST = "ip_blacklist"
    DOMAIN_BLACKLIST = "domain_blacklist"
    HASH_WHITELIST = "hash_whitelist"
    CUSTOM = "custom"


class WatchlistItemType(enum.StrEnum):
    IP = "ip"
    DOMAIN = "domain"
    HASH = "hash"
    EMAIL = "email"
    URL = "url"


class CorrelationRule(Base):
    __tablename__ = "correlation_rules"
    __table_args__ = (
        percent_check("confidence_threshold"),
        Index("idx_correlation_rules_created_by", "created_by"),
        Index("idx_correlation_rules_rule_type", "rule_type"),
        Index("idx_correlation_rules_is_active", "is_active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    rule_definition: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    rule_type: Mapped[RuleType] = mapped_column(
        str_enum(RuleType, "correlation_rule_type"), nullable=False
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    confidence_threshold: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    time_window_minutes: Mapped[int | None] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    created_by: Mapped[uuid.UUID | None] = user_ref()


class ThreatCorrelation(Base):
    __tablename__ = "threat_correlations"
    __table_args__ = (
        UniqueConstraint(
            "primary_indicator_id",
            "related_indicator_id",
            "correlation_type",
            name="uq_threat_correlations_pair_type",
        ),
        CheckConstraint("primary_indicator_id <> related_indicator_id", name="distinct_indicators"),
        percent_check("correlation_score"),
        Index("idx_threat_correlations_primary_indicator_id", "primary_indicator_id"),
        Index("idx_threat_correlations_related_indicator_id", "related_indicator_id"),
        Index("idx_threat_correlations_rule_id", "rule_id"),
        Index("idx_threat_correlations_correlation_type", "correlation_type"),
        Index("idx_threat_correlations_discovered_at", "discovered_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    primary_indicator_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="CASCADE"), nullable=False
    )
    related_indicator_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="CASCADE"), nullable=False
    )
    rule_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("correlation_rules.id", ondelete="SET NULL")
    )
    correlation_type: Mapped[CorrelationType] = mapped_column(
        str_enum(CorrelationType, "correlation_type"), nullable=False
    )
    correlation_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    correlation_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    discovered_at: Mapped[datetime | None] = stamped_now()
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    analyst_notes: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("idx_alerts_indicator_id", "indicator_id"),
        Index("idx_alerts_rule_id", "rule_id"),
        Index("idx_alerts_assigned_user_id", "assigned_user_id"),
        Index("idx_alerts_severity", "severity"),
        Index("idx_alerts_status", "status"),
        Index("idx_alerts_priority", "priority"),
        Index("idx_alerts_triggered_at", "triggered_at"),
        Index("idx_alerts_dedup_key", "dedup_key", "last_seen_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    indicator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="SET NULL")
    )
    rule_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("correlation_rules.id", ondelete="SET NULL")
    )
    assigned_user_id: Mapped[uuid.UUID | None] = user_ref()
    # Generated titles quote indicator values, so longer than the usual 255.
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[AlertSeverity] = mapped_column(
        str_enum(AlertSeverity, "alert_severity"), nullable=False
    )
    status: Mapped[AlertStatus] = mapped_column(
        str_enum(AlertStatus, "alert_status"),
        default=AlertStatus.OPEN,
        server_default=AlertStatus.OPEN.value,
        nullable=False,
    )
    priority: Mapped[AlertPriority] = mapped_column(
        str_enum(AlertPriority, "alert_priority"),
        default=AlertPriority.NORMAL,
        server_default=AlertPriority.NORMAL.value,
        nullable=False,
    )
    alert_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    triggered_at: Mapped[datetime | None] = stamped_now()
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_notes: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    # Deduplication: what makes two firings "the same alert" (rule and indicator, or the
    # watchlist item and value), how often it fired and when last; an open alert with the
    # same key inside the window is updated instead of a new one raised.
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    occurrence_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("idx_notifications_user_id", "user_id"),
        Index("idx_notifications_alert_id", "alert_id"),
        Index("idx_notifications_status", "status"),
        Index("idx_notifications_created_at", "created_at"),
        Index("idx_notifications_channel_id", "channel_id"),
        Index("idx_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Nullable: a webhook or channel notification has no person behind it. A person's
    # notifications, and those about a deleted alert, mean nothing without them.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE")
    )
    alert_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="CASCADE")
    )
    notification_type: Mapped[NotificationType] = mapped_column(
        str_enum(NotificationType, "notification_type"), nullable=False
    )
    title: Mapped[str | None] = mapped_column(String(500))
    message: Mapped[str | None] = mapped_column(Text)
    notification_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status: Mapped[NotificationStatus] = mapped_column(
        str_enum(NotificationStatus, "notification_status"),
        default=NotificationStatus.PENDING,
        server_default=NotificationStatus.PENDING.value,
        nullable=False,
    )
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("notification_channels.id", ondelete="SET NULL")
    )
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("idx_incidents_assigned_analyst_id", "assigned_analyst_id"),
        Index("idx_incidents_severity", "severity"),
        Index("idx_incidents_status", "status"),
        Index("idx_incidents_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    incident_number: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[Severity] = mapped_column(
        str_enum(Severity, "incident_severity"), nullable=False
    )
    status: Mapped[IncidentStatus] = mapped_column(
        str_enum(IncidentStatus, "incident_status"),
        default=IncidentStatus.OPEN,
        server_default=IncidentStatus.OPEN.value,
        nullable=False,
    )
    assigned_analyst_id: Mapped[uuid.UUID | None] = user_ref()
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timeline: Mapped[Any] = mapped_column(JSONType)
    affected_assets: Mapped[Any] = mapped_column(JSONType)
    resolution_summary: Mapped[str | None] = mapped_column(Text)


class IncidentIndicator(Base):
    __tablename__ = "incident_indicators"
    __table_args__ = (
        UniqueConstraint("incident_id", "indicator_id"),
        Index("idx_incident_indicators_incident_id", "incident_id"),
        Index("idx_incident_indicators_indicator_id", "indicator_id"),
        Index("idx_incident_indicators_added_by", "added_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    incident_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    indicator_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="CASCADE"), nullable=False
    )
    relationship_type: Mapped[IncidentRelationship | None] = mapped_column(
        str_enum(IncidentRelationship, "incident_relationship")
    )
    notes: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime | None] = stamped_now()
    added_by: Mapped[uuid.UUID | None] = user_ref()


class IncidentAlert(Base):
    __tablename__ = "incident_alerts"
    __table_args__ = (
        UniqueConstraint("incident_id", "alert_id"),
        Index("idx_incident_alerts_incident_id", "incident_id"),
        Index("idx_incident_alerts_alert_id", "alert_id"),
        Index("idx_incident_alerts_linked_by", "linked_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    incident_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    alert_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False
    )
    linked_at: Mapped[datetime | None] = stamped_now()
    linked_by: Mapped[uuid.UUID | None] = user_ref()
    notes: Mapped[str | None] = mapped_column(Text)


class ThreatHuntingSession(Base):
    __tablename__ = "threat_hunting_sessions"
    __table_args__ = (
        Index("idx_threat_hunting_sessions_analyst_id", "analyst_id"),
        Index("idx_threat_hunting_sessions_status", "status"),
        Index("idx_threat_hunting_sessions_started_at", "started_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    analyst_id: Mapped[uuid.UUID | None] = user_ref()
    status: Mapped[HuntStatus] = mapped_column(
        str_enum(HuntStatus, "hunt_status"),
        default=HuntStatus.ACTIVE,
        server_default=HuntStatus.ACTIVE.value,
        nullable=False,
    )
    hunt_parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    findings: Mapped[Any] = mapped_column(JSONType)
    started_at: Mapped[datetime | None] = stamped_now()
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conclusion: Mapped[str | None] = mapped_column(Text)


class HuntQuery(Base):
    __tablename__ = "hunt_queries"
    __table_args__ = (
        Index("idx_hunt_queries_session_id", "session_id"),
        Index("idx_hunt_queries_executed_at", "executed_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("threat_hunting_sessions.id", ondelete="CASCADE"), nullable=False
    )
    query_name: Mapped[str | None] = mapped_column(String(255))
    query_definition: Mapped[str] = mapped_column(Text, nullable=False)
    query_type: Mapped[QueryType] = mapped_column(
        str_enum(QueryType, "hunt_query_type"), nullable=False
    )
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    results: Mapped[Any] = mapped_column(JSONType)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    execution_time_ms: Mapped[int | None] = mapped_column(Integer)


class Watchlist(Base):
    __tablename__ = "watchlists"
    __table_args__ = (
        Index("idx_watchlists_created_by", "created_by"),
        Index("idx_watchlists_list_type", "list_type"),
        Index("idx_watchlists_is_active", "is_active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = user_ref()
    list_type: Mapped[WatchlistType] = mapped_column(
        str_enum(WatchlistType, "watchlist_type"), nullable=False
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    item_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WatchlistItem(Base):
    __tablename__ = "watchlist_items"
    __table_args__ = (
        UniqueConstraint("watchlist_id", "item_value"),
        Index("idx_watchlist_items_watchlist_id", "watchlist_id"),
        Index("idx_watchlist_items_item_value", "item_value"),
        Index("idx_watchlist_items_added_by", "added_by"),
        Index("idx_watchlist_items_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    watchlist_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("watchlists.id", ondelete="CASCADE"), nullable=False
    )
    # Same bound as threat_indicators.indicator_value: an item may be a long URL.
    item_value: Mapped[str] = mapped_column(String(2048), nullable=False)
    item_type: Mapped[WatchlistItemType] = mapped_column(
        str_enum(WatchlistItemType, "watchlist_item_type"), nullable=False
    )
    notes: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime | None] = stamped_now()
    added_by: Mapped[uuid.UUID | None] = user_ref()
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Tables the documents imply but do not draw -----------------------------------------------


class NotificationChannel(Base):
    """Where a person's (or a rule's) notifications go: an address, a webhook, a Slack
    incoming webhook, a phone number. Secrets (signing keys, provider tokens) are encrypted."""

    __tablename__ = "notification_channels"
    __table_args__ = (
        Index("idx_notification_channels_user_id", "user_id"),
        Index("idx_notification_channels_rule_id", "rule_id"),
        Index("idx_notification_channels_is_active", "is_active"),
        Index("idx_notification_channels_created_by", "created_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE")
    )
    rule_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("correlation_rules.id", ondelete="CASCADE")
    )
    notification_type: Mapped[NotificationType] = mapped_column(
        str_enum(NotificationType, "notification_channel_type"), nullable=False
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    secrets: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    min_severity: Mapped[AlertSeverity] = mapped_column(
        str_enum(AlertSeverity, "notification_min_severity"),
        default=AlertSeverity.LOW,
        server_default=AlertSeverity.LOW.value,
        nullable=False,
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    created_by: Mapped[uuid.UUID | None] = user_ref()


class Sighting(Base):
    """An observable seen in the customer's environment that matched an indicator or a
    watchlist item. Misses are counted, not stored."""

    __tablename__ = "sightings"
    __table_args__ = (
        Index("idx_sightings_indicator_id", "indicator_id", "observed_at"),
        Index("idx_sightings_watchlist_item_id", "watchlist_item_id"),
        Index("idx_sightings_observed_at", "observed_at"),
        Index("idx_sightings_value", "value"),
        Index("idx_sightings_reported_by", "reported_by"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    indicator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="CASCADE")
    )
    watchlist_item_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("watchlist_items.id", ondelete="SET NULL")
    )
    value: Mapped[str] = mapped_column(String(2048), nullable=False)
    matched: Mapped[str | None] = mapped_column(String(2048))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime | None] = stamped_now()
    host: Mapped[str | None] = mapped_column(String(255))
    sensor: Mapped[str | None] = mapped_column(String(255))
    log_source: Mapped[str | None] = mapped_column(String(255))
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    reported_by: Mapped[uuid.UUID | None] = user_ref()


class AlertSuppression(Base):
    """An alert a whitelist item stopped: kept so that suppression is visible, not silent.
    One row per item and suppressed key, counted like an alert."""

    __tablename__ = "alert_suppressions"
    __table_args__ = (
        UniqueConstraint("watchlist_item_id", "dedup_key"),
        Index("idx_alert_suppressions_watchlist_item_id", "watchlist_item_id"),
        Index("idx_alert_suppressions_last_seen_at", "last_seen_at"),
        Index("idx_alert_suppressions_indicator_id", "indicator_id"),
        Index("idx_alert_suppressions_rule_id", "rule_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    watchlist_item_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("watchlist_items.id", ondelete="CASCADE")
    )
    indicator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="SET NULL")
    )
    rule_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("correlation_rules.id", ondelete="SET NULL")
    )
    value: Mapped[str] = mapped_column(String(2048), nullable=False)
    dedup_key: Mapped[str] = mapped_column(String(255), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    occurrence_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    first_seen_at: Mapped[datetime | None] = stamped_now()
    last_seen_at: Mapped[datetime | None] = stamped_now()


class RuleMatch(Base):
    """One event a threshold or time-based rule counted: state kept between batches and
    processes, read back within the rule's window."""

    __tablename__ = "rule_matches"
    __table_args__ = (
        Index("idx_rule_matches_rule_key", "rule_id", "match_key", "matched_at"),
        Index("idx_rule_matches_matched_at", "matched_at"),
        Index("idx_rule_matches_indicator_id", "indicator_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    rule_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("correlation_rules.id", ondelete="CASCADE"), nullable=False
    )
    match_key: Mapped[str] = mapped_column(String(512), nullable=False)
    step: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    indicator_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("threat_indicators.id", ondelete="SET NULL")
    )
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class IncidentCounter(Base):
    """The last incident number handed out in a year: ``INC-2026-0001`` comes from one
    atomic increment, so two processes never take the same number."""

    __tablename__ = "incident_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False)
