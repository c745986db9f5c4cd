"""The dashboard summary over HTTP, on both engines, from real rows: indicators by UTC day
and type and by day and source, open alerts, incidents, feed health, the most linked actors
and the totals."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from krsn.dashboards import service
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.models import Alert, AlertSeverity, AlertStatus, Incident, IncidentStatus
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import SourceRef, ingest
from krsn.feeds.service import create_feed, record_run
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import Severity, ThreatIndicator
from krsn.osint.models import Entity, EntityType
from krsn.sharing.models import ActorIndicator, ThreatActor

DASHBOARD = "/api/v1/dashboard"


def today() -> date:
    return datetime.now(UTC).date()


def at(days_ago: int, hour: int = 0, minute: int = 30) -> datetime:
    """A moment ``days_ago`` UTC days before today."""
    return datetime.combine(today() - timedelta(days=days_ago), time(hour, minute), tzinfo=UTC)


def source(database: Database, name: str) -> SourceRef:
    with database.transaction() as session:
        return ensure_source(session, actor=Actor.system(), name=name, reliability=80)


def report(database: Database, ref: SourceRef, rows: list[tuple[str, datetime | None]]) -> None:
    """Ingest ``(value, first seen)`` rows as ``ref``'s report, through the real pipeline."""
    parsed = [ParsedRow(line=i + 1, value=v, first_seen=seen) for i, (v, seen) in enumerate(rows)]
    summary = ingest(database, rows=parsed, source=ref, default_confidence=70)
    assert summary.rejected == 0, summary.errors


def indicator_ids(database: Database, *values: str) -> list[uuid.UUID]:
    with database.transaction(readonly=True) as session:
        rows = session.execute(
            select(ThreatIndicator.indicator_value, ThreatIndicator.id).where(
                ThreatIndicator.indicator_value.in_(values)
            )
        )
        found = {value: indicator_id for value, indicator_id in rows}
    return [found[value] for value in values]


def seed(database: Database) -> None:
    """Indicators from two sources over several days, alerts, incidents, feeds, actors and
    an entity."""
    alpha, beta = source(database, "Alpha Intel"), source(database, "Beta Feeds")
    report(
        database,
        alpha,
        [
            ("45.9.148.10", at(2)),
            ("45.9.148.11", at(2, 23, 59)),
            ("c2.badcorp-test.com", at(2)),
            ("http://bad.example.net/payload", at(5)),
            ("stale.badcorp-test.com", at(40)),
        ],
    )
    # Beta repeats one of Alpha's values (first seen stays Alpha's) and brings a new hash.
    report(database, beta, [("45.9.148.10", None), ("d41d8cd98f00b204e9800998ecf8427e", None)])
    actor = Actor.system()
    with database.transaction() as session:
        for severity, status in [
            (AlertSeverity.CRITICAL, AlertStatus.OPEN),
            (AlertSeverity.CRITICAL, AlertStatus.INVESTIGATING),
            (AlertSeverity.LOW, AlertStatus.OPEN),
            (AlertSeverity.HIGH, AlertStatus.RESOLVED),
            (AlertSeverity.MEDIUM, AlertStatus.FALSE_POSITIVE),
        ]:
            session.add(Alert(title=f"{severity} {status}", severity=severity, status=status))
        for number, status in enumerate(
            [IncidentStatus.OPEN, IncidentStatus.CONTAINED, IncidentStatus.RESOLVED], start=1
        ):
            session.add(
                Incident(
                    incident_number=f"INC-TEST-{number}",
                    title=f"incident {number}",
                    severity=Severity.HIGH,
                    status=status,
                    timeline=[],
                    affected_assets=[],
                )
            )
        broken = create_feed(
            session,
            actor=actor,
            name="broken list",
            url="https://feeds.example.com/broken.txt",
            format_name="text",
            parsing_rules={},
            source_name="Alpha Intel",
        )
        healthy = create_feed(
            session,
            actor=actor,
            name="Abuse list",
            url="https://feeds.example.com/abuse.txt",
            format_name="text",
            parsing_rules={},
            source_name="Beta Feeds",
        )
        create_feed(
            session,
            actor=actor,
            name="never ran",
            url="https://feeds.example.com/new.txt",
            format_name="text",
            parsing_rules={},
            source_name="Beta Feeds",
        )
        healthy.is_active = False
        record_run(
            healthy,
            {"run_id": "run-1", "started_at": at(1, 6).isoformat(), "status": "ok"}
            | {"parsed": 12, "new": 7, "updated": 3, "unchanged": 1, "rejected": 2},
            succeeded=True,
        )
        record_run(
            broken,
            {"run_id": "run-2", "started_at": at(0, 0, 1).isoformat(), "status": "failed"}
            | {"error": "HTTP 404 from feeds.example.com"},
            succeeded=False,
        )
        session.add(Entity(entity_type=EntityType.PERSON, name="J. Doe"))
        session.add(Entity(entity_type=EntityType.DOMAIN, name="c2.badcorp-test.com"))
    ids = indicator_ids(
        database, "45.9.148.10", "45.9.148.11", "c2.badcorp-test.com", "stale.badcorp-test.com"
    )
    with database.transaction() as session:
        actors = {
            name: ThreatActor(
                actor_name=name,
                motivations=[],
                target_industries=[],
                target_countries=[],
                known_tools=[],
                attribution_data={},
            )
            for name in ("APT Zeta", "APT Alpha", "Lonely")
        }
        session.add_all(actors.values())
        session.flush()
        for name, linked in [("APT Zeta", ids[:3]), ("APT Alpha", ids[3:])]:
            for indicator_id in linked:
                session.add(ActorIndicator(actor_id=actors[name].id, indicator_id=indicator_id))


