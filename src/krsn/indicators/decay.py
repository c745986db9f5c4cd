"""Ageing: indicators unseen for longer than their lifetime go inactive.

The lifetimes are the scoring model's (:data:`krsn.indicators.scoring.LIFETIME`), one per
stored ``indicator_type`` (every kind of a type shares it), so expiry is one ``UPDATE`` per
type, done in the database. Only active indicators are touched: a false positive or a
suppressed value keeps its state and its reason. A feed that reports an expired indicator
again makes it active again (the store computes ``is_active`` from suppression and the
analyst's verdict, not from the stored state).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import update
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.scoring import LIFETIME


def _lifetimes() -> dict[IndicatorType, timedelta]:
    lifetimes: dict[IndicatorType, timedelta] = {}
    for kind, lifetime in LIFETIME.items():
        known = lifetimes.setdefault(kind.indicator_type, lifetime)
        if known != lifetime:
            raise RuntimeError(f"kinds of {kind.indicator_type.value} need one lifetime")
    return lifetimes


LIFETIME_BY_TYPE: Final[dict[IndicatorType, timedelta]] = _lifetimes()


def expire_indicators(
    session: Session, *, now: datetime | None = None, actor: Actor | None = None
) -> int:
    """Mark inactive the active indicators unseen longer than their lifetime; how many.

    One audit row sums up a run that expired anything, per type.
    """
    now = now or utcnow()
    expired: dict[str, int] = {}
    for indicator_type, lifetime in LIFETIME_BY_TYPE.items():
        result = session.execute(
            update(ThreatIndicator)
            .where(
                ThreatIndicator.indicator_type == indicator_type,
                ThreatIndicator.is_active.is_(True),
                ThreatIndicator.last_seen_at < now - lifetime,
            )
            .values(is_active=False, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        count = result.rowcount or 0  # type: ignore[attr-defined]
        if count:
            expired[indicator_type.value] = count
    total = sum(expired.values())
    if total:
        audit.record(
            session,
            actor=actor or Actor.system(),
            action="indicator.expire",
            resource_type="indicator",
            details={"expired": expired, "at": now},
        )
    return total
