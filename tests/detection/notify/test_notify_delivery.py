"""Delivery over real channels: SMTP to a local aiosmtpd, webhooks, Slack and an SMS provider
to local HTTP servers; back-off, permanent failures, dead endpoints, racing dispatchers and
the egress guard at send time. Everything runs on both engines."""

from __future__ import annotations

import email
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message as MailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from detection_support import add_rule, add_user
from krsn.config import Settings
from krsn.db import Database
from krsn.detection.models import (
    Alert,
    AlertSeverity,
    Notification,
    NotificationStatus,
)
from krsn.detection.notify import delivery, service
from krsn.detection.notify.channels.webhook import verify_signature
from krsn.detection.notify.dispatcher import NotificationDispatcher
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog

# --- local endpoints -------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every POST and answers as told."""

    status: int = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append(Received(self.path, dict(self.headers.items()), body))
                if owner.delay:
                    time.sleep(owner.delay)
                try:
                    self.send_response(owner.status)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok" if owner.status < 300 else b"no such hook")
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(**options: Any) -> Receiver:
        receiver = Receiver(**options)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_url() -> str:
    """A URL on a port where nothing listens: the connection is refused."""
    return f"http://127.0.0.1:{free_port()}/hook"


class Inbox:
    """An aiosmtpd handler keeping what it accepts; refuses recipients at ``refuse``."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


# --- rows ------------------------------------------------------------------------------------


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "egress_allowed_hosts": "127.0.0.1",
        "notify_timeout_seconds": 2.0,
        "notify_retry_base_seconds": 10.0,
        "notify_retry_max_seconds": 35.0,
        "notify_max_attempts": 3,
        **overrides,
    }
    return Settings(**values)


def make_user(db: Database, name: str, *, active: bool = True) -> uuid.UUID:
    with db.transaction() as session:
        return add_user(session, name, active=active)


def make_rule(db: Database, name: str) -> uuid.UUID:
    with db.transaction() as session:
        return add_rule(session, name)


def make_channel(
    db: Database, settings: Settings, kind: str, config: dict[str, Any], **owner: Any
) -> tuple[uuid.UUID, dict[str, str]]:
    with db.transaction() as session:
        channel, generated = service.create_channel(
            session,
            actor=Actor.system(),
            audience=service.Audience.all(),
            settings=settings,
            name=f"{kind} channel",
            notification_type=kind,
            config=config,
            **owner,
        )
        return channel.id, generated


def raise_alert(
    db: Database,
    *,
    title: str = "Beacon to 203.0.113.9",
    severity: AlertSeverity = AlertSeverity.HIGH,
    rule_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A new alert, queued as the alert service does; its id and its notifications' ids."""
    with db.transaction() as session:
        alert = Alert(
            title=title,
            description="203.0.113.9 (ipv4) seen on host web-1.",
            severity=severity,
            rule_id=rule_id,
            alert_data={"canonical": "203.0.113.9", "kind": "ipv4", "rule_name": "C2 beacons"},
        )
        session.add(alert)
        session.flush()
        queued = service.queue_for_alert(session, alert, created=True)
        session.flush()
        return alert.id, [n.id for n in queued]


def notification(db: Database, notification_id: uuid.UUID) -> Notification:
    with db.transaction(readonly=True) as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        return row


