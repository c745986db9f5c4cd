"""What notification channels and notifications take and give over the API and ``--json``.

A channel's ``config`` is shown without its secret fields (a webhook's signing secret and
headers, a Slack webhook URL): ``secrets_set`` names those that are stored. A webhook's
signing secret the platform generated is in the create answer only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from krsn.detection.models import (
    AlertSeverity,
    NotificationChannel,
    NotificationStatus,
    NotificationType,
)
from krsn.detection.notify.channels.base import Outcome
from krsn.detection.notify.channels.email import EmailConfig
from krsn.detection.notify.channels.slack import SlackConfig
from krsn.detection.notify.channels.sms import SmsConfig
from krsn.detection.notify.channels.webhook import WebhookConfig

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class _ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    min_severity: AlertSeverity = AlertSeverity.LOW
    is_active: bool = True
    rule_id: uuid.UUID | None = Field(None, description="A rule whose alerts this channel gets.")
    user_id: uuid.UUID | None = Field(None, description="Admins: the user the channel is for.")


class EmailChannelCreate(_ChannelCreate):
    notification_type: Literal[NotificationType.EMAIL]
    config: EmailConfig


class WebhookChannelCreate(_ChannelCreate):
    notification_type: Literal[NotificationType.WEBHOOK]
    config: WebhookConfig


class SlackChannelCreate(_ChannelCreate):
    notification_type: Literal[NotificationType.SLACK]
    config: SlackConfig


class SmsChannelCreate(_ChannelCreate):
    notification_type: Literal[NotificationType.SMS]
    config: SmsConfig


ChannelCreate = Annotated[
    EmailChannelCreate | WebhookChannelCreate | SlackChannelCreate | SmsChannelCreate,
    Field(discriminator="notification_type"),
]
"""A new channel: yours (every alert at or above ``min_severity``), or a rule's (its alerts;
analysts and admins). Admins may create one for another user. The config's shape follows
the type; the column allows these four."""


class ChannelUpdate(BaseModel):
    """The fields to change. A new ``config`` replaces the old one; secret fields left out
    of it keep their stored values."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    config: dict[str, Any] | None = None
    min_severity: AlertSeverity | None = None
    is_active: bool | None = None


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    notification_type: NotificationType
    user_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    config: dict[str, Any] = Field(description="The config without its secret fields.")
    secrets_set: list[str] = Field(description="Secret fields that hold a stored value.")
    min_severity: AlertSeverity
    is_active: bool
    created_at: datetime | None
    updated_at: datetime | None
    created_by: uuid.UUID | None

    @classmethod
    def of(cls, channel: NotificationChannel, **extra: Any) -> Self:
        """A channel as shown: its stored secrets named, never given."""
        return cls(
            id=channel.id,
            name=channel.name,
            notification_type=channel.notification_type,
            user_id=channel.user_id,
            rule_id=channel.rule_id,
            config=dict(channel.config or {}),
            secrets_set=sorted(channel.secrets or {}),
            min_severity=channel.min_severity,
            is_active=channel.is_active,
            created_at=channel.created_at,
            updated_at=channel.updated_at,
            created_by=channel.created_by,
            **extra,
        )


class ChannelCreated(ChannelRead):
    signing_secret: str | None = Field(
        None,
        description="The webhook signing secret the platform generated: shown in this answer "
        "only, keep it now.",
    )


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID | None
    alert_id: uuid.UUID | None
    channel_id: uuid.UUID | None
    notification_type: NotificationType
    title: str | None
    message: str | None
    status: NotificationStatus
    retry_count: int
    created_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


class NotificationDetail(NotificationRead):
    notification_data: dict[str, Any] | None = Field(
        None, description="The event and the alert as it was when the notification was queued."
    )


class AttemptRead(BaseModel):
    """One attempt of a delivery pass, or a channel test."""

    notification_id: uuid.UUID | None
    channel_id: uuid.UUID | None
    notification_type: NotificationType | None
    outcome: Outcome
    status: NotificationStatus | None = Field(
        None, description="The notification's status after the attempt (none for a test)."
    )
    message: str
    duration_ms: int


class DeliveryReport(BaseModel):
    """What one delivery pass did."""

    claimed: int = 0
    delivered: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    duration_s: float = 0.0
    attempts: list[AttemptRead] = Field(default_factory=list)
