"""Notification channels and the notifications an alert queues on them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from krsn.detection.models import Alert, Notification


def queue_for_alert(session: Session, alert: Alert, *, created: bool) -> list[Notification]:
    """Queue (status pending) a notification on every active channel that wants this alert."""
    return []
