"""Tables of identity and access: users, organizations, API keys, sessions, audit logs.

Both design documents define ``users``, ``api_keys`` and ``audit_logs``; each is one
table holding the union of their columns. Where the two use different names for the
same thing, one column serves both (see ``COLUMN_SYNONYMS``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from krsn.db.base import Base, created_at_column, updated_at_column, uuid_pk
from krsn.db.types import EncryptedString, Inet, JSONType, TextArray, UTCDateTime, str_enum

# Column of one document -> the column of the merged table that holds it.
COLUMN_SYNONYMS: dict[str, dict[str, str]] = {
    "api_keys": {
        "key_name": "name",
        "permissions": "scopes",
        "last_used_at": "last_used",
    },
    "audit_logs": {"timestamp": "created_at"},
}


class Role(enum.StrEnum):
    """Roles, most privileged first; ``viewer`` is the OSINT document's ``readonly``."""

    ADMIN = "admin"
    ANALYST = "analyst"
    USER = "user"
    VIEWER = "viewer"


class OrganizationSize(enum.StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class AuditSeverity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    domain: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[OrganizationSize | None] = mapped_column(
        str_enum(OrganizationSize, "organization_size")
    )
    contact_info: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("idx_users_email", "email"),
        Index("idx_users_username", "username"),
        Index("idx_users_created_at", "created_at"),
        Index("idx_users_organization_id", "organization_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    username: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        str_enum(Role, "user_role"),
        default=Role.USER,
        server_default=Role.USER.value,
        nullable=False,
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="SET NULL")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    mfa_secret: Mapped[str | None] = mapped_column(EncryptedString)
    # The last TOTP time step accepted, so a code cannot be replayed within its window.
    mfa_last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    # Hashes of unused one-time recovery codes.
    mfa_recovery_codes: Mapped[list[str] | None] = mapped_column(JSONType)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime)
    preferences: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The threat-intel document's single key per user; real keys live in api_keys.
    api_key_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        Index("idx_api_keys_user_id", "user_id"),
        Index("idx_api_keys_key_hash", "key_hash", unique=True),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    key_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    # The first characters of the key, shown in lists so a person can tell keys apart.
    key_prefix: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(255))
    scopes: Mapped[list[str] | None] = mapped_column(TextArray)
    rate_limit: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    # Per-endpoint overrides of rate_limit, {"/api/v1/sightings": 1000}.
    rate_limits: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime)
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()


class UserSession(Base):
    """Browser sessions when no Redis is configured (the ``session:{id}`` hash's fields)."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        Index("idx_user_sessions_user_id", "user_id"),
        Index("idx_user_sessions_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    username: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(128), nullable=False)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at_column()
    last_activity: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("idx_audit_logs_user_id", "user_id"),
        Index("idx_audit_logs_action", "action"),
        Index("idx_audit_logs_resource_type", "resource_type"),
        Index("idx_audit_logs_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    resource_type: Mapped[str | None] = mapped_column(String(100))
    # Text, not UUID: ATT&CK technique ids and configuration keys are resources too.
    resource_id: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ip_address: Mapped[str | None] = mapped_column(Inet)
    user_agent: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[AuditSeverity] = mapped_column(
        str_enum(AuditSeverity, "audit_severity"),
        default=AuditSeverity.INFO,
        server_default=AuditSeverity.INFO.value,
    )
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = created_at_column()


class ConfigCategory(enum.StrEnum):
    GENERAL = "general"
    SECURITY = "security"
    PERFORMANCE = "performance"
    INTEGRATION = "integration"


class SystemConfiguration(Base):
    __tablename__ = "system_configuration"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[ConfigCategory] = mapped_column(
        str_enum(ConfigCategory, "config_category"),
        default=ConfigCategory.GENERAL,
        server_default=ConfigCategory.GENERAL.value,
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
