"""SMS through an HTTP provider: one JSON body per message, from a template in the settings.

``KRSN_NOTIFY_SMS_BODY`` is the JSON document posted to ``KRSN_NOTIFY_SMS_URL``, with
``{to}`` and ``{message}`` replaced by the number and the text, JSON-escaped, so the
template fits any provider that takes JSON (``{"to": "{to}", "body": "{message}"}``).
"""

from __future__ import annotations

import json
import re
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from krsn.config import Settings
from krsn.detection.models import NotificationType
from krsn.detection.notify.channels.base import Delivery, Message, Notifier, Outcome, Result, post

__all__ = ["SMS_LIMIT", "SmsConfig", "SmsNotifier", "sms_body", "sms_text"]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SMS_LIMIT = 480
"""Longest text sent: three concatenated SMS segments."""


class SmsConfig(BaseModel):
    """The phone number to text, in E.164 form."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="E.164 number: +, country code, number (+15551234567).")

    @field_validator("to")
    @classmethod
    def _e164(cls, value: str) -> str:
        compact = re.sub(r"[\s().-]", "", value)
        if not _E164.match(compact):
            raise ValueError("must be an E.164 number: + then the country code and number")
        return compact


def sms_text(message: Message) -> str:
    """The short text of a notification: its title and the link."""
    text = message.title + (f" {message.link}" if message.link else "")
    return text if len(text) <= SMS_LIMIT else text[: SMS_LIMIT - 1] + "…"


def _escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def sms_body(template: str, *, to: str, text: str) -> bytes:
    """The provider's JSON body; ValueError when the template is not JSON once filled."""
    filled = template.replace("{to}", _escaped(to)).replace("{message}", _escaped(text))
    try:
        json.loads(filled)
    except json.JSONDecodeError as exc:
        raise ValueError(f"KRSN_NOTIFY_SMS_BODY is not JSON once filled in: {exc}") from None
    return filled.encode()


class SmsNotifier(Notifier):
    """Texts the title and link through the configured provider; its 2xx is a delivery."""

    kind: ClassVar[NotificationType] = NotificationType.SMS
    config_model: ClassVar[type[BaseModel]] = SmsConfig

    def check(self, settings: Settings) -> str | None:
        if not settings.notify_sms_url:
            return "no SMS provider is configured; an admin sets KRSN_NOTIFY_SMS_URL"
        return None

    def send(self, config: BaseModel, message: Message, delivery: Delivery) -> Result:
        assert isinstance(config, SmsConfig)
        settings = delivery.settings
        problem = self.check(settings)
        if problem or not settings.notify_sms_url:
            return Result(Outcome.FAILED_PERMANENT, problem or "no SMS provider")
        try:
            body = sms_body(settings.notify_sms_body, to=config.to, text=sms_text(message))
        except ValueError as exc:
            return Result(Outcome.FAILED_PERMANENT, str(exc))
        headers = {}
        if settings.notify_sms_token:
            headers["Authorization"] = f"Bearer {settings.notify_sms_token}"
        return post(delivery, settings.notify_sms_url, content=body, headers=headers)
