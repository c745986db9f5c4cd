"""The dry run: past sightings and ingested records replayed in time order through a rule,
saved or not, reporting what it would have fired and writing nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.models import (
    CorrelationRule,
    RuleMatch,
    Sighting,
    Watchlist,
    WatchlistItem,
    WatchlistItemType,
    WatchlistType,
)
from krsn.detection.rules import dryrun, service
from krsn.errors import Invalid
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.models import ThreatFeed, ThreatIntelligence, ThreatSource
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.normalise import Indicator, normalise
from krsn.indicators.store import Report, upsert_indicators
from krsn.ml.models import MLModel, MLPrediction

NOW = utcnow().replace(microsecond=0)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def indicators(db: Database, *values: str, tags: tuple[str, ...] = ()) -> dict[str, uuid.UUID]:
    reports = []
    for value in values:
        reading = normalise(value)
        assert isinstance(reading, Indicator)
        reports.append(
            Report(indicator=reading, seen_at=ago(60 * 24 * 10), confidence=80, tags=tags)
        )
    with db.transaction() as session:
        result = upsert_indicators(session, reports=reports, source="seed", now=ago(60 * 24 * 10))
    by_signature = {r.signature: r.value for r in (normalise(v) for v in values)}  # type: ignore[union-attr]
    return {by_signature[s]: i for s, i in result.ids.items()}


def add_sightings(db: Database, *rows: dict[str, Any]) -> None:
    with db.transaction() as session:
        for row in rows:
            session.add(Sighting(matched=row.get("value"), **row))


def add_records(
    db: Database, *rows: tuple[uuid.UUID, datetime], source: str = "abuse feed"
) -> None:
    """Records ingested from a feed of ``source`` at the times given."""
    with db.transaction() as session:
        provider = ThreatSource(name=source)
        session.add(provider)
        session.flush()
        feed = ThreatFeed(source_id=provider.id, feed_name=f"{source} daily")
        session.add(feed)
        session.flush()
        for indicator_id, at in rows:
            session.add(
                ThreatIntelligence(
                    indicator_id=indicator_id,
                    source_id=provider.id,
                    feed_id=feed.id,
                    raw_data={"value": "x"},
                    processed_data={"value": "x"},
                    ingested_at=at,
                )
            )


def save(
    db: Database, name: str, rule_type: str, definition: dict[str, Any], **fields: Any
) -> uuid.UUID:
    values = {"name": name, "rule_type": rule_type, "rule_definition": definition, **fields}
    with db.transaction() as session:
        return service.create_rule(session, actor=Actor.system(), values=values).id


def replay(db: Database, rule_id: uuid.UUID, **options: Any) -> dryrun.DryRunReport:
    options.setdefault("since", ago(60 * 24 * 7))
    options.setdefault("until", NOW)
    with db.transaction(readonly=True) as session:
        return dryrun.dry_run_rule(session, service.get_rule(session, rule_id), **options)


def table_counts(db: Database) -> dict[str, int]:
    from krsn.detection.models import Alert

    with db.transaction(readonly=True) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (RuleMatch, Alert, Sighting, ThreatIntelligence, CorrelationRule)
        }


def test_a_saved_inactive_rule_replays_past_sightings_and_writes_nothing(db):
    ids = indicators(db, "45.9.148.9", tags=("c2",))
    other = indicators(db, "45.9.148.10")
    rule_id = save(
        db,
        "c2 on web-01",
        "pattern",
        {
            "condition": {
                "all": [
                    {"field": "host", "op": "eq", "value": "web-01"},
                    {"field": "indicator.tags", "op": "contains", "value": "c2"},
                ]
            }
        },
        is_active=False,
    )
    c2, plain = ids["45.9.148.9"], other["45.9.148.10"]
    add_sightings(
        db,
        {
            "value": "45.9.148.9",
            "observed_at": ago(60 * 24 * 8),
            "indicator_id": c2,
            "host": "web-01",
        },
        {"value": "45.9.148.9", "observed_at": ago(300), "indicator_id": c2, "host": "web-01"},
        {"value": "45[.]9.148.9", "observed_at": ago(200), "indicator_id": c2, "host": "web-01"},
        {"value": "45.9.148.9", "observed_at": ago(100), "indicator_id": c2, "host": "web-02"},
        {"value": "45.9.148.10", "observed_at": ago(50), "indicator_id": plain, "host": "web-01"},
        {"value": "45.9.148.9", "observed_at": ago(10), "indicator_id": c2, "host": "web-01"},
    )
    before = table_counts(db)
    seen: list[tuple[int, int]] = []
    report = replay(db, rule_id, progress=lambda done, total: seen.append((done, total)))

    assert table_counts(db) == before
    assert (report.events_total, report.events_scanned, report.sightings_scanned) == (5, 5, 5)
    assert report.ingests_scanned == 0
    assert report.firings == 3
    assert not report.capped
    assert [(k.key, k.count) for k in report.keys] == [(f"{rule_id}:{c2}", 3)]
    assert [s.observed_at for s in report.samples] == [ago(300), ago(200), ago(10)]
    assert report.samples[1].value == "45[.]9.148.9"
    assert report.samples[1].indicator_value == "45.9.148.9"
    assert report.samples[0].origin == "sighting"
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)


def test_a_threshold_replays_with_its_window_in_memory(db):
    ids = indicators(db, "evil.example.org")
    rule_id = save(
        db, "burst", "threshold", {"group_by": ["host"], "count": 3}, time_window_minutes=10
    )
    evil = ids["evil.example.org"]
    at = [100, 95, 92, 60, 55, 52, 51]  # bursts of three within ten minutes, then a fourth
    add_sightings(
        db,
        *(
            {"value": "evil.example.org", "observed_at": ago(m), "indicator_id": evil, "host": "pc"}
            for m in at
        ),
        {
            "value": "evil.example.org",
            "observed_at": ago(58),
            "indicator_id": evil,
            "host": "other",
        },
    )
    report = replay(db, rule_id)
    assert report.firings == 2
    assert [s.observed_at for s in report.samples] == [ago(92), ago(52)]
    assert [(k.key, k.count) for k in report.keys] == [(f"{rule_id}:pc", 2)]
    assert table_counts(db)["rule_matches"] == 0


def test_ingested_records_replay_with_their_source_and_feed(db):
    ids = indicators(db, "evil.example.org", "bad.example.org")
    add_records(db, (ids["evil.example.org"], ago(30)), (ids["bad.example.org"], ago(20)))
    add_records(db, (ids["evil.example.org"], ago(25)), source="quiet feed")
    add_records(db, (ids["evil.example.org"], ago(60 * 24 * 9)), source="old feed")
    rule_id = save(
        db,
        "abuse",
        "pattern",
        {
            "condition": {
                "all": [
                    {"field": "origin", "op": "eq", "value": "ingest"},
                    {"field": "source", "op": "eq", "value": "abuse feed"},
                    {"field": "feed", "op": "eq", "value": "abuse feed daily"},
                ]
            },
            "title": "{source} reported {value}",
        },
    )
    report = replay(db, rule_id)
    assert (report.events_scanned, report.ingests_scanned, report.firings) == (3, 3, 2)
    assert [(s.value, s.origin, s.title) for s in report.samples] == [
        ("evil.example.org", "ingest", "abuse feed reported evil.example.org"),
        ("bad.example.org", "ingest", "abuse feed reported bad.example.org"),
    ]


def test_records_of_a_real_feed_run_replay_as_ingest_observations(db):
    with db.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="pipeline feed", reliability=90)
    rows = [ParsedRow(line=1, value="hxxp://evil.example[.]org/gate.php", tags=("loader",))]
    ingest(db, rows=rows, source=source, default_confidence=80)
    with db.transaction(readonly=True) as session:
        report = dryrun.dry_run(
            session,
            rule_type="pattern",
            definition={
                "condition": {
                    "all": [
                        {"field": "kind", "op": "eq", "value": "url"},
                        {"field": "indicator.tags", "op": "contains", "value": "loader"},
                        {"field": "source", "op": "eq", "value": "pipeline feed"},
                    ]
                }
            },
            since=utcnow() - timedelta(hours=1),
        )
    assert (report.ingests_scanned, report.firings) == (1, 1)
    assert report.samples[0].value == "http://evil.example.org/gate.php"
    assert report.rule_id is None and report.rule_name == "unsaved rule"


def test_sightings_and_records_replay_in_one_time_order(db):
    ids = indicators(db, "evil.example.org")
    evil = ids["evil.example.org"]
    steps = [
        {"field": "origin", "op": "eq", "value": "ingest"},
        {"field": "origin", "op": "eq", "value": "sighting"},
    ]
    rule_id = save(
        db,
        "reported then seen",
        "time_based",
        {"steps": steps, "group_by": ["indicator.id"], "ordered": True},
        time_window_minutes=60,
    )
    add_sightings(db, {"value": "evil.example.org", "observed_at": ago(40), "indicator_id": evil})
    add_records(db, (evil, ago(30)))
    add_sightings(db, {"value": "evil.example.org", "observed_at": ago(20), "indicator_id": evil})
    report = replay(db, rule_id)
    assert (report.sightings_scanned, report.ingests_scanned) == (2, 1)
    assert [(s.origin, s.observed_at) for s in report.samples] == [("sighting", ago(20))]


def test_a_sighting_of_a_watchlist_item_replays_with_its_hit(db):
    with db.transaction() as session:
        watchlist = Watchlist(name="vip hosts", list_type=WatchlistType.IP_BLACKLIST)
        session.add(watchlist)
        session.flush()
        item = WatchlistItem(
            watchlist_id=watchlist.id, item_value="10.1.0.0/16", item_type=WatchlistItemType.IP
        )
        session.add(item)
        session.flush()
        item_id = item.id
    add_sightings(
        db,
        {
            "value": "10.1.2.3",
            "observed_at": ago(5),
            "watchlist_item_id": item_id,
            "context": {"port": 3389},
        },
        {"value": "10.9.9.9", "observed_at": ago(4)},
    )
    with db.transaction(readonly=True) as session:
        report = dryrun.dry_run(
            session,
            rule_type="pattern",
            definition={
                "condition": {
                    "all": [
                        {"field": "watchlist.names", "op": "contains", "value": "vip hosts"},
                        {"field": "context.port", "op": "eq", "value": 3389},
                        {"field": "value", "op": "in_cidr", "value": "10.1.0.0/16"},
                    ]
                }
            },
            since=ago(60),
        )
    assert report.firings == 1
    assert report.samples[0].indicator_id is None
    assert report.keys[0].key.endswith(":10.1.2.3")


def test_a_long_period_is_capped_at_the_limit_earliest_first(db):
    ids = indicators(db, "evil.example.org")
    rule_id = save(
        db, "all", "pattern", {"condition": {"field": "kind", "op": "eq", "value": "domain"}}
    )
    add_sightings(
        db,
        *(
            {
                "value": "evil.example.org",
                "observed_at": ago(m),
                "indicator_id": ids["evil.example.org"],
            }
            for m in (50, 40, 30, 20, 10)
        ),
    )
    report = replay(db, rule_id, limit=3, samples=1)
    assert report.capped
    assert (report.events_total, report.events_scanned, report.firings) == (5, 3, 3)
    assert report.scanned_until == ago(30)
    assert len(report.samples) == 1


def test_an_ml_rule_replays_on_stored_predictions(db):
    ids = indicators(db, "evil.example.org", "fine.example.org")
    with db.transaction() as session:
        model = MLModel(model_name="dga", is_active=True)
        session.add(model)
        session.flush()
        for value, score in (("evil.example.org", "0.9700"), ("fine.example.org", "0.0300")):
            session.add(
                MLPrediction(
                    model_id=model.id, indicator_id=ids[value], prediction_score=Decimal(score)
                )
            )
    add_sightings(
        db,
        {
            "value": "evil.example.org",
            "observed_at": ago(3),
            "indicator_id": ids["evil.example.org"],
        },
        {
            "value": "fine.example.org",
            "observed_at": ago(2),
            "indicator_id": ids["fine.example.org"],
        },
    )
    rule_id = save(db, "dga", "ml", {"model": "dga", "min_score": 0.8})
    report = replay(db, rule_id)
    assert [s.value for s in report.samples] == ["evil.example.org"]


def test_an_unsaved_rule_is_checked_as_a_save_would_check_it(db):
    with db.transaction(readonly=True) as session, pytest.raises(Invalid) as caught:
        dryrun.dry_run(
            session,
            rule_type="threshold",
            definition={"count": 2, "condition": {"any": [{"field": "host", "op": "eq"}]}},
            time_window_minutes=5,
            since=ago(60),
        )
    assert caught.value.field == "rule_definition.condition.any.0.value"


def test_the_period_must_run_forward(db):
    with db.transaction(readonly=True) as session, pytest.raises(Invalid) as caught:
        dryrun.dry_run(
            session,
            rule_type="pattern",
            definition={"condition": {"field": "host", "op": "exists"}},
            since=NOW,
            until=ago(5),
        )
    assert caught.value.field == "since"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        (" 45s ", timedelta(seconds=45)),
    ],
)
def test_a_duration_counts_back_from_now(text, expected):
    assert dryrun.parse_moment(text, now=NOW, field="since") == NOW - expected


def test_an_iso_time_is_read_in_utc():
    assert dryrun.parse_moment("2025-05-01T12:00:00+02:00", now=NOW, field="since") == datetime(
        2025, 5, 1, 10, 0, tzinfo=UTC
    )
    assert dryrun.parse_moment("2025-05-01", now=NOW, field="since") == datetime(
        2025, 5, 1, tzinfo=UTC
    )
    for bad in ("yesterday", "7 days", "-3d", "999999d"):
        with pytest.raises(Invalid):
            dryrun.parse_moment(bad, now=NOW, field="since")
