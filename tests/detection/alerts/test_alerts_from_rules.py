"""Rules raise alerts on both paths, ingestion and sightings, deduplicated per rule and
indicator within the window; every new alert is published after its commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from detection_support import seed_indicators
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection import events
from krsn.detection.models import Alert, AlertSeverity
from krsn.detection.rules import service as rules
from krsn.detection.sightings.service import record_sightings
from krsn.identity.audit import Actor


def make_rule(database: Database, name: str, condition: dict[str, Any], **extra: Any) -> str:
    with database.transaction() as session:
        row = rules.create_rule(
            session,
            actor=Actor.system(),
            values={
                "name": name,
                "rule_type": "pattern",
                "rule_definition": {"condition": condition, "severity": "critical"},
                **extra,
            },
        )
        return str(row.id)


def alerts(database: Database) -> list[Alert]:
    with database.transaction(readonly=True) as session:
        return list(session.scalars(select(Alert).order_by(Alert.triggered_at)))


@pytest.fixture
def heard() -> Iterator[list[events.ChangeEvent]]:
    received: list[events.ChangeEvent] = []

    def sink(batch: list[events.ChangeEvent]) -> None:
        received.extend(batch)

    events.add_sink(sink)
    yield received
    events.remove_sink(sink)


def test_a_pattern_rule_fires_on_ingested_indicators_and_deduplicates(
    db: Database, heard: list[events.ChangeEvent]
) -> None:
    rule_id = make_rule(
        db,
        "botnet c2 reported",
        {"field": "indicator.tags", "op": "contains", "value": "botnet"},
        time_window_minutes=30,
    )
    seed_indicators(db, ["c2.example.org", "quiet.example.org"], severity_tags=())
    assert alerts(db) == []

    seed_indicators(db, ["c2.example.org"], source="second feed", severity_tags=("botnet",))
    raised = alerts(db)
    assert [(a.title, str(a.rule_id)) for a in raised] == [
        (raised[0].title, rule_id)
    ] and "c2.example.org" in (raised[0].description or "")
    assert raised[0].severity is AlertSeverity.CRITICAL
    assert raised[0].alert_data and raised[0].alert_data["origin"] == "ingest"
    assert raised[0].alert_data["seen"]["source"] == "second feed"
    assert [e.topic for e in heard] == ["alert.created"]
    assert heard[0].payload["id"] == str(raised[0].id)

    seed_indicators(db, ["c2.example.org"], source="third feed", severity_tags=("botnet",))
    again = alerts(db)
    assert len(again) == 1 and again[0].occurrence_count == 2
    assert [e.topic for e in heard] == ["alert.created", "alert.updated"]


def test_a_rule_over_sighting_context_fires_only_where_it_says(db: Database) -> None:
    seed_indicators(db, ["evil.example.org", "203.0.113.9"])
    make_rule(
        db,
        "known domain through the proxy",
        {
            "all": [
                {"field": "log_source", "op": "eq", "value": "proxy"},
                {"field": "indicator.type", "op": "eq", "value": "domain"},
            ]
        },
    )
    with db.transaction() as session:
        report = record_sightings(
            session,
            items=[
                {"value": "evil.example.org", "log_source": "proxy", "host": "ws-1"},
                {"value": "203.0.113.9", "log_source": "proxy"},
                {"value": "evil.example.org", "log_source": "dns"},
            ],
            reported_by=None,
            now=utcnow(),
        )
    assert report.matched == 3
    raised = alerts(db)
    by_rule = [a for a in raised if a.rule_id is not None]
    assert len(by_rule) == 1
    assert by_rule[0].severity is AlertSeverity.CRITICAL
    assert by_rule[0].alert_data and by_rule[0].alert_data["seen"]["log_source"] == "proxy"
    # Besides the rule, each sighted indicator has its own alert (two sightings of the
    # domain count on one).
    own = sorted((a.occurrence_count, a.title) for a in raised if a.rule_id is None)
    assert [count for count, _ in own] == [1, 2]


def test_an_inactive_rule_does_not_fire(db: Database) -> None:
    rule_id = make_rule(db, "everything", {"field": "kind", "op": "eq", "value": "domain"})
    with db.transaction() as session:
        row = rules.get_rule(session, uuid.UUID(rule_id))
        rules.set_active(session, row, actor=Actor.system(), active=False)
    seed_indicators(db, ["evil.example.org"])
    assert alerts(db) == []


def test_a_threshold_rule_counts_sightings_posted_in_separate_batches(api: Any) -> None:
    seed_indicators(api.database, ["evil.example.org", "bad.example.org", "worse.example.org"])
    with api.database.transaction() as session:
        rule = rules.create_rule(
            session,
            actor=Actor.system(),
            values={
                "name": "three known values from one host",
                "rule_type": "threshold",
                "time_window_minutes": 10,
                "rule_definition": {
                    "condition": {"field": "indicator.type", "op": "eq", "value": "domain"},
                    "group_by": ["host"],
                    "count": 3,
                    "severity": "high",
                },
            },
        )
        rule_id = rule.id
    api.login_as("siem", "user")
    for value in ("evil.example.org", "bad.example.org"):
        api.post("/api/v1/sightings", json=[{"value": value, "host": "ws-3"}])
    assert [a for a in alerts(api.database) if a.rule_id == rule_id] == []
    api.post("/api/v1/sightings", json=[{"value": "worse.example.org", "host": "ws-3"}])
    fired = [a for a in alerts(api.database) if a.rule_id == rule_id]
    assert len(fired) == 1 and fired[0].severity is AlertSeverity.HIGH
