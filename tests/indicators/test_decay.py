"""Ageing: indicators unseen past their lifetime go inactive, and come back when reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from krsn.db import Database
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import SourceRef, ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.indicators import scoring
from krsn.indicators.decay import LIFETIME_BY_TYPE, expire_indicators
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.normalise import Kind
from krsn.indicators.service import update_indicator

NOW = datetime.now(UTC)


def source(db: Database) -> SourceRef:
    with db.transaction() as session:
        return ensure_source(session, actor=Actor.system(), name="feed", reliability=80)


def feed(db: Database, ref: SourceRef, values: list[str], **fields: Any) -> None:
    rows = [ParsedRow(line=i + 1, value=v, **fields) for i, v in enumerate(values)]
    ingest(db, rows=rows, source=ref)


def active(db: Database) -> dict[str, bool]:
    with db.transaction(readonly=True) as session:
        return {i.indicator_value: i.is_active for i in session.scalars(select(ThreatIndicator))}


def expire(db: Database, now: datetime = NOW) -> int:
    with db.transaction() as session:
        return expire_indicators(session, now=now)


def test_every_kind_of_a_stored_type_shares_one_lifetime():
    for kind, lifetime in scoring.LIFETIME.items():
        assert LIFETIME_BY_TYPE[kind.indicator_type] == lifetime
    assert scoring.LIFETIME[Kind.CIDR] == scoring.LIFETIME[Kind.IPV4] == timedelta(days=30)
    assert set(LIFETIME_BY_TYPE) == set(IndicatorType)


def test_indicators_unseen_past_their_lifetime_go_inactive_per_type(db: Database):
    ref = source(db)
    days = timedelta(days=1)
    # 40 days unseen: past the lifetime of addresses and ranges (30), not of domains (90).
    feed(
        db,
        ref,
        ["45.9.148.9", "45.155.205.0/24", "old.example.org", "http://old.example.org/a"],
        last_seen=NOW - 40 * days,
    )
    feed(db, ref, ["45.9.148.10", "d41d8cd98f00b204e9800998ecf8427e"], last_seen=NOW - 2 * days)
    assert expire(db) == 2
    assert active(db) == {
        "45.9.148.9": False,
        "45.155.205.0/24": False,
        "old.example.org": True,
        "http://old.example.org/a": True,
        "45.9.148.10": True,
        "d41d8cd98f00b204e9800998ecf8427e": True,
    }
    assert expire(db) == 0  # nothing left to do: no second audit row either
    assert expire(db, NOW + 30 * days) == 2  # 70 days: the URL (60) and the other address
    assert active(db)["http://old.example.org/a"] is False
    assert active(db)["old.example.org"] is True
    assert expire(db, NOW + 60 * days) == 1  # 100 days: the domain (90), not the hash (365)
    assert active(db)["old.example.org"] is False
    assert active(db)["d41d8cd98f00b204e9800998ecf8427e"] is True
    with db.transaction(readonly=True) as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.action == "indicator.expire")
            .order_by(AuditLog.created_at)
        ).all()
        assert [r.details["expired"] for r in rows] == [
            {"ip": 2},
            {"ip": 1, "url": 1},
            {"domain": 1},
        ]


def test_an_expired_indicator_comes_back_when_a_feed_reports_it_again(db: Database):
    ref = source(db)
    feed(db, ref, ["45.9.148.9"], last_seen=NOW - timedelta(days=40))
    assert expire(db) == 1
    feed(db, ref, ["45.9.148.9"])
    assert active(db) == {"45.9.148.9": True}


def test_expiry_leaves_false_positives_and_suppressed_values_and_their_reasons(db: Database):
    ref = source(db)
    old = NOW - timedelta(days=400)
    feed(db, ref, ["45.9.148.9", "45.9.148.10"], last_seen=old)
    with db.transaction() as session:
        update_indicator(
            session, actor=Actor.system(), key="45.9.148.9", changes={"false_positive": True}
        )

    class StopAll:
        def match(self, kind: Kind, value: str) -> str | None:
            return "everything"

    ingest(
        db,
        rows=[ParsedRow(line=1, value="evil.example.org", last_seen=old)],
        source=ref,
        suppressor=StopAll(),
    )
    assert expire(db) == 1  # only 45.9.148.10 was active
    with db.transaction(readonly=True) as session:
        meta = {i.indicator_value: i.metadata_ for i in session.scalars(select(ThreatIndicator))}
    assert meta["45.9.148.9"]["analyst"]["false_positive"]
    assert meta["evil.example.org"]["suppressed_by"] == "everything"
    # A report brings back the expired one, never the false positive nor the suppressed one.
    feed(db, ref, ["45.9.148.9", "45.9.148.10"])
    ingest(db, rows=[ParsedRow(line=1, value="evil.example.org")], source=ref)
    assert active(db) == {"45.9.148.9": False, "45.9.148.10": True, "evil.example.org": False}
