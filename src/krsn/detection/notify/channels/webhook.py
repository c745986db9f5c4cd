"""Webhooks: the alert as JSON, POSTed and signed with HMAC-SHA256 over a timestamp and the body.

Each request carries ``X-KRSN-Timestamp`` (Unix seconds), ``X-KRSN-Signature``
(``sha256=`` and the hex HMAC-SHA256 of ``"{timestamp}." + body`` under the channel's
signing secret), ``X-KRSN-Event`` and ``X-KRSN-Delivery`` (the notification id, the same on
every retry, so a receiver can drop a repeat). Signing the timestamp with the body lets a
receiver refuse a replayed request: :func:`verify_signature` does both checks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from krsn.detection.models import NotificationType
from krsn.detection.notify.channels.base import (
    Delivery,
    Message,
    Notifier,
    Outcome,
    Result,
    http_url,
    post,
)

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookConfig",
    "WebhookNotifier",
    "sign",
    "verify_signature",
]

TIMESTAMP_HEADER = "X-KRSN-Timestamp"
SIGNATURE_HEADER = "X-KRSN-Signature"
EVENT_HEADER = "X-KRSN-Event"
DELIVERY_HEADER = "X-KRSN-Delivery"

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers the request sets itself: a channel may not forge or break them.
_RESERVED = frozenset({"content-type", "content-length", "host", "transfer-encoding", "connection"})


class WebhookConfig(BaseModel):
    """Where to POST, extra headers (a bearer token, say) and the signing secret."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="http:// or https:// endpoint.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers, such as Authorization."
    )
    signing_secret: str | None = Field(
        None,
        min_length=16,
        max_length=256,
        description="Key of the HMAC-SHA256 signature; generated when left out.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20:
            raise ValueError("at most 20 headers")
        for name, text in value.items():
            if not _TOKEN.match(name) or len(name) > 100:
                raise ValueError(f"{name!r} is not a header name")
            lowered = name.lower()
            if lowered in _RESERVED or lowered.startswith("x-krsn-"):
                raise ValueError(f"{name} is set by the platform itself")
            if any(c in text for c in "\r\n\x00") or len(text) > 4096:
                raise ValueError(f"the value of {name} must be one line of at most 4096 characters")
        return value


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-KRSN-Signature`` value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """Whether a webhook request is genuine: the signature matches (compared in constant
    time) and the timestamp is within ``tolerance_seconds`` of now."""
    try:
        sent = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature.strip())


def payload(message: Message) -> dict[str, Any]:
    """The JSON document a webhook receives."""
    return {
        "event": message.event,
        "notification_id": str(message.notification_id) if message.notification_id else None,
        "title": message.title,
        "message": message.text,
        "link": message.link,
        "alert": message.alert,
    }


class WebhookNotifier(Notifier):
    """POSTs the alert as signed JSON; any 2xx answer is a delivery."""

    kind: ClassVar[NotificationType] = NotificationType.WEBHOOK
    config_model: ClassVar[type[BaseModel]] = WebhookConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"signing_secret", "headers"})

    def complete(self, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        if config.get("signing_secret"):
            return config, {}
        generated = secrets.token_urlsafe(32)
        return {**config, "signing_secret": generated}, {"signing_secret": generated}

    def destinations(self, config: BaseModel) -> dict[str, str]:
        assert isinstance(config, WebhookConfig)
        return {"url": config.url}

    def send(self, config: BaseModel, message: Message, delivery: Delivery) -> Result:
        assert isinstance(config, WebhookConfig)
        if not config.signing_secret:
            return Result(Outcome.FAILED_PERMANENT, "the channel has no signing secret")
        body = json.dumps(payload(message), separators=(",", ":"), sort_keys=True).encode()
        timestamp = int(time.time())
        headers = {
            **config.headers,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(config.signing_secret, timestamp, body),
            EVENT_HEADER: message.event,
        }
        if message.notification_id is not None:
            headers[DELIVERY_HEADER] = str(message.notification_id)
        return post(delivery, config.url, content=body, headers=headers)
