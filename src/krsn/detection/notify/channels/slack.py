"""Slack incoming webhooks (and the Slack-compatible ones of Mattermost or Rocket.Chat).

The message is ``{"text": ..., "blocks": [...]}``: ``text`` is the fallback notifications
and old clients show, the blocks a header, the severity, indicator and rule as fields, and
the link to the alert. The webhook URL is itself the credential (anyone holding it may post
to the channel), so it is stored encrypted and never shown again.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from krsn.detection.models import NotificationType
from krsn.detection.notify.channels.base import (
    Delivery,
    Message,
    Notifier,
    Result,
    http_url,
    post,
)

__all__ = ["SlackConfig", "SlackNotifier", "slack_payload"]

_HEADER_LIMIT = 150  # Slack refuses a longer header block
_FIELD_LIMIT = 2000


class SlackConfig(BaseModel):
    """The incoming-webhook URL Slack gave for one channel."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str = Field(
        max_length=2048, description="https://hooks.slack.com/services/… (a secret)."
    )

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)


def _escape(text: str) -> str:
    """Text for Slack's mrkdwn: its three control characters escaped, as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(message: Message) -> dict[str, Any]:
    """The incoming-webhook JSON of one notification."""
    alert = message.alert
    severity = str(alert.get("severity") or "-")
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{_escape(severity)}"},
        {"type": "mrkdwn", "text": f"*Status*\n{_escape(str(alert.get('status') or '-'))}"},
    ]
    if alert.get("indicator"):
        indicator = _clip(str(alert["indicator"]), _FIELD_LIMIT - 20).replace("`", "'")
        fields.append({"type": "mrkdwn", "text": f"*Indicator*\n`{_escape(indicator)}`"})
    if alert.get("rule_name"):
        fields.append({"type": "mrkdwn", "text": f"*Rule*\n{_escape(str(alert['rule_name']))}"})
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(message.title, _HEADER_LIMIT)},
        },
        {"type": "section", "fields": fields},
    ]
    description = alert.get("description")
    if description:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(_escape(str(description)), 2900)},
            }
        )
    if message.link:
        shown = (
            f"<{message.link}|Open the alert>"
            if message.link.startswith(("http://", "https://"))
            else f"Alert: `{_escape(message.link)}`"
        )
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": shown}]})
    return {"text": _escape(message.title), "blocks": blocks}


class SlackNotifier(Notifier):
    """Posts to a Slack incoming webhook; Slack's 200 ``ok`` is a delivery."""

    kind: ClassVar[NotificationType] = NotificationType.SLACK
    config_model: ClassVar[type[BaseModel]] = SlackConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"webhook_url"})

    def destinations(self, config: BaseModel) -> dict[str, str]:
        assert isinstance(config, SlackConfig)
        return {"webhook_url": config.webhook_url}

    def send(self, config: BaseModel, message: Message, delivery: Delivery) -> Result:
        assert isinstance(config, SlackConfig)
        body = json.dumps(slack_payload(message), ensure_ascii=False).encode()
        return post(delivery, config.webhook_url, content=body)
