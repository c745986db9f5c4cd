"""``krsn notifications``: channels (email, webhook, Slack, SMS) and deliveries."""

from __future__ import annotations

import json
import uuid
from typing import Any

import typer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from krsn.cli.output import JsonOption, console, fail, handled, print_json, print_table
from krsn.config import get_settings
from krsn.db import get_database
from krsn.detection.models import (
    AlertSeverity,
    CorrelationRule,
    NotificationStatus,
    NotificationType,
)
from krsn.detection.notify import delivery, service
from krsn.detection.notify.channels.base import Outcome
from krsn.detection.notify.schemas import (
    AttemptRead,
    ChannelCreated,
    ChannelRead,
    DeliveryReport,
    NotificationDetail,
    NotificationRead,
)
from krsn.identity.audit import Actor
from krsn.identity.models import User

app = typer.Typer(
    help="Notification channels (email, webhook, Slack, SMS) and their deliveries.",
    no_args_is_help=True,
)
channels_app = typer.Typer(
    help="Where notifications go: a user's or a rule's channels.", no_args_is_help=True
)
app.add_typer(channels_app, name="channels")

CLI = Actor(user_id=None, via="cli")
EVERYONE = service.Audience.all()

CHANNEL_COLUMNS = ["id", "name", "notification_type", "user_id", "rule_id", "min_severity"]
NOTIFICATION_COLUMNS = [
    "id",
    "notification_type",
    "status",
    "retry_count",
    "title",
    "created_at",
    "next_attempt_at",
]


def _uuid(option: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{option}: {value!r} is not an id (a UUID).")


def _user(session: Session, given: str) -> uuid.UUID:
    """A user by name, e-mail or id."""
    try:
        by_id: Any = User.id == uuid.UUID(given)
    except ValueError:
        by_id = None
    clauses = [User.username == given, User.email == given]
    found = session.scalar(
        select(User.id).where(or_(*clauses, *([by_id] if by_id is not None else [])))
    )
    if found is None:
        fail(f"--user: no user {given!r}; 'krsn users list' shows them.")
    return found


def _rule(session: Session, given: str) -> uuid.UUID:
    """A correlation rule by name or id."""
    try:
        clause: Any = CorrelationRule.id == uuid.UUID(given)
    except ValueError:
        clause = CorrelationRule.name == given
    found = session.scalar(select(CorrelationRule.id).where(clause))
    if found is None:
        fail(f"--rule: no correlation rule {given!r}.")
    return found


def _headers(given: list[str] | None) -> dict[str, str] | None:
    if not given:
        return None
    headers: dict[str, str] = {}
    for item in given:
        name, separator, value = item.partition(":")
        if not separator or not name.strip():
            fail(f"--header: {item!r} is not 'Name: value'.")
        headers[name.strip()] = value.strip()
    return headers


def _config(
    kind: NotificationType,
    *,
    raw: str | None,
    to: list[str] | None,
    url: str | None,
    headers: list[str] | None,
    signing_secret: str | None,
) -> dict[str, Any]:
    """A channel config from ``--config`` JSON and the shortcut options, which win."""
    config: dict[str, Any] = {}
    if raw is not None:
        try:
            config = json.loads(raw)
        except json.JSONDecodeError as exc:
            fail(f"--config is not JSON: {exc}.")
        if not isinstance(config, dict):
            fail('--config must be a JSON object, such as \'{"url": "https://…"}\'.')
    if to:
        if kind is NotificationType.SMS and len(to) > 1:
            fail("--to: an SMS channel texts one number; make one channel per number.")
        config["to"] = to[0] if kind is NotificationType.SMS else list(to)
    if url is not None:
        config["webhook_url" if kind is NotificationType.SLACK else "url"] = url
    parsed = _headers(headers)
    if parsed is not None:
        config["headers"] = parsed
    if signing_secret is not None:
        config["signing_secret"] = signing_secret
    wrong = {
        NotificationType.EMAIL: {"url", "webhook_url", "headers", "signing_secret"},
        NotificationType.SMS: {"url", "webhook_url", "headers", "signing_secret"},
        NotificationType.SLACK: {"to", "headers", "signing_secret"},
        NotificationType.WEBHOOK: {"to"},
    }[kind] & set(config)
    if wrong:
        fail(f"A {kind.value} channel takes no {', '.join(sorted(wrong))}.")
    return config


ToOption = typer.Option(
    None, "--to", help="email: an address (repeat for more); sms: an E.164 number (+15551234567)."
)
UrlOption = typer.Option(
    None, "--url", help="webhook: the endpoint; slack: the incoming-webhook URL."
)
HeaderOption = typer.Option(
    None, "--header", help="webhook: an extra header 'Name: value' (repeatable)."
)
SecretOption = typer.Option(
    None, "--signing-secret", help="webhook: the signing secret (generated when left out)."
)
ConfigOption = typer.Option(None, "--config", help="The whole config as a JSON object.")


@channels_app.command("list")
def channels_list(
    user: str | None = typer.Option(None, "--user", help="A user's channels (name or id)."),
    rule: str | None = typer.Option(None, "--rule", help="A rule's channels (name or id)."),
    kind: NotificationType | None = typer.Option(
        None, "--type", help="email, webhook, slack, sms."
    ),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Only on or only off."),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """Every channel, oldest first (secrets never shown)."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.list_channels(
            session,
            audience=EVERYONE,
            limit=limit,
            user_id=_user(session, user) if user else None,
            rule_id=_rule(session, rule) if rule else None,
            notification_type=kind,
            is_active=active,
        )
        rows = [ChannelRead.of(c) for c in page.items]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, [*CHANNEL_COLUMNS, "is_active"], title=f"Channels ({page.total})")


