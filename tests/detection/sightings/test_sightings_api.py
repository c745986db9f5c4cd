"""Sightings over HTTP on both engines: a SIEM posts what it saw (JSON or NDJSON), known
indicators raise deduplicated alerts, misses are only counted, bad items are reported."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from detection_support import seed_indicators
from krsn.db import Database
from krsn.detection.models import Alert, AlertStatus, Sighting
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.models import IntelligenceStatus, ThreatIntelligence
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog

STORED = ["evil.example.org", "45.155.205.0/24", "198.51.100.7", "http://evil.example.org/g.php"]


def post(api: Any, items: Any, *, ndjson: bool = False) -> dict[str, Any]:
    if ndjson:
        body = b"\n".join(orjson.dumps(item) for item in items)
        response = api.post(
            "/api/v1/sightings", content=body, headers={"content-type": "application/x-ndjson"}
        )
    else:
        response = api.post("/api/v1/sightings", json=items)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def seeded(api: Any) -> Any:
    seed_indicators(api.database, STORED, severity_tags=("botnet",))
    api.login_as("siem", "user")
    return api


def test_a_sighting_of_a_known_indicator_raises_one_alert_that_counts_repeats(seeded: Any) -> None:
    seen = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    report = post(
        seeded,
        [
            {"value": "evil[.]example[.]org", "observed_at": seen.isoformat(), "host": "ws-042"},
            {"value": "evil.example.org", "host": "ws-043", "log_source": "dns"},
            {"value": "unknown.example.net", "host": "ws-042"},
        ],
    )
    assert report["received"] == 3
    assert report["matched"] == 2
    assert report["stored"] == 2
    assert report["alerts_created"] == 1
    assert [hit["index"] for hit in report["hits"]] == [0, 1]
    assert report["hits"][0]["matched"] == "evil.example.org"

    alerts = seeded.get("/api/v1/alerts").json()
    assert alerts["total"] == 1
    alert = alerts["items"][0]
    assert alert["occurrence_count"] == 2
    assert alert["indicator_value"] == "evil.example.org"
    assert alert["status"] == "open"
    assert "ws-042" in alert["title"]
    assert alert["alert_data"]["origin"] == "sighting"

    again = post(seeded, [{"value": "evil.example.org", "host": "ws-044"}])
    assert again["alerts_created"] == 0 and again["alerts_updated"] == 1
    alert = seeded.get(f"/api/v1/alerts/{alert['id']}").json()
    assert alert["occurrence_count"] == 3

    stored = seeded.get("/api/v1/sightings", params={"indicator_id": alert["indicator_id"]}).json()
    assert stored["total"] == 3
    assert {row["host"] for row in stored["items"]} == {"ws-042", "ws-043", "ws-044"}
    assert any(row["observed_at"].startswith("2026-11-26T09:30") for row in stored["items"])


def test_an_address_inside_a_stored_range_matches_the_range(seeded: Any) -> None:
    report = post(seeded, ["45.155.205.77", "198.51.100.7", "203.0.113.1"])
    assert report["matched"] == 2
    matched = {hit["value"]: hit["matched"] for hit in report["hits"]}
    assert matched == {"45.155.205.77": "45.155.205.0/24", "198.51.100.7": "198.51.100.7"}
    assert report["alerts_created"] == 2


def test_ndjson_batches_and_bad_items_are_reported_not_fatal(seeded: Any) -> None:
    body = b"\n".join(
        [
            orjson.dumps({"value": "evil.example.org", "time": 1_764_150_000}),
            b"{not json",
            orjson.dumps({"value": "not an observable at all"}),
            orjson.dumps({"host": "no value"}),
            orjson.dumps({"value": "198.51.100.7", "observed_at": "yesterday"}),
            orjson.dumps({"value": "198.51.100.7", "context": {"port": 443}}),
            b"",
        ]
    )
    response = seeded.post(
        "/api/v1/sightings", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["received"] == 6
    assert report["rejected"] == 3
    assert report["unreadable"] == 1
    assert report["matched"] == 2
    reasons = " | ".join(problem["reason"] for problem in report["problems"])
    assert "line 2 is not JSON" in reasons
    assert "value is required" in reasons
    assert "observed_at" in reasons
    assert "not an observable" in reasons
    with seeded.database.transaction(readonly=True) as session:
        contexts = list(session.scalars(select(Sighting.context)))
        times = list(session.scalars(select(Sighting.observed_at)))
    assert {"port": 443} in contexts
    assert datetime.fromtimestamp(1_764_150_000, tz=UTC) in times


def test_a_batch_that_is_not_a_list_is_refused_with_the_way_to_send_it(seeded: Any) -> None:
    response = seeded.post("/api/v1/sightings", json={"value": "evil.example.org"})
    assert response.status_code == 422
    assert "JSON list" in response.json()["detail"]
    response = seeded.post(
        "/api/v1/sightings", content=b"[1,", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_a_viewer_may_read_sightings_but_not_post_them(api: Any) -> None:
    api.login_as("watcher", "viewer")
    assert api.get("/api/v1/sightings").status_code == 200
    assert api.post("/api/v1/sightings", json=["evil.example.org"]).status_code == 403


def test_an_alert_closed_or_out_of_its_window_is_not_reopened(seeded: Any) -> None:
    post(seeded, ["evil.example.org"])
    alert = seeded.get("/api/v1/alerts").json()["items"][0]
    seeded.login_as("ana", "analyst")
    closed = seeded.post(f"/api/v1/alerts/{alert['id']}/resolve", json={"notes": "blocked"})
    assert closed.status_code == 200, closed.text
    report = post(seeded, ["evil.example.org"])
    assert report["alerts_created"] == 1
    with seeded.database.transaction() as session:
        newest = session.scalars(select(Alert).where(Alert.status == AlertStatus.OPEN)).one()
        newest.last_seen_at = newest.last_seen_at - timedelta(hours=2)
    report = post(seeded, ["evil.example.org"])
    assert report["alerts_created"] == 1
    with seeded.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 3


def test_triage_acknowledge_assign_and_resolve_as_false_positive_marking_the_indicator(
    seeded: Any,
) -> None:
    post(seeded, [{"value": "evil.example.org", "host": "ws-1"}])
    alert = seeded.get("/api/v1/alerts").json()["items"][0]
    seeded.login_as("ana", "analyst")

    acked = seeded.post(f"/api/v1/alerts/{alert['id']}/acknowledge").json()
    assert acked["status"] == "investigating"
    assert acked["acknowledged_at"] is not None
    assert acked["assigned_username"] == "ana"

    wrong = seeded.post(
        f"/api/v1/alerts/{alert['id']}/resolve", json={"mark_indicator_false_positive": True}
    )
    assert wrong.status_code == 422

    done = seeded.post(
        f"/api/v1/alerts/{alert['id']}/resolve",
        json={
            "notes": "internal scanner",
            "false_positive": True,
            "mark_indicator_false_positive": True,
        },
    ).json()
    assert done["status"] == "false_positive"
    assert done["resolved_at"] is not None
    assert done["resolution_notes"] == "internal scanner"

    with seeded.database.transaction(readonly=True) as session:
        statuses = set(
            session.scalars(
                select(ThreatIntelligence.status).where(
                    ThreatIntelligence.indicator_id == uuid.UUID(alert["indicator_id"])
                )
            )
        )
        actions = [a.action for a in session.scalars(select(AuditLog))]
    assert statuses == {IntelligenceStatus.FALSE_POSITIVE}
    assert actions.count("alert.update") == 2
    assert any(action.startswith("indicator.") for action in actions)

    # The indicator is no longer active: a new sighting of it raises nothing.
    report = post(seeded, ["evil.example.org"])
    assert report["matched"] == 0 and report["alerts_created"] == 0

    listed = seeded.get("/api/v1/alerts", params={"status": "false_positive"}).json()
    assert listed["total"] == 1


def test_alert_list_filters_and_pages(seeded: Any) -> None:
    post(seeded, ["evil.example.org", "198.51.100.7", "45.155.205.9"])
    first = seeded.get("/api/v1/alerts", params={"limit": 2}).json()
    assert first["total"] == 3 and len(first["items"]) == 2 and first["next_cursor"]
    rest = seeded.get("/api/v1/alerts", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    ids = {a["id"] for a in first["items"]} | {a["id"] for a in rest["items"]}
    assert len(ids) == 3
    only = seeded.get("/api/v1/alerts", params={"q": "198.51"}).json()
    assert [a["indicator_value"] for a in only["items"]] == ["198.51.100.7"]
    assert seeded.get("/api/v1/alerts", params={"unassigned": True}).json()["total"] == 3
    assert seeded.get("/api/v1/alerts", params={"status": "resolved"}).json()["total"] == 0


def test_sightings_ingested_by_a_feed_are_not_alerts_without_a_watchlist_or_rule(
    api: Any,
) -> None:
    database: Database = api.database
    with database.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="feed", reliability=90)
    ingest(database, rows=[ParsedRow(line=1, value="evil.example.org")], source=source)
    with database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