def day(days_ago: int) -> str:
    return (today() - timedelta(days=days_ago)).isoformat()


def test_the_dashboard_sums_up_the_platform_from_real_rows(api: Any) -> None:
    seed(api.database)
    api.login_as("vera", "viewer")
    response = api.get(DASHBOARD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days"] == 14
    assert body["since"] == day(13)

    assert body["indicators_per_day"] == [
        {"day": day(5), "type": "url", "count": 1},
        {"day": day(2), "type": "domain", "count": 1},
        {"day": day(2), "type": "ip", "count": 2},
        {"day": day(0), "type": "hash", "count": 1},
    ]
    # Records are made when a source first reports a value: all of them today.
    assert body["indicators_per_source"] == [
        {"day": day(0), "source": "Alpha Intel", "count": 5},
        {"day": day(0), "source": "Beta Feeds", "count": 2},
    ]
    assert body["alerts_open_by_severity"] == {
        "critical": 2,
        "high": 0,
        "medium": 0,
        "low": 1,
        "info": 0,
    }
    assert body["incidents_by_status"] == {
        "open": 1,
        "investigating": 0,
        "contained": 1,
        "resolved": 1,
    }

    feeds = {feed["name"]: feed for feed in body["feeds"]}
    assert [feed["name"] for feed in body["feeds"]] == ["Abuse list", "broken list", "never ran"]
    assert feeds["Abuse list"]["enabled"] is False
    assert feeds["Abuse list"]["last_status"] == "ok"
    assert feeds["Abuse list"]["last_indicators"] == 10
    assert feeds["Abuse list"]["last_error"] is None
    assert datetime.fromisoformat(feeds["Abuse list"]["last_run"]) == at(1, 6)
    assert feeds["broken list"]["last_status"] == "failed"
    assert feeds["broken list"]["last_error"] == "HTTP 404 from feeds.example.com"
    assert feeds["broken list"]["last_indicators"] is None
    assert feeds["broken list"]["next_run"] is not None
    assert feeds["never ran"] | {"id": None, "next_run": None} == {
        "id": None,
        "name": "never ran",
        "enabled": True,
        "last_run": None,
        "last_status": None,
        "last_error": None,
        "last_indicators": None,
        "next_run": None,
    }

    assert [(a["name"], a["indicators"]) for a in body["top_actors"]] == [
        ("APT Zeta", 3),
        ("APT Alpha", 1),
    ]
    assert all(uuid.UUID(a["id"]) for a in body["top_actors"])
    assert body["totals"] == {
        "indicators": 6,
        "alerts_open": 3,
        "incidents_open": 2,
        "feeds": 3,
        "entities": 2,
    }


def test_the_window_follows_days(api: Any) -> None:
    seed(api.database)
    api.login_as("vera", "viewer")
    short = api.get(DASHBOARD, params={"days": 1}).json()
    assert short["since"] == day(0)
    assert short["indicators_per_day"] == [{"day": day(0), "type": "hash", "count": 1}]
    wide = api.get(DASHBOARD, params={"days": 90}).json()
    assert {"day": day(40), "type": "domain", "count": 1} in wide["indicators_per_day"]
    assert sum(row["count"] for row in wide["indicators_per_day"]) == 6


@pytest.mark.parametrize("days", ["0", "91", "-3", "two"])
def test_a_window_outside_1_to_90_days_is_refused(api: Any, days: str) -> None:
    api.login_as("vera", "viewer")
    response = api.get(DASHBOARD, params={"days": days})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "days" in response.json()["detail"]


def test_an_empty_platform_has_zeros_and_empty_lists(api: Any) -> None:
    api.login_as("vera", "viewer")
    body = api.get(DASHBOARD).json()
    assert body["indicators_per_day"] == body["indicators_per_source"] == []
    assert body["feeds"] == body["top_actors"] == []
    assert set(body["alerts_open_by_severity"].values()) == {0}
    assert set(body["incidents_by_status"].values()) == {0}
    assert set(body["totals"].values()) == {0}


def test_the_dashboard_needs_a_signed_in_caller(api: Any) -> None:
    response = api.get(DASHBOARD)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_days_are_utc_days_whatever_the_session_time_zone(db: Database) -> None:
    alpha = source(db, "Alpha Intel")
    # 23:30 UTC is already the next day at UTC+14.
    report(db, alpha, [("late.badcorp-test.com", at(3, 23)), ("early.badcorp-test.com", at(3, 0))])
    first, start, end = service.window(7, now=utcnow())
    with db.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL TIME ZONE 'Pacific/Kiritimati'"))
        rows = service.indicators_per_day(session, start=start, end=end)
    assert first == today() - timedelta(days=6)
    assert rows == [{"day": today() - timedelta(days=3), "type": "domain", "count": 2}]
