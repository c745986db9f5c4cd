"""The notifier plugins as installed, and the pure parts of their formats."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from krsn.detection.models import NotificationType
from krsn.detection.notify.channels import notifier_for, notifiers
from krsn.detection.notify.channels.base import Message, Notifier
from krsn.detection.notify.channels.email import EmailConfig
from krsn.detection.notify.channels.sms import SMS_LIMIT, SmsConfig, sms_body, sms_text
from krsn.detection.notify.channels.webhook import WebhookConfig, sign, verify_signature
from krsn.errors import Invalid


def test_every_channel_type_has_a_notifier_found_through_entry_points() -> None:
    found = notifiers()
    assert set(found) == set(NotificationType)
    for kind, notifier in found.items():
        assert isinstance(notifier, Notifier)
        assert notifier.kind is kind
    with pytest.raises(Invalid) as refused:
        notifier_for("pager")
    assert refused.value.field == "notification_type"


@given(secret=st.text(min_size=1), body=st.binary(), timestamp=st.integers(0, 2**40))
def test_a_signature_verifies_only_with_its_secret_body_and_time(
    secret: str, body: bytes, timestamp: int
) -> None:
    signature = sign(secret, timestamp, body)
    assert verify_signature(secret, timestamp, body, signature, now=timestamp)
    assert verify_signature(secret, str(timestamp), body, signature, now=timestamp + 300)
    assert not verify_signature(secret, timestamp, body, signature, now=timestamp + 301)
    assert not verify_signature(secret + "x", timestamp, body, signature, now=timestamp)
    assert not verify_signature(secret, timestamp, body + b"x", signature, now=timestamp)
    assert not verify_signature(secret, timestamp + 1, body, signature, now=timestamp)
    assert not verify_signature(secret, "not a time", body, signature, now=timestamp)


@given(number=st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True), title=st.text(max_size=600))
def test_the_sms_template_stays_json_whatever_the_alert_says(number: str, title: str) -> None:
    text = sms_text(Message(event="alert.created", title=title, text="", link="/alerts/1"))
    assert len(text) <= SMS_LIMIT
    body = sms_body('{"to": "{to}", "text": "{message}", "n": 1}', to=number, text=text)
    assert json.loads(body) == {"to": number, "text": text, "n": 1}


def test_an_sms_template_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        sms_body('{"to": {to}}', to="+15551234567", text="x")


def test_configs_validate_their_fields() -> None:
    assert SmsConfig(to="+1 (555) 123-4567").to == "+15551234567"
    for wrong in ("5551234567", "+0123456789", "+1555", "+1234567890123456"):
        with pytest.raises(ValidationError):
            SmsConfig(to=wrong)
    assert [str(a) for a in EmailConfig.model_validate({"to": "a@example.org"}).to] == [
        "a@example.org"
    ]
    with pytest.raises(ValidationError):
        EmailConfig.model_validate({"to": ["a@example.org"] * 21})
    secret = "s" * 16
    for url in ("javascript:alert(1)", "http:///x", "https://a b.example", "https://u:p@x.org"):
        with pytest.raises(ValidationError):
            WebhookConfig(url=url, signing_secret=secret)
    for headers in ({"Bad Name": "x"}, {"X-Ok": "a\r\nInjected: 1"}, {"Content-Type": "x"}):
        with pytest.raises(ValidationError):
            WebhookConfig(url="https://x.example", headers=headers, signing_secret=secret)
    with pytest.raises(ValidationError):
        WebhookConfig(url="https://x.example", signing_secret="short")
