"""Housekeeping run by the background scheduler of ``krsn serve``: expired watchlist items
are deleted (they stopped matching at their expiry already), the events threshold and
time-based rules counted are pruned once no window can reach them, and so are the graph's
logged removals once no projection can need them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.rules.engine import prune
from krsn.detection.watchlists.service import purge_expired
from krsn.osint.graph.edges import prune_changes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Housekeeping:
    expired_items: int
    pruned_rule_matches: int
    pruned_graph_changes: int = 0


def tidy(database: Database, *, now: datetime | None = None) -> Housekeeping:
    """One pass, in one transaction."""
    now = now or utcnow()
    with database.transaction() as session:
        expired = purge_expired(session, now=now)
        pruned = prune(session, now=now)
        graph = prune_changes(session, now=now)
    if expired or pruned:
        log.info(
            "detection housekeeping: %d expired watchlist item(s) deleted, %d counted rule "
            "event(s) pruned",
            expired,
            pruned,
        )
    return Housekeeping(
        expired_items=expired, pruned_rule_matches=pruned, pruned_graph_changes=graph
    )
