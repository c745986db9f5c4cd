"""The notifier interface: one class per channel type, each with its own Pydantic config.

A notifier validates what a channel stores (:attr:`Notifier.config_model`), names the fields
of that config that are secrets (kept encrypted, never shown), the URLs the platform will
call for it (checked against the egress policy when the channel is saved), and sends one
message, answering with an :class:`Outcome`. It never raises for a failed delivery: the
outcome says whether a later attempt may succeed.
"""

from __future__ import annotations

import enum
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from krsn.config import Settings
from krsn.detection.models import NotificationType
from krsn.feeds.egress import EgressRefused, guarded_client

__all__ = [
    "Delivery",
    "Message",
    "Notifier",
    "Outcome",
    "Result",
    "allowed_hosts",
    "http_outcome",
    "http_url",
    "post",
]


class Outcome(enum.StrEnum):
    """How one attempt ended."""

    DELIVERED = "delivered"
    """The receiver answered that it has the message (an HTTP 2xx)."""
    SENT = "sent"
    """Handed over to a relay that gives no receipt (an SMTP server accepted it)."""
    FAILED_PERMANENT = "failed_permanent"
    """Refused for a reason a retry would not change (4xx, a refused address)."""
    FAILED_RETRYABLE = "failed_retryable"
    """Failed for a reason that may pass (timeout, connection refused, 5xx, 408, 429)."""


@dataclass(frozen=True, slots=True)
class Result:
    """An attempt's outcome and what the receiver or the error said."""

    outcome: Outcome
    message: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One notification as every channel renders it."""

    event: str
    """``alert.created``, ``alert.escalated`` (its severity rose), or ``notification.test``
    for a channel test."""
    title: str
    text: str
    """The plain-text body: what e-mail, SMS and Slack's fallback show."""
    alert: dict[str, Any] = field(default_factory=dict)
    """The JSON-safe snapshot of the alert taken when the notification was queued."""
    link: str | None = None
    """Where the alert is shown: a path, or a full URL when the public address is set."""
    notification_id: uuid.UUID | None = None


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """The hosts and networks the egress policy lets through (``KRSN_EGRESS_ALLOWED_HOSTS``)."""
    return frozenset(h.strip() for h in settings.egress_allowed_hosts.split(",") if h.strip())


@dataclass(frozen=True)
class Delivery:
    """What an attempt may use: the settings and an egress-guarded HTTP client."""

    settings: Settings

    @property
    def timeout(self) -> float:
        return self.settings.notify_timeout_seconds

    def client(self) -> httpx.Client:
        """An HTTP client that refuses private addresses unless allowed, checked again at
        connection time (DNS may have changed since the channel was saved)."""
        return guarded_client(
            allow_private=self.settings.egress_allow_private,
            allowed_hosts=allowed_hosts(self.settings),
            timeout=self.timeout,
            headers={"User-Agent": "krsn-notifier/1"},
        )


def http_outcome(response: httpx.Response) -> Result:
    """The outcome of an HTTP answer: 2xx delivered; 408, 429 and 5xx worth retrying; any
    other status refused for good."""
    status = response.status_code
    excerpt = response.text[:200].strip()
    said = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if 200 <= status < 300:
        return Result(Outcome.DELIVERED, said)
    if status in (408, 429) or status >= 500:
        return Result(Outcome.FAILED_RETRYABLE, said)
    return Result(Outcome.FAILED_PERMANENT, said)


def post(
    delivery: Delivery, url: str, *, content: bytes, headers: dict[str, str] | None = None
) -> Result:
    """POST ``content`` as JSON to ``url`` through the egress guard, as an outcome."""
    try:
        with delivery.client() as client:
            response = client.post(
                url,
                content=content,
                headers={"Content-Type": "application/json", **(headers or {})},
            )
    except EgressRefused as exc:
        return Result(Outcome.FAILED_PERMANENT, exc.detail)
    except httpx.InvalidURL as exc:
        return Result(Outcome.FAILED_PERMANENT, f"invalid URL: {exc}")
    except httpx.TimeoutException as exc:
        return Result(
            Outcome.FAILED_RETRYABLE,
            f"no answer within {delivery.timeout:g} s ({type(exc).__name__})",
        )
    except httpx.HTTPError as exc:
        return Result(Outcome.FAILED_RETRYABLE, f"{type(exc).__name__}: {exc}")
    return http_outcome(response)


def http_url(value: str) -> str:
    """``value`` if it is an http or https URL with a host and no credentials in it."""
    value = value.strip()
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        url = httpx.URL(value)
        # The egress check reads the URL with urllib: both must agree it is one.
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError(f"is not a URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host or not host:
        raise ValueError("must be an http:// or https:// URL with a host")
    if url.userinfo:
        raise ValueError("must not hold a user name or password; send credentials in a header")
    return value


class Notifier(ABC):
    """A channel type. Subclasses set the class attributes and implement :meth:`send`."""

    kind: ClassVar[NotificationType]
    config_model: ClassVar[type[BaseModel]]
    """Validates a channel's whole config, secret fields included."""
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields of the config stored encrypted and never shown again."""

    def complete(self, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The config with what the notifier generates when missing (a signing secret), and
        those generated values, shown once to the creator."""
        return config, {}

    def destinations(self, config: BaseModel) -> dict[str, str]:
        """The URLs a delivery on this config calls, by config field, for the egress check
        when the channel is saved."""
        return {}

    def check(self, settings: Settings) -> str | None:
        """Why no channel of this type can work with these settings, or None."""
        return None

    @abstractmethod
    def send(self, config: BaseModel, message: Message, delivery: Delivery) -> Result:
        """Send ``message`` on a channel of ``config``; never raises for a failed delivery."""
