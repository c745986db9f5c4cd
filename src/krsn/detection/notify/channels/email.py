"""E-mail through SMTP: a plain-text message with an HTML alternative, to one or more addresses.

SMTP gives no delivery receipt: the server's acceptance ends the platform's part, so an
accepted message is ``sent``, never ``delivered``. A 4xx reply or a lost connection is tried
again later; a 5xx reply is final.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from krsn.config import Settings
from krsn.detection.models import NotificationType
from krsn.detection.notify.channels.base import Delivery, Message, Notifier, Outcome, Result

__all__ = ["EmailConfig", "EmailNotifier", "email_message"]


class EmailConfig(BaseModel):
    """The addresses a channel mails."""

    model_config = ConfigDict(extra="forbid")

    to: list[EmailStr] = Field(min_length=1, max_length=20, description="One to 20 addresses.")

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def email_message(message: Message, *, sender: str, to: list[str]) -> EmailMessage:
    """The e-mail of one notification: subject, plain text, and the same as escaped HTML."""
    mail = EmailMessage()
    mail["Subject"] = message.title.replace("\r", " ").replace("\n", " ")
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if message.notification_id is not None:
        mail["X-KRSN-Notification"] = str(message.notification_id)
    mail.set_content(message.text)
    link = ""
    if message.link and message.link.startswith(("http://", "https://")):
        href = html.escape(message.link, quote=True)
        link = f'<p><a href="{href}">Open the alert</a></p>'
    mail.add_alternative(
        "<!doctype html><html><body>"
        f"<h2>{html.escape(message.title)}</h2>"
        f'<pre style="font-family: inherit; white-space: pre-wrap">{html.escape(message.text)}'
        f"</pre>{link}</body></html>",
        subtype="html",
    )
    return mail


def _connect(settings: Settings, timeout: float) -> smtplib.SMTP:
    host, port = settings.notify_smtp_host, settings.notify_smtp_port
    if settings.notify_smtp_tls == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    client = smtplib.SMTP(host, port, timeout=timeout)
    if settings.notify_smtp_tls == "starttls":
        client.starttls(context=ssl.create_default_context())
    return client


def _reply(code: int, text: bytes | str) -> str:
    said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {said}".strip()


class EmailNotifier(Notifier):
    """Mails through the configured SMTP server; accepted is ``sent``."""

    kind: ClassVar[NotificationType] = NotificationType.EMAIL
    config_model: ClassVar[type[BaseModel]] = EmailConfig

    def send(self, config: BaseModel, message: Message, delivery: Delivery) -> Result:
        assert isinstance(config, EmailConfig)
        settings = delivery.settings
        to = [str(address) for address in config.to]
        mail = email_message(message, sender=settings.notify_smtp_from, to=to)
        try:
            with _connect(settings, delivery.timeout) as client:
                if settings.notify_smtp_username:
                    client.login(settings.notify_smtp_username, settings.notify_smtp_password or "")
                refused = client.send_message(
                    mail, from_addr=settings.notify_smtp_from, to_addrs=to
                )
        except smtplib.SMTPRecipientsRefused as exc:
            replies = {a: _reply(code, text) for a, (code, text) in exc.recipients.items()}
            final = all(code >= 500 for code, _ in exc.recipients.values())
            return Result(
                Outcome.FAILED_PERMANENT if final else Outcome.FAILED_RETRYABLE,
                f"every recipient refused: {replies}",
            )
        except smtplib.SMTPResponseException as exc:
            final = exc.smtp_code >= 500
            return Result(
                Outcome.FAILED_PERMANENT if final else Outcome.FAILED_RETRYABLE,
                f"SMTP server answered {_reply(exc.smtp_code, exc.smtp_error)}",
            )
        except (smtplib.SMTPException, OSError) as exc:
            # Refused or lost connections, timeouts and TLS failures may all pass.
            return Result(
                Outcome.FAILED_RETRYABLE,
                f"SMTP {settings.notify_smtp_host}:{settings.notify_smtp_port}: "
                f"{type(exc).__name__}: {exc}",
            )
        if refused:
            replies = {a: _reply(code, text) for a, (code, text) in refused.items()}
            return Result(
                Outcome.SENT,
                f"accepted for {len(to) - len(refused)} of {len(to)}; refused: {replies}",
            )
        return Result(Outcome.SENT, f"accepted by {settings.notify_smtp_host} for {len(to)}")
