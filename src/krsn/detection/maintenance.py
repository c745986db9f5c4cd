"""Detection's housekeeping, run by the background scheduler of ``krsn serve``: expired
watchlist items are deleted (they stopped matching at their expiry already) and the events
threshold and time-based rules counted are pruned once no window can reach them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.rules.engine import prune
from krsn.detection.watchlists.service import purge_expired

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Housekeeping:
    expired_items: int
    pruned_rule_matches: int


def tidy(database: Database, *, now: datetime | None = None) -> Housekeeping:
    """One pass, in one transaction."""
    now = now or utcnow()
    with database.transaction() as session:
        expired = purge_expired(session, now=now)
        pruned = prune(session, now=now)
    if expired or pruned:
        log.info(
            "detection housekeeping: %d expired watchlist item(s) deleted, %d counted rule "
            "event(s) pruned",
            expired,
            pruned,
        )
    return Housekeeping(expired_items=expired, pruned_rule_matches=pruned)
