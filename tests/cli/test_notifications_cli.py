"""``krsn notifications``: channels, a delivery pass, lists and retries, on both engines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from detection_support import Receiver
from krsn.config import get_settings
from krsn.detection.models import Alert, AlertSeverity
from krsn.detection.notify import service
from krsn.detection.notify.channels.webhook import verify_signature
from krsn.identity.models import Role, User


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def allowed(cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The command line with 127.0.0.1 allowed as an outbound destination."""
    monkeypatch.setenv("KRSN_EGRESS_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    with cli.database.transaction() as session:
        session.add(
            User(
                username="alice",
                email="alice@example.org",
                role=Role.ANALYST,
                password_hash="never signs in",
            )
        )
    return cli


def queue_alert(cli: Any) -> list[str]:
    with cli.database.transaction() as session:
        alert = Alert(title="Beacon", severity=AlertSeverity.HIGH)
        session.add(alert)
        session.flush()
        return [str(n.id) for n in service.queue_for_alert(session, alert, created=True)]


def test_a_channel_is_made_tested_changed_and_deleted(allowed: Any, receiver: Receiver) -> None:
    created = allowed.json(
        "notifications", "channels", "create", "ops hook",
        "--type", "webhook", "--user", "alice", "--url", receiver.url,
        "--header", "Authorization: Bearer cli-token",
    )  # fmt: skip
    secret = created["signing_secret"]
    channel_id = created["id"]
    assert created["config"] == {"url": receiver.url}
    assert created["secrets_set"] == ["headers", "signing_secret"]
    [row] = allowed.audit("notification_channel.create", channel_id)
    assert secret not in json.dumps([row.new_values, row.details])
    assert "cli-token" not in json.dumps([row.new_values, row.details])

    listed = allowed.json("notifications", "channels", "list", "--user", "alice")
    assert [c["id"] for c in listed] == [channel_id]
    assert secret not in json.dumps(listed)
    shown = allowed.json("notifications", "channels", "show", channel_id)
    assert shown["name"] == "ops hook" and "signing_secret" not in shown
    table = allowed.ok("notifications", "channels", "list").stdout
    assert "ops hook" in table and secret not in table

    tested = allowed.json("notifications", "channels", "test", channel_id)
    assert tested["outcome"] == "delivered"
    [(headers, body)] = receiver.requests
    assert headers["Authorization"] == "Bearer cli-token"
    assert verify_signature(secret, headers["X-KRSN-Timestamp"], body, headers["X-KRSN-Signature"])

    changed = allowed.json(
        "notifications", "channels", "update", channel_id, "--min-severity", "critical"
    )
    assert changed["min_severity"] == "critical" and changed["config"] == {"url": receiver.url}
    [update] = allowed.audit("notification_channel.update", channel_id)
    assert update.new_values == {"min_severity": "critical"}

    allowed.ok("notifications", "channels", "delete", channel_id)
    assert allowed.audit("notification_channel.delete", channel_id)
    gone = allowed.failed("notifications", "channels", "show", channel_id)
    assert "No notification channel" in gone.stderr


def test_a_delivery_pass_then_list_show_and_retry(allowed: Any, receiver: Receiver) -> None:
    channel_id = allowed.json(
        "notifications", "channels", "create", "hook",
        "--type", "webhook", "--user", "alice", "--url", receiver.url,
    )["id"]  # fmt: skip
    [first] = queue_alert(allowed)

    report = allowed.json("notifications", "deliver")
    assert (report["claimed"], report["delivered"]) == (1, 1)
    assert report["attempts"][0]["notification_id"] == first
    assert len(receiver.requests) == 1

    receiver.status = 404
    [second] = queue_alert(allowed)
    printed = allowed.ok("notifications", "deliver").stdout
    assert "1 due: 0 delivered, 0 sent, 0 to retry, 1 failed" in printed

    listed = allowed.json("notifications", "list", "--channel", channel_id)
    assert {n["id"]: n["status"] for n in listed} == {first: "delivered", second: "failed"}
    assert [n["id"] for n in allowed.json("notifications", "list", "--status", "failed")] == [
        second
    ]
    shown = allowed.json("notifications", "show", second)
    assert shown["last_error"].startswith("HTTP 404")
    assert shown["notification_data"]["event"] == "alert.created"

    retried = allowed.json("notifications", "retry", second)
    assert retried["status"] == "pending"
    assert allowed.audit("notification.retry", second)
    refused = allowed.failed("notifications", "retry", first)
    assert "Only failed notifications are retried" in refused.stderr

    receiver.status = 200
    assert allowed.json("notifications", "deliver")["delivered"] == 1
    assert allowed.json("notifications", "show", second)["status"] == "delivered"


def test_channels_for_the_wrong_place_fail_cleanly(cli: Any) -> None:
    with cli.database.transaction() as session:
        session.add(User(username="bob", email="bob@example.org", password_hash="x"))
    refused = cli.failed(
        "notifications", "channels", "create", "loop",
        "--type", "webhook", "--user", "bob", "--url", "http://127.0.0.1:9/hook",
    )  # fmt: skip
    assert "KRSN_EGRESS_ALLOWED_HOSTS" in refused.stderr
    nobody = cli.failed(
        "notifications", "channels", "create", "x", "--type", "email", "--to", "a@example.org"
    )
    assert "--user or --rule" in nobody.stderr
    unknown = cli.failed(
        "notifications", "channels", "create", "x",
        "--type", "email", "--user", "nobody", "--to", "a@example.org",
    )  # fmt: skip
    assert "no user 'nobody'" in unknown.stderr
    wrong = cli.failed(
        "notifications", "channels", "create", "x",
        "--type", "email", "--user", "bob", "--url", "https://example.org",
    )  # fmt: skip
    assert "takes no url" in wrong.stderr
    made = cli.json(
        "notifications", "channels", "create", "mail",
        "--type", "email", "--user", "bob", "--to", "a@example.org", "--to", "b@example.org",
    )  # fmt: skip
    assert made["config"] == {"to": ["a@example.org", "b@example.org"]}
    assert made["signing_secret"] is None
    assert cli.json("notifications", "list") == []