def later(seconds: float = 0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# --- e-mail ----------------------------------------------------------------------------------


def test_email_goes_through_smtp_with_subject_recipients_and_an_escaped_html_part(
    db: Database, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    settings = settings_for(
        tmp_path,
        notify_smtp_host="127.0.0.1",
        notify_smtp_port=port,
        notify_smtp_from="alerts@krsn.example.org",
        notify_base_url="https://krsn.example.org/",
    )
    user = make_user(db, "mallory")
    make_channel(
        db, settings, "email", {"to": ["soc@example.org", "oncall@example.org"]}, user_id=user
    )
    alert_id, [queued] = raise_alert(db, title="Beacon to <evil> & co")

    report = delivery.deliver_due(db, settings)

    assert (report.claimed, report.sent, report.delivered) == (1, 1, 0)
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "alerts@krsn.example.org"
    assert sorted(envelope.rcpt_tos) == ["oncall@example.org", "soc@example.org"]
    mail = email.message_from_bytes(envelope.content)
    assert mail["Subject"] == "[HIGH] Beacon to <evil> & co"
    assert mail["X-KRSN-Notification"] == str(queued)
    parts: dict[str, MailMessage] = {p.get_content_type(): p for p in mail.walk()}
    plain = parts["text/plain"].get_payload(decode=True).decode()
    html = parts["text/html"].get_payload(decode=True).decode()
    assert "203.0.113.9" in plain
    assert f"https://krsn.example.org/alerts/{alert_id}" in plain
    assert "&lt;evil&gt; &amp; co" in html and "<evil>" not in html
    row = notification(db, queued)
    # SMTP gives no receipt: accepted is sent, never delivered.
    assert row.status is NotificationStatus.SENT
    assert row.sent_at is not None and row.delivered_at is None


def test_a_recipient_the_smtp_server_refuses_for_good_fails_the_notification(
    db: Database, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.refuse["gone@example.org"] = "550 No such user"
    settings = settings_for(tmp_path, notify_smtp_host="127.0.0.1", notify_smtp_port=port)
    make_channel(db, settings, "email", {"to": "gone@example.org"}, user_id=make_user(db, "u1"))
    _, [queued] = raise_alert(db)

    delivery.deliver_due(db, settings)

    row = notification(db, queued)
    assert row.status is NotificationStatus.FAILED
    assert row.retry_count == 0
    assert "550" in (row.last_error or "")
    assert inbox.envelopes == []


def test_an_smtp_server_that_is_down_is_retried(db: Database, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, notify_smtp_host="127.0.0.1", notify_smtp_port=free_port())
    make_channel(db, settings, "email", {"to": "soc@example.org"}, user_id=make_user(db, "u2"))
    _, [queued] = raise_alert(db)
    now = later()

    delivery.deliver_due(db, settings, now=now)

    row = notification(db, queued)
    assert row.status is NotificationStatus.PENDING
    assert row.retry_count == 1
    assert row.next_attempt_at == now + timedelta(seconds=20)
    assert "SMTP" in (row.last_error or "")


# --- webhooks, Slack, SMS --------------------------------------------------------------------


def test_webhook_is_signed_so_the_receiver_can_verify_it_with_the_secret(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    receiver = receivers()
    settings = settings_for(tmp_path)
    _, generated = make_channel(
        db,
        settings,
        "webhook",
        {"url": receiver.url, "headers": {"Authorization": "Bearer hook-token"}},
        user_id=make_user(db, "u3"),
    )
    secret = generated["signing_secret"]
    alert_id, [queued] = raise_alert(db)

    report = delivery.deliver_due(db, settings)

    assert report.delivered == 1
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    timestamp, signature = headers["x-krsn-timestamp"], headers["x-krsn-signature"]
    assert verify_signature(secret, timestamp, request.body, signature)
    assert not verify_signature("another-secret-of-some-length", timestamp, request.body, signature)
    assert not verify_signature(secret, timestamp, request.body + b" ", signature)
    # A replay outside the tolerance is refused even with a good signature.
    assert not verify_signature(
        secret, timestamp, request.body, signature, now=int(timestamp) + 301
    )
    assert headers["authorization"] == "Bearer hook-token"
    assert headers["x-krsn-delivery"] == str(queued)
    body = request.json()
    assert body["event"] == "alert.created"
    assert body["alert"]["id"] == str(alert_id)
    assert body["alert"]["indicator"] == "203.0.113.9"
    assert body["link"] == f"/alerts/{alert_id}"
    row = notification(db, queued)
    assert row.status is NotificationStatus.DELIVERED
    assert row.sent_at is not None and row.delivered_at is not None


def test_slack_gets_an_incoming_webhook_message_with_severity_indicator_and_link(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    receiver = receivers()
    settings = settings_for(tmp_path, notify_base_url="https://krsn.example.org")
    make_channel(db, settings, "slack", {"webhook_url": receiver.url}, user_id=make_user(db, "u4"))
    alert_id, _ = raise_alert(db, title="Beacon to <203.0.113.9>", severity=AlertSeverity.CRITICAL)

    delivery.deliver_due(db, settings)

    [request] = receiver.requests
    payload = request.json()
    assert payload["text"] == "[CRITICAL] Beacon to &lt;203.0.113.9&gt;"
    header, section, *rest = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[CRITICAL] Beacon to <203.0.113.9>"},
    }
    fields = [f["text"] for f in section["fields"]]
    assert "*Severity*\ncritical" in fields
    assert "*Indicator*\n`203.0.113.9`" in fields
    assert "*Rule*\nC2 beacons" in fields
    context = rest[-1]
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == (
        f"<https://krsn.example.org/alerts/{alert_id}|Open the alert>"
    )


def test_sms_goes_to_the_provider_in_its_json_template(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    provider = receivers()
    settings = settings_for(
        tmp_path,
        notify_sms_url=provider.url,
        notify_sms_token="provider-token",
        notify_sms_body='{"to": "{to}", "text": "{message}", "from": "KRSN"}',
    )
    make_channel(db, settings, "sms", {"to": "+1 555 123 4567"}, user_id=make_user(db, "u5"))
    alert_id, [queued] = raise_alert(db, title='Beacon to "evil" host')

    delivery.deliver_due(db, settings)

    [request] = provider.requests
    assert request.headers["Authorization"] == "Bearer provider-token"
    assert request.json() == {
        "to": "+15551234567",
        "text": f'[HIGH] Beacon to "evil" host /alerts/{alert_id}',
        "from": "KRSN",
    }
    assert notification(db, queued).status is NotificationStatus.DELIVERED


# --- failures, back-off, races ---------------------------------------------------------------


def test_a_dead_endpoint_backs_off_then_fails_while_the_others_are_delivered(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    live = receivers()
    slow = receivers(delay=3.0)
    settings = settings_for(tmp_path, notify_timeout_seconds=0.5)
    user = make_user(db, "u6")
    dead_channel, _ = make_channel(db, settings, "webhook", {"url": dead_url()}, user_id=user)
    slow_channel, _ = make_channel(db, settings, "webhook", {"url": slow.url}, user_id=user)
    live_channel, _ = make_channel(db, settings, "webhook", {"url": live.url}, user_id=user)
    _, queued = raise_alert(db)
    by_channel = {notification(db, n).channel_id: n for n in queued}
    dead, timed_out, good = (by_channel[c] for c in (dead_channel, slow_channel, live_channel))

    t0 = later()
    started = time.monotonic()
    first = delivery.deliver_due(db, settings, now=t0)
    # The slow endpoint cost one timeout, not its three seconds.
    assert time.monotonic() - started < 2.5
    assert (first.claimed, first.delivered, first.retrying) == (3, 1, 2)
    assert len(live.requests) == 1
    assert notification(db, good).status is NotificationStatus.DELIVERED
    for failing in (dead, timed_out):
        row = notification(db, failing)
        assert row.status is NotificationStatus.PENDING
        assert row.retry_count == 1
        assert row.next_attempt_at == t0 + timedelta(seconds=20)  # base 10 × 2^1
        assert row.last_error
    assert "no answer within 0.5 s" in (notification(db, timed_out).last_error or "")

    # Not due before its time.
    assert delivery.deliver_due(db, settings, now=t0 + timedelta(seconds=19)).claimed == 0

    t1 = t0 + timedelta(seconds=20)
    second = delivery.deliver_due(db, settings, now=t1)
    assert second.claimed == 2
    row = notification(db, dead)
    assert row.retry_count == 2
    assert row.next_attempt_at == t1 + timedelta(seconds=35)  # 40 s, capped at 35

    t2 = t1 + timedelta(seconds=35)
    third = delivery.deliver_due(db, settings, now=t2)
    assert third.failed == 2
    for failing in (dead, timed_out):
        row = notification(db, failing)
        assert row.status is NotificationStatus.FAILED
        assert row.retry_count == 3
        assert row.next_attempt_at is None
    assert delivery.deliver_due(db, settings, now=t2 + timedelta(days=1)).claimed == 0
    assert len(live.requests) == 1


@pytest.mark.parametrize(
    ("status", "expected", "retries"),
    [
        (400, NotificationStatus.FAILED, 0),
        (404, NotificationStatus.FAILED, 0),
        (410, NotificationStatus.FAILED, 0),
        (408, NotificationStatus.PENDING, 1),
        (429, NotificationStatus.PENDING, 1),
        (503, NotificationStatus.PENDING, 1),
    ],
)
def test_client_errors_fail_at_once_and_the_rest_are_retried(
    db: Database,
    tmp_path: Path,
    receivers: Any,
    status: int,
    expected: NotificationStatus,
    retries: int,
) -> None:
    receiver = receivers(status=status)
    settings = settings_for(tmp_path)
    make_channel(db, settings, "webhook", {"url": receiver.url}, user_id=make_user(db, "u7"))
    _, [queued] = raise_alert(db)

    delivery.deliver_due(db, settings)

    row = notification(db, queued)
    assert (row.status, row.retry_count) == (expected, retries)
    assert (row.last_error or "").startswith(f"HTTP {status}")
    assert len(receiver.requests) == 1


def test_two_dispatchers_at_once_never_send_one_notification_twice(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    receiver = receivers(delay=0.02)
    settings = settings_for(tmp_path, notify_workers=3)
    make_channel(db, settings, "webhook", {"url": receiver.url}, user_id=make_user(db, "u8"))
    queued = [n for i in range(24) for n in raise_alert(db, title=f"alert {i}")[1]]
    other = Database(db.url)  # a second engine, as another process would have
    now = later()
    barrier = threading.Barrier(4)
    reports: list[Any] = []

    def run(database: Database) -> None:
        barrier.wait()
        reports.append(delivery.deliver_due(database, settings, now=now, limit=10))
        reports.append(delivery.deliver_due(database, settings, now=now, limit=10))

    try:
        threads = [threading.Thread(target=run, args=(d,)) for d in (db, other, db, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other.dispose()

    sent = [r.headers["X-KRSN-Delivery"] for r in receiver.requests]
    assert sorted(sent) == sorted(str(n) for n in queued)
    assert sum(r.claimed for r in reports) == len(queued)
    with db.transaction(readonly=True) as session:
        statuses = session.scalars(select(Notification.status)).all()
    assert set(statuses) == {NotificationStatus.DELIVERED}


def test_delivery_checks_the_egress_policy_again(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    receiver = receivers()
    allowed = settings_for(tmp_path)
    make_channel(db, allowed, "webhook", {"url": receiver.url}, user_id=make_user(db, "u9"))
    _, [queued] = raise_alert(db)
    # The allowance was withdrawn after the channel was saved.
    refused = settings_for(tmp_path, egress_allowed_hosts="")

    delivery.deliver_due(db, refused)

    row = notification(db, queued)
    assert row.status is NotificationStatus.FAILED
    assert "loopback" in (row.last_error or "")
    assert receiver.requests == []


def test_a_notification_whose_channel_is_gone_or_off_fails(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    receiver = receivers()
    settings = settings_for(tmp_path)
    user = make_user(db, "u10")
    deleted, _ = make_channel(db, settings, "webhook", {"url": receiver.url}, user_id=user)
    off, _ = make_channel(db, settings, "webhook", {"url": receiver.url}, user_id=user)
    _, queued = raise_alert(db)
    with db.transaction() as session:
        service.delete_channel(
            session,
            service.get_channel(session, deleted, audience=service.Audience.all()),
            actor=Actor.system(),
        )
        service.update_channel(
            session,
            service.get_channel(session, off, audience=service.Audience.all()),
            actor=Actor.system(),
            settings=settings,
            changes={"is_active": False},
        )

    delivery.deliver_due(db, settings)

    errors = sorted(notification(db, n).last_error or "" for n in queued)
    assert errors == ["the channel is turned off", "the channel was deleted"]
    assert receiver.requests == []


def test_the_dispatcher_delivers_in_the_background_when_woken(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    receiver = receivers()
    settings = settings_for(tmp_path, notify_poll_seconds=3600)
    make_channel(db, settings, "webhook", {"url": receiver.url}, user_id=make_user(db, "u11"))
    dispatcher = NotificationDispatcher(db, settings)
    dispatcher.start()
    try:
        deadline = time.monotonic() + 10
        while dispatcher.passes < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        _, [queued] = raise_alert(db)
        dispatcher.wake()
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        dispatcher.stop()
    assert not dispatcher.running
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["X-KRSN-Delivery"] == str(queued)


def test_a_channel_test_sends_now_and_is_audited(
    db: Database, tmp_path: Path, receivers: Any
) -> None:
    receiver = receivers()
    settings = settings_for(tmp_path)
    channel, generated = make_channel(
        db, settings, "webhook", {"url": receiver.url}, user_id=make_user(db, "u12")
    )

    attempt = delivery.send_test(
        db, settings, channel_id=channel, audience=service.Audience.all(), actor=Actor.system()
    )

    assert attempt.outcome.value == "delivered"
    [request] = receiver.requests
    assert request.json()["event"] == "notification.test"
    assert verify_signature(
        generated["signing_secret"],
        request.headers["X-KRSN-Timestamp"],
        request.body,
        request.headers["X-KRSN-Signature"],
    )
    with db.transaction(readonly=True) as session:
        rows = session.scalars(
            select(AuditLog).where(AuditLog.action == "notification_channel.test")
        ).all()
    assert [(r.resource_id, r.details["outcome"]) for r in rows] == [(str(channel), "delivered")]
