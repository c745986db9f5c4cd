"""What crosses the boundary for users, organizations, API keys, sessions and audit logs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from krsn.identity.models import AuditSeverity, ConfigCategory, OrganizationSize, Role
from krsn.schemas import UtcDateTime
from krsn.security.permissions import Action

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,99}$"


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    email: str
    full_name: str | None
    first_name: str | None
    last_name: str | None
    role: Role
    organization_id: uuid.UUID | None
    is_active: bool
    is_verified: bool
    mfa_enabled: bool
    must_change_password: bool
    locked_until: datetime | None
    last_login: datetime | None
    preferences: dict[str, Any] | None
    created_at: datetime | None
    updated_at: datetime | None


class UserCreate(Strict):
    username: str = Field(pattern=USERNAME_PATTERN, description="Letters, digits, _ . -")
    email: EmailStr
    role: Role = Role.USER
    password: str | None = Field(
        None,
        max_length=1024,
        description="Leave out to get a one-time password that must be changed at first login.",
    )
    full_name: str | None = Field(None, max_length=255)
    first_name: str | None = Field(None, max_length=255)
    last_name: str | None = Field(None, max_length=255)
    organization_id: uuid.UUID | None = None


class UserUpdate(Strict):
    email: EmailStr | None = None
    role: Role | None = None
    is_active: bool | None = None
    full_name: str | None = Field(None, max_length=255)
    first_name: str | None = Field(None, max_length=255)
    last_name: str | None = Field(None, max_length=255)
    organization_id: uuid.UUID | None = None
    unlock: bool | None = Field(None, description="True clears a lockout.")
    preferences: dict[str, Any] | None = None


class UserCreated(BaseModel):
    user: UserRead
    one_time_password: str | None = Field(
        None, description="Shown once; the user must change it at first login."
    )


class PasswordReset(BaseModel):
    user: UserRead
    one_time_password: str


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=255, description="Username or e-mail.")
    password: str = Field(min_length=1, max_length=1024)
    otp: str | None = Field(
        None, max_length=64, description="TOTP code or recovery code once MFA is on."
    )


class LoginResponse(BaseModel):
    user: UserRead
    csrf_token: str = Field(description="Send back as X-CSRF-Token on every change.")
    expires_at: datetime
    must_change_password: bool


class MeResponse(BaseModel):
    user: UserRead
    authenticated_via: str
    scopes: list[str] | None
    permissions: list[str]


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class MfaEnrolment(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str = Field(description="A data: URI of an SVG QR code of otpauth_uri.")


class MfaCode(Strict):
    code: str = Field(min_length=6, max_length=64)


class MfaEnabled(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once; each works one time.")


class MfaDisable(Strict):
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=6, max_length=64)


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    domain: str | None
    industry: str | None
    size: OrganizationSize | None
    contact_info: dict[str, Any] | None
    is_active: bool
    created_at: datetime | None
    updated_at: datetime | None


class OrganizationCreate(Strict):
    name: str = Field(min_length=1, max_length=255)
    domain: str | None = Field(None, max_length=255)
    industry: str | None = Field(None, max_length=255)
    size: OrganizationSize | None = None
    contact_info: dict[str, Any] | None = None


class OrganizationUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=255)
    domain: str | None = Field(None, max_length=255)
    industry: str | None = Field(None, max_length=255)
    size: OrganizationSize | None = None
    contact_info: dict[str, Any] | None = None
    is_active: bool | None = None


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    name: str | None
    key_prefix: str | None
    scopes: list[str] | None
    rate_limit: int
    rate_limits: dict[str, int] | None
    is_active: bool
    last_used: datetime | None
    usage_count: int
    expires_at: datetime | None
    created_at: datetime | None


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=255)
    scopes: list[str] | None = Field(
        None, description="Any of read, account, write, admin; default: all your role allows."
    )
    expires_at: UtcDateTime | None = None
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    rate_limit: int = Field(100, ge=1, le=1_000_000, description="Requests per minute.")
    rate_limits: dict[str, int] | None = Field(
        None, description="Per-endpoint overrides, keyed by path template."
    )

    @field_validator("rate_limits")
    @classmethod
    def _positive(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value and any(v < 1 for v in value.values()):
            raise ValueError("every per-endpoint limit must be at least 1")
        return value


class ApiKeyCreated(BaseModel):
    api_key: ApiKeyRead
    key: str = Field(description="The key itself, shown once: store it now.")


class AuditLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID | None
    action: str
    resource_type: str | None
    resource_id: str | None
    details: dict[str, Any] | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    severity: AuditSeverity
    metadata: dict[str, Any] | None = Field(None, validation_alias="metadata_")
    created_at: datetime | None


class ConfigRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    value: Any
    description: str | None
    category: ConfigCategory
    created_at: datetime | None
    updated_at: datetime | None
    updated_by: uuid.UUID | None


class ConfigWrite(Strict):
    value: Any
    description: str | None = None
    category: ConfigCategory | None = None


class RoleRead(BaseModel):
    """A role and what it may do: one row of the permission matrix."""

    role: Role
    actions: list[Action] = Field(
        description="read, account, write_own, write_intel or admin; an API key's scopes "
        "narrow them further."
    )
    description: str
