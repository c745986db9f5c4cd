"""Detection's housekeeping: expired watchlist items go, old counted rule events go, and
the scheduler's pass runs it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from krsn.config import Settings
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.maintenance import tidy
from krsn.detection.models import RuleMatch, Watchlist, WatchlistItem
from krsn.detection.rules import service as rules
from krsn.detection.watchlists import service as watchlists
from krsn.feeds.scheduler import FeedScheduler
from krsn.identity.audit import Actor
from krsn.osint.graph.models import GraphChange, GraphChangeOp


def test_tidy_deletes_expired_items_and_events_no_window_reaches(db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        listed = watchlists.create_watchlist(
            session, actor=Actor.system(), values={"name": "short lived", "list_type": "custom"}
        )
        watchlists.add_items(
            session,
            actor=Actor.system(),
            watchlist_id=listed.id,
            items=["evil.example.org"],
            expires_at=now + timedelta(minutes=1),
        )
        watchlists.add_items(
            session, actor=Actor.system(), watchlist_id=listed.id, items=["bad.example.org"]
        )
        rule = rules.create_rule(
            session,
            actor=Actor.system(),
            values={
                "name": "five from one host",
                "rule_type": "threshold",
                "time_window_minutes": 10,
                "rule_definition": {"group_by": ["host"], "count": 5},
            },
        )
        session.flush()
        for minutes in (30, 1):
            session.add(
                RuleMatch(
                    id=uuid.uuid4(),
                    rule_id=rule.id,
                    match_key="ws-1",
                    matched_at=now - timedelta(minutes=minutes),
                )
            )
    done = tidy(db, now=now + timedelta(minutes=2))
    assert (done.expired_items, done.pruned_rule_matches) == (1, 1)
    with db.transaction(readonly=True) as session:
        assert list(session.scalars(select(WatchlistItem.item_value))) == ["bad.example.org"]
        assert session.scalar(select(Watchlist.item_count)) == 1
        assert session.scalar(select(func.count()).select_from(RuleMatch)) == 1


def test_tidy_forgets_graph_removals_no_projection_can_need(db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        for hours in (3, 1):
            session.add(
                GraphChange(
                    op=GraphChangeOp.DELETE,
                    node=f"entity:{uuid.uuid4()}",
                    created_at=now - timedelta(hours=hours),
                )
            )

    done = tidy(db, now=now)

    assert done.pruned_graph_changes == 1
    with db.transaction(readonly=True) as session:
        kept = session.scalars(select(GraphChange.created_at)).all()
    assert len(kept) == 1
    assert now - kept[0] < timedelta(hours=2)


def test_the_scheduler_pass_tidies_detection(db: Database, tmp_path, caplog) -> None:
    with db.transaction() as session:
        listed = watchlists.create_watchlist(
            session, actor=Actor.system(), values={"name": "instant", "list_type": "custom"}
        )
        watchlists.add_items(
            session,
            actor=Actor.system(),
            watchlist_id=listed.id,
            items=["evil.example.org"],
            expires_at=utcnow() + timedelta(milliseconds=300),
        )
    import time

    time.sleep(0.4)
    scheduler = FeedScheduler(db, Settings(data_dir=tmp_path / "var"), interval=60)
    with caplog.at_level("INFO", logger="krsn.detection.maintenance"):
        scheduler.tidy_detection()
    assert "1 expired watchlist item(s) deleted" in caplog.text
    with db.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(WatchlistItem)) == 0
