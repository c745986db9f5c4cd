"""The feed scheduler: due feeds run in the background, each claimed once, and it stops clean.

Feeds are served by a real HTTP server on 127.0.0.1; the database is real, on both engines.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from krsn.config import Settings
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.feeds import service
from krsn.feeds.models import ThreatFeed
from krsn.feeds.scheduler import THREAD_NAME, FeedScheduler
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog

SYSTEM = Actor.system()


class FeedServer:
    """Serves a small text feed on 127.0.0.1; counts requests; can be slow, missing or busy."""

    def __init__(self) -> None:
        self.body = b"# scheduled\n203.0.113.5\n198.51.100.7\nmalware.example.net\n"
        self.requests: list[str] = []
        self.delay = 0.0
        self.busy = False  # answer 503 with a long Retry-After
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                if owner.delay:
                    time.sleep(owner.delay)
                if self.path.startswith("/missing"):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if owner.busy:
                    self.send_response(503)
                    self.send_header("Retry-After", "30")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One folder for the module, so the warninglists compile once, not per test.
    return tmp_path_factory.mktemp("scheduler") / "var"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        egress_allow_private=True,
        feed_fetch_retries=0,
        scheduler_interval_seconds=0.2,
    )


def add_feed(db: Database, url: str, name: str = "local", minutes: int = 60) -> str:
    with db.transaction() as session:
        feed = service.create_feed(
            session,
            actor=SYSTEM,
            name=name,
            url=url,
            format_name="text",
            parsing_rules={"comment_prefix": "#"},
            source_name="local provider",
            update_frequency_minutes=minutes,
        )
        return str(feed.id)


def feed_row(db: Database, name: str = "local") -> ThreatFeed:
    with db.transaction(readonly=True) as session:
        row = service.get_feed(session, name)
        session.expunge(row)
        return row


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


class Served:
    """The app under uvicorn on 127.0.0.1 with its lifespan on, as 'krsn serve' runs it."""

    def __init__(self, app) -> None:
        import socket

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def __enter__(self) -> Served:
        self.thread.start()
        wait_for(lambda: self.server.started)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive()


def test_a_due_feed_runs_in_the_background_and_moves_a_period_ahead(
    db, feed_server, settings, caplog
):
    add_feed(db, f"{feed_server.base}/list.txt", minutes=90)
    before = utcnow()
    scheduler = FeedScheduler(db, settings)
    caplog.set_level(logging.INFO, logger="krsn.feeds.scheduler")
    scheduler.start()
    try:
        wait_for(lambda: (feed_row(db).feed_statistics or {}).get("runs"))
        wait_for(lambda: scheduler.passes >= 2)  # later passes find nothing due
    finally:
        scheduler.stop()
    assert not scheduler.running and not scheduler_threads()
    assert len(feed_server.requests) == 1
    row = feed_row(db)
    [run] = row.feed_statistics["runs"]
    assert run["status"] == "ok" and run["parsed"] == 3
    # The scheduler checks the values against the warninglists, as 'krsn feeds run' does.
    assert run["suppressed"] >= 1
    assert row.next_scheduled_update is not None and row.last_successful_update is not None
    ahead = row.next_scheduled_update - row.last_successful_update
    assert abs(ahead - timedelta(minutes=90)) < timedelta(seconds=5)
    assert row.next_scheduled_update >= before + timedelta(minutes=90)
    with db.transaction(readonly=True) as session:
        audited = session.scalars(select(AuditLog).where(AuditLog.action == "threat_feed.run"))
        assert [(a.user_id, (a.metadata_ or {}).get("via")) for a in audited] == [(None, "system")]
    lines = [r for r in caplog.records if getattr(r, "feed", None) == "local"]
    assert any("scheduled run ok" in r.getMessage() for r in lines)


def test_a_feed_is_claimed_once_and_a_period_ahead(db, feed_server):
    feed_id = add_feed(db, f"{feed_server.base}/list.txt", minutes=30)
    now = utcnow()
    with db.transaction() as session:
        assert service.claim_feed(session, feed_id=uuid.UUID(feed_id), now=now)
    with db.transaction() as session:
        assert not service.claim_feed(session, feed_id=uuid.UUID(feed_id), now=now)
    row = feed_row(db)
    assert row.next_scheduled_update is not None
    assert abs(row.next_scheduled_update - (now + timedelta(minutes=30))) < timedelta(seconds=1)
    with db.transaction(readonly=True) as session:
        assert service.due_feeds(session) == []


def test_two_schedulers_racing_on_one_due_feed_run_it_once(db, feed_server, settings):
    add_feed(db, f"{feed_server.base}/list.txt")
    feed_server.delay = 0.5  # the run outlasts the other scheduler's look at what is due
    # A second engine on the same database, as a second server process would have.
    other_db = Database(db.url)
    schedulers = [FeedScheduler(db, settings), FeedScheduler(other_db, settings)]
    for scheduler in schedulers:
        scheduler.suppressor()
    start = threading.Barrier(2)
    results = []

    def run(scheduler: FeedScheduler) -> None:
        start.wait()
        results.append(scheduler.run_once())

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        other_db.dispose()
    assert len(results) == 2
    assert len(feed_server.requests) == 1
    assert sum(len(r.runs) for r in results) == 1
    assert len(feed_row(db).feed_statistics["runs"]) == 1


def test_a_failing_feed_is_recorded_and_the_next_one_still_runs(db, feed_server, settings, caplog):
    add_feed(db, f"{feed_server.base}/missing.txt", name="broken")
    add_feed(db, f"{feed_server.base}/list.txt", name="good")
    caplog.set_level(logging.INFO)
    done = FeedScheduler(db, settings).run_once()
    by_feed = {run["feed"]: run for run in done.runs}
    assert by_feed["broken"]["status"] == "failed" and "404" in by_feed["broken"]["error"]
    assert by_feed["good"]["status"] == "ok"
    assert done.as_dict()["failed"] == 1
    assert feed_row(db, "broken").feed_statistics["runs"][0]["status"] == "failed"
    broken_lines = [r for r in caplog.records if getattr(r, "feed", None) == "broken"]
    assert any(r.levelno == logging.WARNING for r in broken_lines)


def test_stop_is_prompt_while_the_scheduler_waits(db, settings):
    scheduler = FeedScheduler(db, settings, interval=3600)
    scheduler.start()
    wait_for(lambda: scheduler.passes >= 1)
    started = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - started < 2
    assert not scheduler_threads()


def test_stop_is_prompt_during_a_run_and_the_feed_is_due_again(db, feed_server, settings):
    add_feed(db, f"{feed_server.base}/list.txt")
    feed_server.busy = True  # every answer asks to come back in 30 s
    patient = settings.model_copy(update={"feed_fetch_retries": 5})
    scheduler = FeedScheduler(db, patient, interval=3600)
    scheduler.start()
    wait_for(lambda: len(feed_server.requests) >= 1)
    time.sleep(0.2)  # inside the back-off wait now
    started = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - started < 5
    assert not scheduler_threads()
    row = feed_row(db)
    [run] = row.feed_statistics["runs"]
    assert run["status"] == "failed" and "shutting down" in run["error"]
    assert row.next_scheduled_update is not None and row.next_scheduled_update <= utcnow()


def test_the_app_lifespan_starts_and_stops_the_scheduler(db, feed_server, settings):
    from krsn.app import create_app

    add_feed(db, f"{feed_server.base}/list.txt")
    app = create_app(settings=settings, database=db)
    with Served(app) as served:
        assert httpx.get(f"{served.base_url}/healthz").status_code == 200
        assert app.state.scheduler is not None and app.state.scheduler.running
        assert len(scheduler_threads()) == 1
        wait_for(lambda: (feed_row(db).feed_statistics or {}).get("runs"))
    assert app.state.scheduler is None
    assert not scheduler_threads()
    assert feed_row(db).feed_statistics["runs"][0]["status"] == "ok"


def test_the_scheduler_stays_off_when_disabled(db, feed_server, settings):
    from krsn.app import create_app

    add_feed(db, f"{feed_server.base}/list.txt")
    off = settings.model_copy(update={"scheduler_enabled": False})
    app = create_app(settings=off, database=db)
    with Served(app) as served:
        assert httpx.get(f"{served.base_url}/healthz").status_code == 200
        time.sleep(0.5)
        assert app.state.scheduler is None and not scheduler_threads()
    assert feed_server.requests == []