def _describe_channel(channel: ChannelRead) -> None:
    owner = f"rule {channel.rule_id}" if channel.rule_id else f"user {channel.user_id}"
    console.print(
        f"[bold]{channel.name}[/] ({channel.notification_type.value}), {owner}", highlight=False
    )
    console.print(
        f"id {channel.id}; alerts at or above {channel.min_severity.value}; "
        f"{'active' if channel.is_active else 'turned off'}",
        markup=False,
    )
    console.print(f"config: {json.dumps(channel.config)}", markup=False)
    if channel.secrets_set:
        console.print(f"secrets stored: {', '.join(channel.secrets_set)}", markup=False)


@channels_app.command("show")
def channels_show(
    channel_id: str = typer.Argument(..., help="The channel's id."), as_json: bool = JsonOption
) -> None:
    """One channel (its secrets named, never shown)."""
    with handled(), get_database().transaction(readonly=True) as session:
        channel = ChannelRead.of(
            service.get_channel(session, _uuid("CHANNEL_ID", channel_id), audience=EVERYONE)
        )
    if as_json:
        print_json(channel)
    else:
        _describe_channel(channel)


@channels_app.command("create")
def channels_create(
    name: str = typer.Argument(..., help="A name for the channel."),
    kind: NotificationType = typer.Option(..., "--type", help="email, webhook, slack or sms."),
    user: str | None = typer.Option(
        None, "--user", help="The user who gets every alert at or above --min-severity."
    ),
    rule: str | None = typer.Option(None, "--rule", help="The rule whose alerts it gets."),
    to: list[str] | None = ToOption,
    url: str | None = UrlOption,
    header: list[str] | None = HeaderOption,
    signing_secret: str | None = SecretOption,
    config: str | None = ConfigOption,
    min_severity: AlertSeverity = typer.Option(AlertSeverity.LOW, "--min-severity"),
    inactive: bool = typer.Option(False, "--inactive", help="Create it turned off."),
    as_json: bool = JsonOption,
) -> None:
    """Create a channel for a user or a rule; a generated signing secret is shown once."""
    if (user is None) == (rule is None):
        fail("Give --user or --rule: a channel is for one user or one rule.")
    values = _config(
        kind, raw=config, to=to, url=url, headers=header, signing_secret=signing_secret
    )
    with handled(), get_database().transaction() as session:
        channel, generated = service.create_channel(
            session,
            actor=CLI,
            audience=EVERYONE,
            settings=get_settings(),
            name=name,
            notification_type=kind,
            config=values,
            min_severity=min_severity,
            is_active=not inactive,
            user_id=_user(session, user) if user else None,
            rule_id=_rule(session, rule) if rule else None,
        )
        created = ChannelCreated.of(channel, signing_secret=generated.get("signing_secret"))
    if as_json:
        print_json(created)
        return
    console.print(f"Created channel {created.id} ({created.name}).", markup=False)
    if created.signing_secret:
        console.print(
            f"Signing secret (shown this once; keep it now): {created.signing_secret}",
            markup=False,
        )


@channels_app.command("update")
def channels_update(
    channel_id: str = typer.Argument(..., help="The channel's id."),
    name: str | None = typer.Option(None, "--name"),
    to: list[str] | None = ToOption,
    url: str | None = UrlOption,
    header: list[str] | None = HeaderOption,
    signing_secret: str | None = SecretOption,
    config: str | None = ConfigOption,
    min_severity: AlertSeverity | None = typer.Option(None, "--min-severity"),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Turn it on or off."),
    as_json: bool = JsonOption,
) -> None:
    """Change what is given; config options change only the fields they name."""
    ident = _uuid("CHANNEL_ID", channel_id)
    with handled(), get_database().transaction() as session:
        channel = service.get_channel(session, ident, audience=EVERYONE)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if min_severity is not None:
            changes["min_severity"] = min_severity
        if active is not None:
            changes["is_active"] = active
        given = _config(
            channel.notification_type,
            raw=config,
            to=to,
            url=url,
            headers=header,
            signing_secret=signing_secret,
        )
        if given:
            changes["config"] = {**(channel.config or {}), **given}
        if not changes:
            fail("Nothing to change: give --name, --to, --url, --min-severity, --inactive...")
        service.update_channel(
            session, channel, actor=CLI, settings=get_settings(), changes=changes
        )
        shown = ChannelRead.of(channel)
    if as_json:
        print_json(shown)
    else:
        _describe_channel(shown)


