"""Delivery: claim due notifications, send them outside any transaction, record how it went.

A pass (:func:`deliver_due`) has three steps:

1. **Claim**, in one short transaction: each due ``pending`` notification is taken with an
   UPDATE that moves its ``next_attempt_at`` a lease ahead and applies only while the row is
   still due. Only the caller whose UPDATE changed the row (rowcount 1) sends it: on
   PostgreSQL a second dispatcher waits for the first's row lock, then finds the row no
   longer due; SQLite serialises writers. Two dispatchers, in threads, processes or hosts,
   never send one notification twice. A dispatcher that dies mid-pass leaves its claims to
   expire with the lease, and they are sent again.
2. **Send**, with no transaction open and a few at a time (``KRSN_NOTIFY_WORKERS``), each
   attempt bounded by ``KRSN_NOTIFY_TIMEOUT_SECONDS``: a dead endpoint costs one timeout,
   never the others' delivery, and never a database lock.
3. **Record**, in one short transaction: a 2xx answer is ``delivered``; an SMTP acceptance
   ``sent`` (SMTP gives no receipt); a refusal a retry would not change ``failed``; anything
   that may pass (timeouts, refused connections, 5xx, 408, 429) is tried again after
   ``base × 2^retry_count`` seconds (capped), until ``KRSN_NOTIFY_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, select, update

from krsn.config import Settings
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.models import (
    Notification,
    NotificationChannel,
    NotificationStatus,
    NotificationType,
)
from krsn.detection.notify import service
from krsn.detection.notify.channels import notifier_for
from krsn.detection.notify.channels.base import Delivery, Message, Outcome, Result
from krsn.detection.notify.schemas import AttemptRead, DeliveryReport
from krsn.errors import Invalid
from krsn.identity import audit
from krsn.identity.audit import Actor

__all__ = ["TEST_EVENT", "backoff", "deliver_due", "send_test"]

log = logging.getLogger(__name__)

TEST_EVENT: Final = "notification.test"
_ERROR_LIMIT = 2000


@dataclass(frozen=True)
class _Job:
    """One claimed notification (or a channel test) with its channel, ready to send."""

    notification_id: uuid.UUID | None
    notification_type: NotificationType
    channel_id: uuid.UUID | None
    channel_active: bool | None
    """None when the channel is gone."""
    config: dict[str, Any]
    secrets: dict[str, Any]
    title: str
    text: str
    data: dict[str, Any]
    retry_count: int = 0


def backoff(settings: Settings, retry_count: int) -> timedelta:
    """The wait before the next attempt after ``retry_count`` failed ones: base × 2^n, capped."""
    seconds = settings.notify_retry_base_seconds * 2.0 ** min(retry_count, 62)
    return timedelta(seconds=min(seconds, settings.notify_retry_max_seconds))


def _lease(settings: Settings, limit: int) -> timedelta:
    # Long enough for the whole pass, queued sends included: every attempt is bounded by
    # a few timeouts (connect, TLS, each read), and workers take the claims in turn.
    rounds = math.ceil(limit / settings.notify_workers)
    return timedelta(seconds=60 + 6 * settings.notify_timeout_seconds * rounds)


def _link(settings: Settings, path: str | None) -> str | None:
    if not path:
        return None
    base = settings.notify_base_url.strip().rstrip("/")
    return f"{base}{path}" if base else path


def _message(job: _Job, settings: Settings) -> Message:
    link = _link(settings, job.data.get("link"))
    text = job.text + (f"\n\nOpen the alert: {link}" if link else "")
    alert = job.data.get("alert")
    return Message(
        event=str(job.data.get("event") or service.ALERT_EVENT),
        title=job.title,
        text=text,
        alert=alert if isinstance(alert, dict) else {},
        link=link,
        notification_id=job.notification_id,
    )


def _attempt(job: _Job, settings: Settings) -> tuple[Result, int]:
    """Send one job; the outcome and how long it took, in milliseconds. Never raises."""
    started = time.monotonic()
    result = _send(job, settings)
    return result, int((time.monotonic() - started) * 1000)


def _send(job: _Job, settings: Settings) -> Result:
    if job.channel_active is None:
        return Result(Outcome.FAILED_PERMANENT, "the channel was deleted")
    if not job.channel_active:
        return Result(Outcome.FAILED_PERMANENT, "the channel is turned off")
    try:
        notifier = notifier_for(job.notification_type)
    except Invalid as exc:
        return Result(Outcome.FAILED_PERMANENT, exc.reason)
    try:
        config = notifier.config_model.model_validate({**job.config, **job.secrets})
    except ValidationError as exc:
        return Result(Outcome.FAILED_PERMANENT, f"the channel's stored config is invalid: {exc}")
    try:
        return notifier.send(config, _message(job, settings), Delivery(settings))
    except Exception as exc:
        # A notifier's bug: logged, and retried like a transient failure (bounded by the
        # attempts allowed) so that a fix deployed meanwhile still delivers.
        log.exception(
            "notifier %s failed on notification %s", job.notification_type, job.notification_id
        )
        return Result(Outcome.FAILED_RETRYABLE, f"{type(exc).__name__}: {exc}")


def _claim(database: Database, *, now: datetime, lease_until: datetime, limit: int) -> list[_Job]:
    with database.transaction() as session:
        due = session.scalars(
            select(Notification.id)
            .where(
                Notification.status == NotificationStatus.PENDING,
                Notification.next_attempt_at <= now,
            )
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
        ).all()
        claimed: list[uuid.UUID] = []
        for notification_id in due:
            taken = session.execute(
                update(Notification)
                .where(
                    Notification.id == notification_id,
                    Notification.status == NotificationStatus.PENDING,
                    Notification.next_attempt_at <= now,
                )
                .values(next_attempt_at=lease_until)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], taken).rowcount == 1:
                claimed.append(notification_id)
        if not claimed:
            return []
        rows = session.execute(
            select(
                Notification.id,
                Notification.notification_type,
                Notification.channel_id,
                Notification.title,
                Notification.message,
                Notification.notification_data,
                Notification.retry_count,
                NotificationChannel.is_active,
                NotificationChannel.config,
                NotificationChannel.secrets,
            )
            .outerjoin(NotificationChannel, NotificationChannel.id == Notification.channel_id)
            .where(Notification.id.in_(claimed))
            .order_by(Notification.next_attempt_at, Notification.id)
        ).all()
    return [
        _Job(
            notification_id=row.id,
            notification_type=row.notification_type,
            channel_id=row.channel_id,
            channel_active=None if row.config is None else bool(row.is_active),
            config=dict(row.config or {}),
            secrets=dict(row.secrets or {}),
            title=row.title or "",
            text=row.message or "",
            data=dict(row.notification_data or {}),
            retry_count=row.retry_count or 0,
        )
        for row in rows
    ]


def _status_after(
    job: _Job, result: Result, settings: Settings, at: datetime
) -> tuple[NotificationStatus, dict[str, Any]]:
    """The notification's new status and column values after an attempt."""
    error = result.message[:_ERROR_LIMIT] or result.outcome.value
    values: dict[str, Any]
    if result.outcome is Outcome.DELIVERED:
        values = {"sent_at": at, "delivered_at": at, "next_attempt_at": None, "last_error": None}
        return NotificationStatus.DELIVERED, values
    if result.outcome is Outcome.SENT:
        values = {"sent_at": at, "next_attempt_at": None, "last_error": None}
        return NotificationStatus.SENT, values
    if result.outcome is Outcome.FAILED_PERMANENT:
        values = {"next_attempt_at": None, "last_error": error}
        return NotificationStatus.FAILED, values
    retries = job.retry_count + 1
    if retries >= settings.notify_max_attempts:
        values = {"retry_count": retries, "next_attempt_at": None, "last_error": error}
        return NotificationStatus.FAILED, values
    values = {
        "retry_count": retries,
        "next_attempt_at": at + backoff(settings, retries),
        "last_error": error,
    }
    return NotificationStatus.PENDING, values


