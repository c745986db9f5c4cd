"""Watchlists in the detection flow: a blacklist item hit by a sighting or by an ingested
indicator raises an alert; a whitelist item stops the alerts for its value and the stop is
recorded, never silent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from detection_support import seed_indicators
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.models import Alert, AlertSeverity, AlertSuppression, Sighting
from krsn.detection.sightings.service import record_sightings
from krsn.detection.watchlists import service as watchlists
from krsn.identity.audit import Actor

MD5 = "44d88612fea8a8f36de82e1278abb02f"


def watchlist(database: Database, name: str, list_type: str, values: list[str]) -> str:
    with database.transaction() as session:
        row = watchlists.create_watchlist(
            session, actor=Actor.system(), values={"name": name, "list_type": list_type}
        )
        watchlists.add_items(session, actor=Actor.system(), watchlist_id=row.id, items=values)
        return str(row.id)


def sight(database: Database, items: list[Any]) -> Any:
    with database.transaction() as session:
        return record_sightings(session, items=items, reported_by=None, now=utcnow())


def alerts(database: Database) -> list[Alert]:
    with database.transaction(readonly=True) as session:
        return list(session.scalars(select(Alert)))


def test_a_sighting_under_a_blacklisted_domain_raises_an_alert_without_any_indicator(
    db: Database,
) -> None:
    watchlist(db, "phishing kits", "domain_blacklist", ["evil-login.net"])
    report = sight(
        db,
        [
            {"value": "portal.evil-login.net", "host": "ws-7"},
            {"value": "hxxps://evil-login[.]net/reset", "host": "ws-8"},
            {"value": "fine.example.org"},
        ],
    )
    assert report.matched == 0
    assert report.watchlist_hits == 2
    assert report.stored == 2
    raised = alerts(db)
    assert len(raised) == 2
    assert {a.severity for a in raised} == {AlertSeverity.HIGH}
    assert all("phishing kits" in a.title for a in raised)
    assert all(a.indicator_id is None for a in raised)
    data = raised[0].alert_data or {}
    assert data["watchlists"][0]["item"] == "evil-login.net"
    with db.transaction(readonly=True) as session:
        kept = list(session.scalars(select(Sighting)))
    assert {s.matched for s in kept} == {"evil-login.net"}
    assert all(s.watchlist_item_id is not None for s in kept)

    again = sight(db, [{"value": "portal.evil-login.net", "host": "ws-9"}])
    assert again.alerts_created == 0 and again.alerts_updated == 1


def test_an_ingested_indicator_on_a_blacklist_raises_an_alert(db: Database) -> None:
    watchlist(db, "bad ranges", "ip_blacklist", ["203.0.113.0/24"])
    seed_indicators(db, ["203.0.113.50", "198.51.100.1"], source="abuse feed")
    raised = alerts(db)
    assert len(raised) == 1
    assert "203.0.113.50" in raised[0].title and "bad ranges" in raised[0].title
    assert raised[0].indicator_id is not None
    assert (raised[0].alert_data or {})["origin"] == "ingest"


def test_a_whitelisted_hash_suppresses_its_alerts_and_the_suppression_is_counted(
    db: Database,
) -> None:
    seed_indicators(db, [MD5, "evil.example.org"])
    watchlist(db, "test files", "hash_whitelist", [MD5])
    report = sight(db, [MD5, MD5, "evil.example.org"])
    assert report.matched == 3
    assert report.suppressed == 2
    assert report.alerts_created == 1
    assert [a.title for a in alerts(db) if MD5 in a.title] == []
    with db.transaction(readonly=True) as session:
        stopped = list(session.scalars(select(AlertSuppression)))
    assert len(stopped) == 1
    assert stopped[0].value == MD5 and stopped[0].occurrence_count == 2
    sight(db, [MD5])
    with db.transaction(readonly=True) as session:
        assert session.scalars(select(AlertSuppression.occurrence_count)).one() == 3


def test_suppressions_are_listed_over_http(api: Any) -> None:
    seed_indicators(api.database, [MD5])
    watchlist(api.database, "test files", "hash_whitelist", [MD5])
    api.login_as("siem", "user")
    assert api.post("/api/v1/sightings", json=[MD5]).json()["suppressed"] == 1
    listed = api.get("/api/v1/alerts/suppressed").json()
    assert listed["total"] == 1
    assert listed["items"][0]["value"] == MD5
    assert api.get("/api/v1/alerts").json()["total"] == 0
