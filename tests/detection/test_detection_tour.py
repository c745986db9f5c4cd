"""The detection tour, end to end on both engines, through the public interfaces only.

A new analyst puts a phishing domain on a blacklist and registers a webhook; their SIEM posts
a batch of sightings (NDJSON) that includes a host under that domain. The alert arrives on
the live stream and, signed, at the webhook; the analyst promotes it to an incident, adds a
note and reads the incident's timeline, which the stream announced too.

The app runs as ``krsn serve`` runs it, lifespan included, so the notification dispatcher
and the stream's bus are the ones the app starts itself.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from krsn.app import create_app
from krsn.config import Settings
from krsn.db import Database
from krsn.detection.notify.channels.webhook import verify_signature
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.identity.users import create_user

PASSWORD = "Correct-Horse-Battery-42"
DOMAIN = "evil-login.net"


class Served:
    """The app under uvicorn on 127.0.0.1 with its lifespan on."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.app = create_app(settings=settings, database=database)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                owner.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/krsn"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def served(db: Database, tmp_path: Any) -> Iterator[Served]:
    settings = Settings(
        data_dir=tmp_path / "var",
        scheduler_enabled=False,
        egress_allowed_hosts="127.0.0.1",
        notify_poll_seconds=30,  # so a delivery within seconds proves the wake-up on a new alert
    )
    app = Served(db, settings)
    yield app
    app.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.server.shutdown()


def analyst(database: Database, base: str) -> httpx.Client:
    with database.transaction() as session:
        create_user(
            session,
            actor=Actor.system(),
            username="nadia",
            email="nadia@example.org",
            role=Role.ANALYST,
            password=PASSWORD,
        )
    client = httpx.Client(base_url=base, timeout=30)
    signed_in = client.post("/api/v1/auth/login", json={"username": "nadia", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    client.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]
    return client


def next_event(websocket: ClientConnection, topic: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(websocket.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message["topic"] == topic:
            return message


def test_blacklist_sighting_stream_webhook_incident_timeline(
    served: Served, receiver: Receiver, db: Database
) -> None:
    nadia = analyst(db, served.base)

    channel = nadia.post(
        "/api/v1/notifications/channels",
        json={"name": "SOC hook", "notification_type": "webhook", "config": {"url": receiver.url}},
    )
    assert channel.status_code == 201, channel.text
    secret = channel.json()["signing_secret"]
    assert secret

    listed = nadia.post(
        "/api/v1/watchlists", json={"name": "Phishing kits", "list_type": "domain_blacklist"}
    )
    assert listed.status_code == 201, listed.text
    added = nadia.post(f"/api/v1/watchlists/{listed.json()['id']}/items", json={"items": [DOMAIN]})
    assert added.status_code == 200 and added.json()["added"] == 1, added.text

    with connect(
        served.base.replace("http://", "ws://") + "/api/v1/stream",
        origin=served.base,  # type: ignore[arg-type]
        additional_headers={"Cookie": f"krsn_session={nadia.cookies['krsn_session']}"},
        proxy=None,
        open_timeout=10,
    ) as websocket:
        next_event(websocket, "stream.ready")
        seen = [
            {"value": "intranet.example.org", "host": "ws-042", "log_source": "dns"},
            {"value": f"sso.{DOMAIN}", "host": "ws-042", "log_source": "dns"},
            {"value": "203.0.113.77", "host": "ws-050", "log_source": "firewall"},
        ]
        posted_at = time.monotonic()
        sightings = nadia.post(
            "/api/v1/sightings",
            content=b"\n".join(json.dumps(s).encode() for s in seen),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert sightings.status_code == 200, sightings.text
        assert sightings.json()["watchlist_hits"] == 1
        assert sightings.json()["alerts_created"] == 1

        created = next_event(websocket, "alert.created")
        assert time.monotonic() - posted_at < 2.0
        alert = created["payload"]
        assert DOMAIN in alert["title"] and "Phishing kits" in alert["title"]
        assert alert["status"] == "open" and alert["severity"] == "high"

        assert receiver.arrived.wait(10), "the webhook was never called"
        headers, body = receiver.received[0]
        assert verify_signature(
            secret, headers["x-krsn-timestamp"], body, headers["x-krsn-signature"]
        )
        assert not verify_signature(
            "another-secret-of-enough-length",
            headers["x-krsn-timestamp"],
            body,
            headers["x-krsn-signature"],
        )
        assert json.loads(body)["alert"]["id"] == alert["id"]

        promoted = nadia.post(f"/api/v1/alerts/{alert['id']}/incident", json={})
        assert promoted.status_code == 201, promoted.text
        incident = promoted.json()
        number = incident["incident_number"]
        assert number.startswith("INC-") and number.endswith("-0001")
        opened = next_event(websocket, "incident.created")
        assert opened["payload"]["incident_number"] == number
        assert next_event(websocket, "alert.updated")["payload"]["status"] == "investigating"

        noted = nadia.post(
            f"/api/v1/incidents/{number}/notes",
            json={"text": "ws-042 reached the kit's login page; credentials reset."},
        )
        assert noted.status_code in (200, 201), noted.text

    timeline = nadia.get(f"/api/v1/incidents/{number}/timeline")
    assert timeline.status_code == 200, timeline.text
    entries = timeline.json()
    kinds = [entry["kind"] for entry in entries]
    assert kinds[0] == "promoted"
    assert "alert_linked" in kinds and kinds[-1] == "note"
    assert all(entry["actor"]["username"] == "nadia" for entry in entries)

    shown = nadia.get(f"/api/v1/alerts/{alert['id']}").json()
    assert shown["incident"]["incident_number"] == number
    delivered = nadia.get("/api/v1/notifications").json()["items"]
    assert [n["status"] for n in delivered] == ["delivered"]