@channels_app.command("delete")
def channels_delete(channel_id: str = typer.Argument(..., help="The channel's id.")) -> None:
    """Delete a channel; the notifications it carried stay, without a channel."""
    ident = _uuid("CHANNEL_ID", channel_id)
    with handled(), get_database().transaction() as session:
        channel = service.get_channel(session, ident, audience=EVERYONE)
        name = channel.name
        service.delete_channel(session, channel, actor=CLI)
    console.print(f"Deleted channel {ident} ({name}).", markup=False)


def _attempt_line(attempt: AttemptRead) -> str:
    verb = {
        Outcome.DELIVERED: "delivered",
        Outcome.SENT: "sent (accepted by the SMTP server)",
        Outcome.FAILED_PERMANENT: "failed",
        Outcome.FAILED_RETRYABLE: "failed, may pass later",
    }[attempt.outcome]
    said = f": {attempt.message}" if attempt.message else ""
    return f"{verb} in {attempt.duration_ms} ms{said}"


@channels_app.command("test")
def channels_test(
    channel_id: str = typer.Argument(..., help="The channel's id."), as_json: bool = JsonOption
) -> None:
    """Send a test message on a channel now; exits 1 when it failed."""
    ident = _uuid("CHANNEL_ID", channel_id)
    with handled():
        attempt = delivery.send_test(
            get_database(), get_settings(), channel_id=ident, audience=EVERYONE, actor=CLI
        )
    failed = attempt.outcome in (Outcome.FAILED_PERMANENT, Outcome.FAILED_RETRYABLE)
    if as_json:
        print_json(attempt)
    else:
        console.print(f"Test on channel {ident}: {_attempt_line(attempt)}", markup=False)
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_(
    status: NotificationStatus | None = typer.Option(None, "--status"),
    channel: str | None = typer.Option(None, "--channel", help="A channel's id."),
    alert: str | None = typer.Option(None, "--alert", help="An alert's id."),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """Notifications, newest first."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.list_notifications(
            session,
            audience=EVERYONE,
            limit=limit,
            status=status,
            channel_id=_uuid("--channel", channel) if channel else None,
            alert_id=_uuid("--alert", alert) if alert else None,
        )
        rows = [NotificationRead.model_validate(n) for n in page.items]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, NOTIFICATION_COLUMNS, title=f"Notifications ({page.total})")


@app.command()
def show(
    notification_id: str = typer.Argument(..., help="The notification's id."),
    as_json: bool = JsonOption,
) -> None:
    """One notification: its status, attempts and the alert it carries."""
    with handled(), get_database().transaction(readonly=True) as session:
        item = NotificationDetail.model_validate(
            service.get_notification(
                session, _uuid("NOTIFICATION_ID", notification_id), audience=EVERYONE
            )
        )
    if as_json:
        print_json(item)
        return
    console.print(f"[bold]{item.title or '-'}[/]", highlight=False, markup=True)
    console.print(
        f"{item.notification_type.value} notification {item.id}: {item.status.value}, "
        f"{item.retry_count} retr{'y' if item.retry_count == 1 else 'ies'}; "
        f"created {item.created_at}, sent {item.sent_at or '-'}, "
        f"delivered {item.delivered_at or '-'}, next attempt {item.next_attempt_at or '-'}",
        markup=False,
    )
    if item.last_error:
        console.print(f"last error: {item.last_error}", markup=False)
    if item.message:
        console.print(item.message, markup=False)


@app.command()
def retry(
    notification_id: str = typer.Argument(..., help="A failed notification's id."),
    as_json: bool = JsonOption,
) -> None:
    """Queue a failed notification again (the next delivery pass sends it)."""
    ident = _uuid("NOTIFICATION_ID", notification_id)
    with handled(), get_database().transaction() as session:
        notification = service.get_notification(session, ident, audience=EVERYONE)
        service.retry_notification(session, notification, actor=CLI)
        item = NotificationRead.model_validate(notification)
    if as_json:
        print_json(item)
    else:
        console.print(f"Notification {ident} is pending again.", markup=False)


@app.command()
def deliver(
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="Most to send in this pass."),
    as_json: bool = JsonOption,
) -> None:
    """Run one delivery pass now: send what is due and print what happened."""
    with handled():
        if as_json:
            report = delivery.deliver_due(get_database(), get_settings(), limit=limit)
        else:
            with console.status("Sending due notifications…"):
                report = delivery.deliver_due(get_database(), get_settings(), limit=limit)
    if as_json:
        print_json(report)
        return
    _summary(report)


def _summary(report: DeliveryReport) -> None:
    for attempt in report.attempts:
        kind = attempt.notification_type.value if attempt.notification_type else "-"
        console.print(
            f"{attempt.notification_id} ({kind}): {_attempt_line(attempt)}",
            markup=False,
        )
    console.print(
        f"{report.claimed} due: {report.delivered} delivered, {report.sent} sent, "
        f"{report.retrying} to retry, {report.failed} failed in {report.duration_s} s.",
        markup=False,
    )
