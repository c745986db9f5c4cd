"""The notification routes over HTTP: channels each caller owns, secrets never shown again,
the egress guard on save, channel tests, notification lists and retries, on both engines."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from detection_support import Receiver
from krsn.detection.models import Alert, AlertSeverity, CorrelationRule, RuleType
from krsn.detection.notify import service
from krsn.detection.notify.channels.webhook import verify_signature
from krsn.identity.models import AuditLog

BASE = "/api/v1/notifications"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def allowed(api: Any, live_server: Any) -> Any:
    """The API with 127.0.0.1 allowed as an outbound destination, as an admin would set."""
    live_server.use(api.database, egress_allowed_hosts="127.0.0.1")
    return api


def as_user(api: Any, name: str, role: str = "user") -> Any:
    client = api.fresh()
    client.login_as(name, role)
    return client


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "ops", "notification_type": "webhook", "config": {"url": url, **extra}}


def audit_rows(api: Any, resource_id: str) -> list[AuditLog]:
    with api.database.transaction(readonly=True) as session:
        return list(
            session.scalars(select(AuditLog).where(AuditLog.resource_id == resource_id)).all()
        )


def test_a_webhook_secret_is_shown_once_and_never_again(allowed: Any, receiver: Receiver) -> None:
    allowed.login_as("alice", "user")
    created = allowed.post(
        f"{BASE}/channels",
        json=webhook(receiver.url, headers={"Authorization": "Bearer very-private-token"}),
    )
    assert created.status_code == 201, created.text
    answer = created.json()
    secret = answer["signing_secret"]
    assert len(secret) >= 32
    assert answer["config"] == {"url": receiver.url}
    assert answer["secrets_set"] == ["headers", "signing_secret"]
    assert answer["min_severity"] == "low" and answer["is_active"] is True
    channel_id = answer["id"]

    shown = allowed.get(f"{BASE}/channels/{channel_id}")
    listed = allowed.get(f"{BASE}/channels")
    for response in (shown, listed):
        assert response.status_code == 200
        assert secret not in response.text and "very-private-token" not in response.text
    assert "signing_secret" not in shown.json()
    assert [c["id"] for c in listed.json()["items"]] == [channel_id]

    changed = allowed.patch(
        f"{BASE}/channels/{channel_id}",
        json={"name": "ops hook", "config": {"url": receiver.url + "/v2"}, "min_severity": "high"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["config"] == {"url": receiver.url + "/v2"}
    # Secrets left out of the new config keep their values.
    assert changed.json()["secrets_set"] == ["headers", "signing_secret"]
    assert secret not in changed.text

    dropped = allowed.patch(
        f"{BASE}/channels/{channel_id}",
        json={"config": {"url": receiver.url, "signing_secret": None}},
    )
    assert dropped.status_code == 422 and dropped.json()["field"] == "config.signing_secret"

    tested = allowed.post(f"{BASE}/channels/{channel_id}/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["outcome"] == "delivered"
    [(headers, body)] = receiver.requests
    assert verify_signature(secret, headers["X-KRSN-Timestamp"], body, headers["X-KRSN-Signature"])
    assert headers["Authorization"] == "Bearer very-private-token"
    assert json.loads(body)["event"] == "notification.test"

    assert allowed.delete(f"{BASE}/channels/{channel_id}").status_code == 204
    assert allowed.get(f"{BASE}/channels/{channel_id}").status_code == 404

    rows = audit_rows(allowed, channel_id)
    actions = sorted(r.action for r in rows)
    assert actions == [
        "notification_channel.create",
        "notification_channel.delete",
        "notification_channel.test",
        "notification_channel.update",
    ]
    for row in rows:
        text = json.dumps([row.old_values, row.new_values, row.details])
        assert secret not in text and "very-private-token" not in text
        assert "secrets" not in (row.old_values or {}) and "secrets" not in (row.new_values or {})
    update = next(r for r in rows if r.action == "notification_channel.update")
    assert update.old_values["min_severity"] == "low"
    assert update.new_values["min_severity"] == "high"


def test_a_user_never_sees_another_users_channel(allowed: Any, receiver: Receiver) -> None:
    allowed.login_as("owner", "user")
    channel_id = allowed.post(f"{BASE}/channels", json=webhook(receiver.url)).json()["id"]
    snoop = as_user(allowed, "snoop", "analyst")
    try:
        assert snoop.get(f"{BASE}/channels/{channel_id}").status_code == 404
        assert snoop.patch(f"{BASE}/channels/{channel_id}", json={"name": "x"}).status_code == 404
        assert snoop.post(f"{BASE}/channels/{channel_id}/test").status_code == 404
        assert snoop.delete(f"{BASE}/channels/{channel_id}").status_code == 404
        assert snoop.get(f"{BASE}/channels").json()["items"] == []
        other = snoop.post(
            f"{BASE}/channels",
            json={
                **webhook(receiver.url),
                "user_id": allowed.get("/api/v1/auth/me").json()["user"]["id"],
            },
        )
        assert other.status_code == 403
    finally:
        snoop.close()
    admin = as_user(allowed, "boss", "admin")
    try:
        assert admin.get(f"{BASE}/channels/{channel_id}").status_code == 200
        assert [c["id"] for c in admin.get(f"{BASE}/channels").json()["items"]] == [channel_id]
    finally:
        admin.close()
    assert receiver.requests == []


def test_rule_channels_are_for_analysts(allowed: Any, receiver: Receiver) -> None:
    with allowed.database.transaction() as session:
        rule = CorrelationRule(name="c2", rule_definition={}, rule_type=RuleType.PATTERN)
        session.add(rule)
        session.flush()
        rule_id = str(rule.id)
    body = {**webhook(receiver.url), "rule_id": rule_id}
    allowed.login_as("plain", "user")
    refused = allowed.post(f"{BASE}/channels", json=body)
    assert refused.status_code == 403
    analyst = as_user(allowed, "ana", "analyst")
    colleague = as_user(allowed, "bea", "analyst")
    try:
        created = analyst.post(f"{BASE}/channels", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["rule_id"] == rule_id and created.json()["user_id"] is None
        channel_id = created.json()["id"]
        assert colleague.get(f"{BASE}/channels/{channel_id}").status_code == 200
        assert allowed.get(f"{BASE}/channels/{channel_id}").status_code == 404
        both = analyst.post(f"{BASE}/channels", json={**body, "user_id": str(uuid.uuid4())})
        assert both.status_code == 422
        missing = analyst.post(f"{BASE}/channels", json={**body, "rule_id": str(uuid.uuid4())})
        assert missing.status_code == 422 and "rule" in missing.json()["detail"]
    finally:
        analyst.close()
        colleague.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
    ],
)
def test_private_loopback_and_link_local_urls_are_refused_unless_allowed(
    api: Any, url: str
) -> None:
    api.login_as("erin", "user")
    refused = api.post(f"{BASE}/channels", json=webhook(url))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["field"] == "config.url"
    assert "KRSN_EGRESS_ALLOWED_HOSTS" in problem["detail"]
    slack = api.post(
        f"{BASE}/channels",
        json={"name": "s", "notification_type": "slack", "config": {"webhook_url": url}},
    )
    assert slack.status_code == 422 and slack.json()["field"] == "config.webhook_url"
    assert api.get(f"{BASE}/channels").json()["total"] == 0


def test_configs_are_checked_per_type(api: Any, live_server: Any) -> None:
    api.login_as("fred", "user")

    def create(kind: str, config: dict[str, Any]) -> Any:
        return api.post(
            f"{BASE}/channels", json={"name": kind, "notification_type": kind, "config": config}
        )

    bad_mail = create("email", {"to": ["soc@example.org", "not an address"]})
    assert bad_mail.status_code == 422
    assert [e["field"] for e in bad_mail.json()["errors"]] == ["email.config.to.1"]
    assert create("email", {"to": []}).status_code == 422
    assert create("webhook", {"url": "ftp://example.org/x"}).status_code == 422
    assert create("fax", {"to": "+15551234567"}).status_code == 422
    assert create("webhook", {"url": "https://user:pw@example.org/x"}).status_code == 422
    forged = create(
        "webhook", {"url": "http://127.0.0.1/x", "headers": {"X-KRSN-Signature": "sha256=0"}}
    )
    assert forged.status_code == 422
    assert "X-KRSN-Signature is set by the platform" in forged.json()["detail"]
    no_provider = create("sms", {"to": "+15551234567"})
    assert no_provider.status_code == 422
    assert "KRSN_NOTIFY_SMS_URL" in no_provider.json()["detail"]
    live_server.use(api.database, notify_sms_url="https://sms.example.net/send")
    assert create("sms", {"to": "555-1234"}).status_code == 422
    made = create("sms", {"to": "+44 20 7946 0000"})
    assert made.status_code == 201, made.text
    assert made.json()["config"] == {"to": "+442079460000"}
    mail = create("email", {"to": "soc@example.org"})
    assert mail.status_code == 201 and mail.json()["config"] == {"to": ["soc@example.org"]}
    assert mail.json()["signing_secret"] is None


def test_slack_urls_are_secrets(allowed: Any, receiver: Receiver) -> None:
    allowed.login_as("gina", "user")
    made = allowed.post(
        f"{BASE}/channels",
        json={"name": "s", "notification_type": "slack", "config": {"webhook_url": receiver.url}},
    )
    assert made.status_code == 201, made.text
    assert made.json()["config"] == {} and made.json()["secrets_set"] == ["webhook_url"]
    assert receiver.url not in made.text
    shown = allowed.get(f"{BASE}/channels/{made.json()['id']}")
    assert receiver.url not in shown.text


def queue_alert(api: Any, title: str = "Beacon") -> list[str]:
    with api.database.transaction() as session:
        alert = Alert(title=title, severity=AlertSeverity.HIGH, alert_data={"canonical": "x.test"})
        session.add(alert)
        session.flush()
        queued = service.queue_for_alert(session, alert, created=True)
        session.flush()
        return [str(n.id) for n in queued]


def test_notifications_are_listed_shown_and_retried_by_their_owner(
    allowed: Any, live_server: Any
) -> None:
    failing = Receiver(status=404)
    try:
        allowed.login_as("hana", "user")
        channel_id = allowed.post(f"{BASE}/channels", json=webhook(failing.url)).json()["id"]
        ids = [n for i in range(3) for n in queue_alert(allowed, f"alert {i}")]
        first = allowed.get(BASE, params={"limit": 2})
        assert first.status_code == 200
        page = first.json()
        assert page["total"] == 3 and len(page["items"]) == 2 and page["next_cursor"]
        rest = allowed.get(BASE, params={"limit": 2, "cursor": page["next_cursor"]}).json()
        listed = [n["id"] for n in page["items"] + rest["items"]]
        assert sorted(listed) == sorted(ids)
        assert [n["title"] for n in page["items"] + rest["items"]] == [
            "[HIGH] alert 2",
            "[HIGH] alert 1",
            "[HIGH] alert 0",
        ]

        from krsn.detection.notify.delivery import deliver_due

        settings = live_server.app.state.settings
        report = deliver_due(allowed.database, settings)
        assert report.failed == 3

        failed = allowed.get(BASE, params={"status": "failed", "channel_id": channel_id}).json()
        assert failed["total"] == 3
        one = ids[0]
        shown = allowed.get(f"{BASE}/{one}")
        assert shown.status_code == 200
        assert shown.json()["status"] == "failed"
        assert shown.json()["last_error"].startswith("HTTP 404")
        assert shown.json()["notification_data"]["alert"]["indicator"] == "x.test"

        other = as_user(allowed, "ivan", "user")
        try:
            assert other.get(f"{BASE}/{one}").status_code == 404
            assert other.post(f"{BASE}/{one}/retry").status_code == 404
            assert other.get(BASE).json()["total"] == 0
        finally:
            other.close()

        retried = allowed.post(f"{BASE}/{one}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "pending" and retried.json()["retry_count"] == 0
        again = allowed.post(f"{BASE}/{one}/retry")
        assert again.status_code == 409
        assert [r.action for r in audit_rows(allowed, one)] == ["notification.retry"]
    finally:
        failing.close()


def test_unknown_ids_answer_404(api: Any) -> None:
    api.login_as("jo", "admin")
    missing = str(uuid.uuid4())
    for method, path in [
        ("GET", f"{BASE}/{missing}"),
        ("POST", f"{BASE}/{missing}/retry"),
        ("GET", f"{BASE}/channels/{missing}"),
        ("POST", f"{BASE}/channels/{missing}/test"),
        ("DELETE", f"{BASE}/channels/{missing}"),
    ]:
        assert api.request(method, path).status_code == 404, (method, path)


def test_a_closed_port_is_a_failed_test_not_an_error(allowed: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    allowed.login_as("kim", "user")
    channel_id = allowed.post(
        f"{BASE}/channels", json=webhook(f"http://127.0.0.1:{port}/hook")
    ).json()["id"]
    tested = allowed.post(f"{BASE}/channels/{channel_id}/test")
    assert tested.status_code == 200
    assert tested.json()["outcome"] == "failed_retryable"
    assert "ConnectError" in tested.json()["message"]