def _record(
    database: Database,
    settings: Settings,
    sent: Sequence[tuple[_Job, Result, int]],
    *,
    lease_until: datetime,
    now: datetime | None,
) -> list[AttemptRead]:
    attempts: list[AttemptRead] = []
    with database.transaction() as session:
        at = now or utcnow()
        for job, result, took in sent:
            status, values = _status_after(job, result, settings, at)
            # Only while the claim is still ours: had the lease run out and another
            # dispatcher taken the row, its attempt is the one to record.
            written = session.execute(
                update(Notification)
                .where(
                    Notification.id == job.notification_id,
                    Notification.status == NotificationStatus.PENDING,
                    Notification.next_attempt_at == lease_until,
                )
                .values(status=status, **values)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], written).rowcount != 1:
                log.warning(
                    "notification %s: the claim expired before its outcome (%s) was recorded",
                    job.notification_id,
                    result.outcome.value,
                )
            log.info(
                "notification %s on %s channel %s: %s%s",
                job.notification_id,
                job.notification_type.value,
                job.channel_id,
                result.outcome.value,
                f" ({result.message})" if result.message else "",
                extra={"notification_id": str(job.notification_id), "outcome": result.outcome},
            )
            attempts.append(
                AttemptRead(
                    notification_id=job.notification_id,
                    channel_id=job.channel_id,
                    notification_type=job.notification_type,
                    outcome=result.outcome,
                    status=status,
                    message=result.message,
                    duration_ms=took,
                )
            )
    return attempts


