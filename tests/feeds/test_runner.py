"""Running feeds against a real HTTP server on 127.0.0.1: conditional GET, history, failures."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from krsn.config import Settings
from krsn.db import Database
from krsn.feeds import service
from krsn.feeds.models import ThreatIntelligence
from krsn.feeds.runner import run_due_feeds, run_feed
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.models import ThreatActor
from krsn.sharing.stix.models import StixObject
from support import shared_data

SYSTEM = Actor.system()


class FeedServer:
    """Serves one text feed with an ETag; counts requests; can be told to fail."""

    def __init__(self) -> None:
        self.body = b"# test feed\n198.51.100.10\n198.51.100.11\nevil.example.org\n"
        self.requests = 0
        self.failing = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if owner.failing:
                    self.send_response(404)
                    self.end_headers()
                    return
                tag = '"' + hashlib.sha256(owner.body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", tag)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed.txt"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.server.shutdown()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "var", egress_allow_private=True, feed_fetch_retries=0)


def add_feed(db: Database, url: str) -> str:
    with db.transaction() as session:
        feed = service.create_feed(
            session,
            actor=SYSTEM,
            name="local",
            url=url,
            format_name="text",
            parsing_rules={},
            source_name="local provider",
            reliability=90,
            default_confidence=80,
            update_frequency_minutes=60,
        )
        return str(feed.id)


def test_a_feed_runs_then_costs_one_request_when_unchanged(db, feed_server, settings):
    add_feed(db, feed_server.url)
    first = run_feed(db, feed="local", settings=settings, actor=SYSTEM)
    assert first["status"] == "ok" and first["new"] == 3
    second = run_feed(db, feed="local", settings=settings, actor=SYSTEM)
    assert second["status"] == "not_modified"
    assert feed_server.requests == 2
    feed_server.body += b"198.51.100.12\n"
    third = run_feed(db, feed="local", settings=settings, actor=SYSTEM)
    assert (third["status"], third["new"], third["unchanged"]) == ("ok", 1, 3)
    with db.transaction(readonly=True) as session:
        feed = service.get_feed(session, "local")
        runs = (feed.feed_statistics or {})["runs"]
        assert [r["status"] for r in runs] == ["ok", "not_modified", "ok"]
        assert feed.last_successful_update is not None
        assert feed.next_scheduled_update is not None
        assert feed.next_scheduled_update > feed.last_successful_update
        value = session.scalar(
            select(ThreatIndicator.metadata_).where(
                ThreatIndicator.indicator_value == "198.51.100.10"
            )
        )
        assert value["sources"] == {"local provider": 72.0}


def test_a_failing_feed_is_recorded_and_rescheduled(db, feed_server, settings):
    add_feed(db, feed_server.url)
    feed_server.failing = True
    result = run_feed(db, feed="local", settings=settings, actor=SYSTEM)
    assert result["status"] == "failed"
    assert "404" in result["error"]
    with db.transaction(readonly=True) as session:
        feed = service.get_feed(session, "local")
        assert feed.last_successful_update is None
        assert feed.next_scheduled_update is not None
        audited = session.scalar(select(func.count()).where(AuditLog.action == "threat_feed.run"))
        assert audited == 1


def test_private_addresses_are_refused_unless_allowed(db, feed_server, tmp_path):
    add_feed(db, feed_server.url)
    strict = Settings(data_dir=tmp_path / "var", feed_fetch_retries=0)
    result = run_feed(db, feed="local", settings=strict, actor=SYSTEM)
    assert result["status"] == "failed"
    assert feed_server.requests == 0


def test_the_scheduler_runs_only_due_feeds(db, feed_server, settings):
    add_feed(db, feed_server.url)
    assert [r["status"] for r in run_due_feeds(db, settings=settings, actor=SYSTEM)] == ["ok"]
    assert run_due_feeds(db, settings=settings, actor=SYSTEM) == []


def test_feeds_from_templates_and_clear_refusals(db):
    with db.transaction() as session:
        feed = service.add_from_template(session, actor=SYSTEM, template="feodotracker")
        assert feed.feed_url and feed.feed_url.startswith("https://")
        assert (feed.feed_statistics or {})["template"] == "feodotracker"
    with pytest.raises(Exception, match="exists"), db.transaction() as session:
        service.add_from_template(session, actor=SYSTEM, template="feodotracker")
    with pytest.raises(Exception, match="url"), db.transaction() as session:
        service.create_feed(
            session,
            actor=SYSTEM,
            name="x",
            url="file:///etc/passwd",
            format_name="text",
            parsing_rules={},
            source_name="s",
        )
    with pytest.raises(Exception, match="parsing_rules"), db.transaction() as session:
        service.create_feed(
            session,
            actor=SYSTEM,
            name="y",
            url="https://example.org/f",
            format_name="csv",
            parsing_rules={"colums": {}},
            source_name="s",
        )


def test_a_stored_url_the_client_cannot_use_fails_the_run_not_the_process(db, settings):
    feed_id = add_feed(db, "http://127.0.0.1:1/feed.txt")
    with db.transaction() as session:
        service.get_feed(session, feed_id).feed_url = "http://ü-.example/feed.txt"
    result = run_feed(db, feed="local", settings=settings, actor=SYSTEM)
    assert result["status"] == "failed"
    assert result["error"]


def test_a_stix_feed_keeps_the_whole_bundle_and_names_its_feed(db, feed_server, settings):
    bundle = json.loads(shared_data("stix", "oasis-docs", "apt1.json").read_bytes())
    by_type = Counter(obj["type"] for obj in bundle["objects"])
    feed_server.body = json.dumps(bundle).encode()
    with db.transaction() as session:
        service.create_feed(
            session,
            actor=SYSTEM,
            name="partner",
            url=feed_server.url,
            format_name="stix",
            parsing_rules={},
            source_name="partner sharing",
            reliability=80,
        )
    first = run_feed(db, feed="partner", settings=settings, actor=SYSTEM)
    assert first["status"] == "ok", first
    assert first["stix_objects"] == len(bundle["objects"])
    assert first["new"] > 0
    with db.transaction(readonly=True) as session:
        stored = Counter(session.scalars(select(StixObject.stix_type)))
        feed = service.get_feed(session, "partner")
        records = session.scalars(select(ThreatIntelligence.feed_id)).all()
        actors = session.scalar(select(func.count()).select_from(ThreatActor))
    assert stored == by_type
    assert records and set(records) == {feed.id}
    assert actors == by_type["intrusion-set"] + by_type["threat-actor"]
    feed_server.body += b" "  # a new ETag: the bundle is fetched and read again
    second = run_feed(db, feed="partner", settings=settings, actor=SYSTEM)
    assert second["status"] == "ok"
    assert (second["new"], second["updated"]) == (0, first["new"])
    assert second["stix"]["created"] == 0


def test_a_run_ends_by_correlating_what_it_reported(db, feed_server, settings):
    from krsn.detection.models import CorrelationType, ThreatCorrelation

    add_feed(db, feed_server.url)
    run = run_feed(db, feed="local", settings=settings, actor=SYSTEM)
    # Three values one source reported together: each pair is a temporal correlation.
    assert run["correlations"] == {"indicators": 3, "created": 3, "updated": 0}
    with db.transaction(readonly=True) as session:
        kinds = list(session.scalars(select(ThreatCorrelation.correlation_type)))
    assert kinds == [CorrelationType.TEMPORAL] * 3
    feed_server.body += b"198.51.100.12\n"
    again = run_feed(db, feed="local", settings=settings, actor=SYSTEM)
    assert again["correlations"]["indicators"] == 1
