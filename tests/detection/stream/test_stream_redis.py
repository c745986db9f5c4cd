"""The live stream across processes: through Redis pub/sub when it is configured, not at all
without it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from websockets.sync.client import ClientConnection, connect

from krsn.db import Database
from krsn.detection import events

# Another process: its own bus and database connection, one committed event, then exit.
# It prints the wall-clock time of its commit, to compare with the arrival here.
PUBLISHER = """
import json, sys, time
from krsn.db import Database
from krsn.detection import events
from krsn.detection.stream.bus import StreamBus

database_url, redis_url, topic, payload = sys.argv[1:5]
bus = StreamBus(redis_url=redis_url or None)
bus.start(listen=False)
database = Database(database_url)
with database.transaction() as session:
    events.publish(session, topic, json.loads(payload))
print(time.time(), flush=True)
bus.stop()
database.dispose()
"""


def publish_from_another_process(
    db: Database, redis_url: str | None, topic: str, payload: dict[str, Any]
) -> float:
    """Commit one event in a separate Python process; the wall-clock time it committed."""
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, "-c", PUBLISHER, db.url, redis_url or "", topic, json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


def commit(db: Database, topic: str, payload: dict[str, Any]) -> None:
    with db.transaction() as session:
        events.publish(session, topic, payload)


@contextmanager
def stream(api: Any) -> Iterator[ClientConnection]:
    base = str(api.base_url)
    with connect(
        base.replace("http://", "ws://") + "/api/v1/stream",
        origin=base,  # type: ignore[arg-type]
        additional_headers={"Cookie": f"krsn_session={api.cookies.get('krsn_session')}"},
        proxy=None,
    ) as websocket:
        message = json.loads(websocket.recv(timeout=10))
        assert message["topic"] == "stream.ready", message
        yield websocket


def received_with(websocket: ClientConnection, marker: str, seconds: float) -> list[Any]:
    """Every event carrying ``marker`` that arrives within ``seconds``, with its wall-clock
    arrival time (a shared Redis may carry other runs' events: those are ignored)."""
    found = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(websocket.recv(timeout=left))
        except TimeoutError:
            break
        if message.get("payload", {}).get("marker") == marker:
            found.append((time.time(), message))
    return found


def test_an_event_committed_by_another_process_arrives_once_within_a_second(
    api, live_server, db, redis_url
):
    live_server.use(db, redis_url=redis_url)
    api.login_as("watcher", "viewer")
    marker = uuid.uuid4().hex
    with stream(api) as websocket:
        committed = publish_from_another_process(
            db, redis_url, "alert.created", {"id": "a-7", "marker": marker}
        )
        got = received_with(websocket, marker, seconds=2.0)
    assert len(got) == 1, got
    arrived, message = got[0]
    assert message["topic"] == "alert.created" and message["payload"]["id"] == "a-7"
    assert arrived - committed < 1.0, f"arrived {arrived - committed:.3f} s after the commit"


def test_with_redis_an_event_of_this_process_goes_through_redis_and_arrives_once(
    api, live_server, db, redis_url
):
    live_server.use(db, redis_url=redis_url)
    channel = live_server.app.state.stream_bus.channel
    api.login_as("twice", "viewer")
    marker = uuid.uuid4().hex
    seen_on_redis: list[dict[str, Any]] = []
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=2) is None  # the confirmation, ignored

    def watch() -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.2)
            if message and marker in message["data"].decode():
                seen_on_redis.append(json.loads(message["data"]))

    watcher = threading.Thread(target=watch)
    watcher.start()
    with stream(api) as websocket:
        commit(db, "incident.created", {"id": "i-3", "marker": marker})
        got = received_with(websocket, marker, seconds=1.5)
    watcher.join()
    pubsub.close()
    client.close()
    assert len(got) == 1, got
    assert [[e["topic"] for e in m["events"]] for m in seen_on_redis] == [["incident.created"]]
    assert seen_on_redis[0]["origin"] == live_server.app.state.stream_bus.origin


def test_without_redis_another_process_is_not_heard(api, live_server, db):
    api.login_as("local", "viewer")
    marker = uuid.uuid4().hex
    with stream(api) as websocket:
        publish_from_another_process(db, None, "alert.created", {"marker": marker, "n": 1})
        time.sleep(0.5)
        commit(db, "alert.created", {"marker": marker, "n": 2})
        got = received_with(websocket, marker, seconds=1.5)
    assert [m["payload"]["n"] for _, m in got] == [2]


def test_the_listener_reconnects_after_losing_redis(api, live_server, db, redis_url, caplog):
    caplog.set_level(logging.INFO, logger="krsn.detection.stream.bus")
    live_server.use(db, redis_url=redis_url)
    bus = live_server.app.state.stream_bus
    api.login_as("patient", "viewer")
    marker = uuid.uuid4().hex
    with stream(api) as websocket:
        client = redis.Redis.from_url(redis_url)
        name = f"krsn-stream-{bus.origin[:12]}"
        ids = [c["id"] for c in client.client_list() if c.get("name") == name]
        assert len(ids) == 1, "the listener's connection is not named in CLIENT LIST"
        assert client.client_kill_filter(_id=ids[0]) == 1
        client.close()
        deadline = time.monotonic() + 10
        while "back on Redis" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        commit(db, "alert.updated", {"marker": marker})
        got = received_with(websocket, marker, seconds=2.0)
    assert "lost Redis channel" in caplog.text
    assert "back on Redis" in caplog.text
    assert len(got) == 1
