"""A MISP feed (manifest.json + one file per event) run from a real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from krsn.config import Settings
from krsn.db import Database
from krsn.feeds import service
from krsn.feeds.runner import run_feed
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from support import shared_data

EVENT_UUID = "57c4445b-c548-4654-af0b-4be3950d210f"


@pytest.fixture
def misp_server() -> Iterator[tuple[str, list[str]]]:
    event = shared_data("misp", "pymisp", f"{EVENT_UUID}.json").read_bytes()
    body = json.loads(event)
    info = body.get("Event", body)
    manifest = json.dumps(
        {EVENT_UUID: {"info": info["info"], "timestamp": info["timestamp"], "uuid": EVENT_UUID}}
    ).encode()
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            payload = {"/feed/manifest.json": manifest, f"/feed/{EVENT_UUID}.json": event}.get(
                self.path
            )
            if payload is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed/manifest.json", paths
    server.shutdown()


def test_a_misp_feed_reads_its_events_and_then_only_newer_ones(db: Database, misp_server, tmp_path):
    url, paths = misp_server
    event = json.loads(shared_data("misp", "pymisp", f"{EVENT_UUID}.json").read_text())
    attributes = event.get("Event", event)["Attribute"]
    hashes = {
        a["value"].lower()
        for a in attributes
        if a["type"] in ("md5", "sha1", "sha256") and a.get("to_ids")
    }
    settings = Settings(data_dir=tmp_path / "var", egress_allow_private=True, feed_fetch_retries=0)
    with db.transaction() as session:
        service.add_from_template(session, actor=Actor.system(), template="circl-osint")
        feed = service.get_feed(session, "circl-osint")
        feed.feed_url = url
    first = run_feed(db, feed="circl-osint", settings=settings, actor=Actor.system())
    assert first["status"] == "ok", first
    assert f"/feed/{EVENT_UUID}.json" in paths
    with db.transaction(readonly=True) as session:
        stored = set(session.scalars(select(ThreatIndicator.indicator_value)))
    assert hashes <= stored
    assert first["new"] == len(stored)

    paths.clear()
    again = run_feed(db, feed="circl-osint", settings=settings, actor=Actor.system())
    assert again["status"] == "ok" and again["new"] == 0
    assert paths == ["/feed/manifest.json"]  # the event did not change: not fetched again
