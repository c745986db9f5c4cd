"""The live stream over a real WebSocket, in one process (no Redis): who may connect, what
arrives, and when."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from krsn.db import Database
from krsn.detection import events


def commit(db: Database, *published: tuple[str, dict[str, Any]]) -> float:
    """Publish these events in one transaction on ``db``; the monotonic time it committed."""
    with db.transaction() as session:
        for topic, payload in published:
            events.publish(session, topic, payload)
    return time.monotonic()


@contextmanager
def stream(
    api: Any,
    *,
    query: str = "",
    cookie: bool = True,
    origin: str | None = "same",
    headers: dict[str, str] | None = None,
) -> Iterator[ClientConnection]:
    """A WebSocket to /api/v1/stream, carrying ``api``'s session cookie like a browser."""
    base = str(api.base_url)
    sent = dict(headers or {})
    session_cookie = api.cookies.get("krsn_session")
    if cookie and session_cookie:
        sent["Cookie"] = f"krsn_session={session_cookie}"
    with connect(
        base.replace("http://", "ws://") + "/api/v1/stream" + query,
        origin=base if origin == "same" else origin,  # type: ignore[arg-type]
        additional_headers=sent,
        proxy=None,
        open_timeout=10,
    ) as websocket:
        yield websocket


def receive(websocket: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next event, skipping heartbeats."""
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(websocket.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message["topic"] != "stream.heartbeat":
            return message


def ready(websocket: ClientConnection) -> dict[str, Any]:
    message = receive(websocket)
    assert message["topic"] == "stream.ready", message
    return message


def close_of(websocket: ClientConnection, timeout: float = 5.0) -> tuple[int, str]:
    """The close code and reason the server ends the stream with."""
    with pytest.raises(ConnectionClosed) as closed:
        deadline = time.monotonic() + timeout
        while True:
            websocket.recv(timeout=max(0.01, deadline - time.monotonic()))
    assert closed.value.rcvd is not None, "the server closed without a code"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_a_committed_alert_reaches_a_viewer_within_a_second(api):
    api.login_as("vera", "viewer")
    with stream(api) as websocket:
        assert ready(websocket)["payload"]["topics"] == [
            "alert.created",
            "alert.updated",
            "incident.created",
            "incident.updated",
        ]
        payload = {"id": "4f0c", "title": "Beacon to a known C2", "severity": "high"}
        committed = commit(api.database, ("alert.created", payload))
        message = receive(websocket, timeout=3)
        arrived = time.monotonic()
    assert message["topic"] == "alert.created"
    assert message["payload"] == payload
    assert arrived - committed < 1.0, f"arrived {arrived - committed:.3f} s after the commit"
    at = datetime.fromisoformat(message["at"])
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - at).total_seconds()) < 5


def test_events_of_one_commit_arrive_in_order(api):
    api.login_as("otto", "viewer")
    with stream(api) as websocket:
        ready(websocket)
        commit(
            api.database,
            ("incident.created", {"id": "i-1"}),
            ("alert.updated", {"id": "a-1", "incident_id": "i-1"}),
            ("incident.updated", {"id": "i-1", "alert_count": 1}),
        )
        got = [receive(websocket) for _ in range(3)]
    assert [(m["topic"], m["payload"]["id"]) for m in got] == [
        ("incident.created", "i-1"),
        ("alert.updated", "a-1"),
        ("incident.updated", "i-1"),
    ]


def test_a_rolled_back_transaction_sends_nothing(api):
    api.login_as("rob", "viewer")
    with stream(api) as websocket:
        ready(websocket)
        with pytest.raises(RuntimeError), api.database.transaction() as session:
            events.publish(session, "alert.created", {"id": "rolled-back"})
            raise RuntimeError("the action failed")
        commit(api.database, ("alert.updated", {"id": "kept"}))
        # The first event to arrive is the later, committed one.
        assert receive(websocket)["payload"] == {"id": "kept"}


def test_topics_filter_by_family_and_by_exact_topic(api):
    api.login_as("fil", "viewer")
    with stream(api, query="?topics=incident") as incidents:
        assert ready(incidents)["payload"]["topics"] == ["incident.created", "incident.updated"]
        with stream(api, query="?topics=alert.updated") as updates:
            ready(updates)
            commit(api.database, ("alert.created", {"id": "a-1"}))
            commit(api.database, ("incident.created", {"id": "i-1"}))
            commit(api.database, ("alert.updated", {"id": "a-1"}))
            commit(api.database, ("incident.updated", {"id": "i-1"}))
            assert [receive(incidents)["topic"] for _ in range(2)] == [
                "incident.created",
                "incident.updated",
            ]
            assert receive(updates)["topic"] == "alert.updated"
            commit(api.database, ("alert.updated", {"id": "a-2"}))
            # Nothing of the other topics waited in front of it.
            assert receive(updates)["payload"] == {"id": "a-2"}


def test_an_unknown_topic_is_refused_with_4400(api):
    api.login_as("typo", "viewer")
    with stream(api, query="?topics=alerts") as websocket:
        code, reason = close_of(websocket)
    assert code == 4400
    assert "alerts" in reason and "alert" in reason


def test_without_credentials_the_stream_closes_with_4401(api):
    with stream(api, cookie=False) as websocket:
        code, reason = close_of(websocket)
    assert code == 4401
    assert "Sign in" in reason


def test_an_unknown_session_cookie_closes_with_4401(api):
    with stream(api, cookie=False, headers={"Cookie": "krsn_session=forged"}) as websocket:
        code, _ = close_of(websocket)
    assert code == 4401


def test_a_cross_origin_page_cannot_use_the_session_cookie(api):
    api.login_as("carol", "analyst")
    with stream(api, origin="http://evil.example") as websocket:
        code, reason = close_of(websocket)
    assert code == 4403
    assert "Cross-origin" in reason
    with stream(api, origin=None) as websocket:
        code, reason = close_of(websocket)
    assert code == 4403
    assert "Origin" in reason


def test_an_api_key_with_read_scope_receives_events(api):
    api.login_as("scripter", "viewer")
    created = api.post("/api/v1/api-keys", json={"name": "stream"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    with stream(api, cookie=False, origin=None, headers=bearer) as websocket:
        ready(websocket)
        commit(api.database, ("incident.updated", {"id": "i-9", "status": "contained"}))
        message = receive(websocket, timeout=3)
    assert message["topic"] == "incident.updated"
    assert message["payload"]["status"] == "contained"


def test_an_api_key_without_read_scope_closes_with_4403(api):
    api.login_as("narrow", "viewer")
    created = api.post("/api/v1/api-keys", json={"name": "account only", "scopes": ["account"]})
    assert created.status_code == 201, created.text
    bearer = {"Authorization": f"Bearer {created.json()['key']}"}
    with stream(api, cookie=False, origin=None, headers=bearer) as websocket:
        code, reason = close_of(websocket)
    assert code == 4403
    assert "read" in reason


def test_a_revoked_api_key_is_disconnected_at_the_next_heartbeat(api, live_server):
    live_server.app.state.stream_bus.heartbeat_seconds = 0.3
    api.login_as("revoker", "viewer")
    created = api.post("/api/v1/api-keys", json={"name": "short-lived"}).json()
    bearer = {"Authorization": f"Bearer {created['key']}"}
    with stream(api, cookie=False, origin=None, headers=bearer) as websocket:
        ready(websocket)
        assert api.delete(f"/api/v1/api-keys/{created['api_key']['id']}").status_code in (200, 204)
        code, reason = close_of(websocket, timeout=3)
    assert code == 4401
    assert "revoked" in reason


def test_a_client_ping_gets_pong_and_the_server_sends_heartbeats(api, live_server):
    live_server.app.state.stream_bus.heartbeat_seconds = 0.2
    api.login_as("pinger", "viewer")
    with stream(api) as websocket:
        ready(websocket)
        websocket.send("ping")
        replies = [websocket.recv(timeout=3) for _ in range(3)]
    assert "pong" in replies
    beats = [json.loads(r) for r in replies if r != "pong"]
    assert beats and all(b["topic"] == "stream.heartbeat" for b in beats)


def test_logging_out_disconnects_the_stream_at_the_next_heartbeat(api, live_server):
    live_server.app.state.stream_bus.heartbeat_seconds = 0.3
    api.login_as("leaver", "viewer")
    with stream(api) as websocket:
        ready(websocket)
        assert api.post("/api/v1/auth/logout").status_code == 204
        started = time.monotonic()
        code, reason = close_of(websocket, timeout=3)
    assert code == 4401
    assert "session has ended" in reason
    assert time.monotonic() - started < 2


def test_reconfiguring_the_app_tells_subscribers_to_reconnect(api, live_server, db):
    api.login_as("stayer", "viewer")
    with stream(api) as websocket:
        ready(websocket)
        old_bus = live_server.app.state.stream_bus
        live_server.use(db)
        code, reason = close_of(websocket)
    assert code == 1001 and "reconnect" in reason
    assert old_bus.closed and live_server.app.state.stream_bus is not old_bus
    with stream(api) as websocket:
        ready(websocket)
        commit(db, ("alert.created", {"id": "after"}))
        message = receive(websocket)
        # One bus is the sink: the event comes once, from the new one.
        commit(db, ("alert.created", {"id": "next"}))
        following = receive(websocket)
    assert message["payload"] == {"id": "after"}
    assert following["payload"] == {"id": "next"}