def deliver_due(
    database: Database, settings: Settings, *, now: datetime | None = None, limit: int = 100
) -> DeliveryReport:
    """One delivery pass over the notifications due at ``now`` (default: the current time),
    at most ``limit`` of them; safe to run in several processes at once."""
    started = time.monotonic()
    clock = now or utcnow()
    lease_until = clock + _lease(settings, limit)
    jobs = _claim(database, now=clock, lease_until=lease_until, limit=limit)
    if not jobs:
        return DeliveryReport(duration_s=round(time.monotonic() - started, 3))
    workers = min(settings.notify_workers, len(jobs))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="krsn-notify") as pool:
        outcomes = list(pool.map(lambda job: _attempt(job, settings), jobs))
    sent = [(job, result, took) for job, (result, took) in zip(jobs, outcomes, strict=True)]
    attempts = _record(database, settings, sent, lease_until=lease_until, now=now)
    statuses = [a.status for a in attempts]
    retrying = sum(1 for a in attempts if a.status is NotificationStatus.PENDING)
    return DeliveryReport(
        claimed=len(jobs),
        delivered=statuses.count(NotificationStatus.DELIVERED),
        sent=statuses.count(NotificationStatus.SENT),
        retrying=retrying,
        failed=statuses.count(NotificationStatus.FAILED),
        duration_s=round(time.monotonic() - started, 3),
        attempts=attempts,
    )


def _test_message(channel: NotificationChannel) -> tuple[str, str, dict[str, Any]]:
    title = f"[TEST] KRSN notification test: {channel.name}"[:500]
    text = (
        f"This is a test of the {channel.notification_type.value} channel "
        f"{channel.name!r}. Alerts will arrive here like this message."
    )
    alert = {
        "id": None,
        "title": "Test alert",
        "description": "A test: no alert was raised.",
        "severity": "info",
        "status": "open",
        "priority": "low",
        "indicator": "198.51.100.7",
        "indicator_kind": "ipv4",
        "rule_name": None,
    }
    return title, text, {"event": TEST_EVENT, "link": None, "alert": alert}


def send_test(
    database: Database,
    settings: Settings,
    *,
    channel_id: uuid.UUID,
    audience: service.Audience,
    actor: Actor,
) -> AttemptRead:
    """Send a test message on a channel now (active or not) and answer with the outcome;
    the channel is read, and the test audited, in transactions of their own around it."""
    with database.transaction(readonly=True) as session:
        channel = service.get_channel(session, channel_id, audience=audience)
        title, text, data = _test_message(channel)
        job = _Job(
            notification_id=None,
            notification_type=channel.notification_type,
            channel_id=channel.id,
            channel_active=True,
            config=dict(channel.config or {}),
            secrets=dict(channel.secrets or {}),
            title=title,
            text=text,
            data=data,
        )
    result, took = _attempt(job, settings)
    with database.transaction() as session:
        audit.record(
            session,
            actor=actor,
            action=f"{service.CHANNEL_RESOURCE}.test",
            resource_type=service.CHANNEL_RESOURCE,
            resource_id=channel_id,
            details={"outcome": result.outcome.value, "message": result.message[:_ERROR_LIMIT]},
        )
    return AttemptRead(
        notification_id=None,
        channel_id=channel_id,
        notification_type=job.notification_type,
        outcome=result.outcome,
        message=result.message,
        duration_ms=took,
    )
