"""The stream bus on its own: committed events to subscribers on an event loop, a slow
subscriber dropped, one bus per process, and Redis refusing a publish."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from krsn.config import Settings
from krsn.db import Database
from krsn.detection import events
from krsn.detection.stream.bus import (
    Closed,
    StreamBus,
    StreamMessage,
    current_bus,
    start_publisher,
    topic_filter,
)


def commit(db: Database, *published: tuple[str, dict[str, Any]]) -> None:
    with db.transaction() as session:
        for topic, payload in published:
            events.publish(session, topic, payload)


@pytest.fixture
def buses() -> Iterator[list[StreamBus]]:
    """Buses a test makes; stopped after it."""
    made: list[StreamBus] = []
    yield made
    for bus in made:
        bus.close()


def started(buses: list[StreamBus], **options: Any) -> StreamBus:
    bus = StreamBus(**options)
    buses.append(bus)
    bus.start(wait_seconds=0.2)
    return bus


def listener_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "krsn-stream-listener" and t.is_alive()]


def test_a_subscriber_receives_committed_events_filtered_by_topic(db, buses):
    bus = started(buses)

    async def scenario() -> tuple[list[str], list[str]]:
        everything = bus.subscribe()
        alerts = bus.subscribe(topic_filter(["alert"]))
        # The commit runs in a worker thread, as a request's transaction does.
        await asyncio.to_thread(
            commit, db, ("incident.created", {"id": "i"}), ("alert.created", {"id": "a"})
        )
        got_all = [await asyncio.wait_for(everything.get(), 2) for _ in range(2)]
        got_alerts = [await asyncio.wait_for(alerts.get(), 2)]
        assert alerts.pending() == 0
        return (
            [m.topic for m in got_all if isinstance(m, StreamMessage)],
            [m.topic for m in got_alerts if isinstance(m, StreamMessage)],
        )

    everything, alerts = asyncio.run(scenario())
    assert everything == ["incident.created", "alert.created"]
    assert alerts == ["alert.created"]


def test_a_subscriber_that_falls_behind_is_dropped_with_a_reason(db, buses):
    bus = started(buses, max_queue=3)

    async def scenario() -> tuple[Any, int]:
        slow = bus.subscribe()
        for n in range(5):
            await asyncio.to_thread(commit, db, ("alert.updated", {"n": n}))
        # Let the handed-over events land before reading.
        await asyncio.sleep(0.1)
        return await asyncio.wait_for(slow.get(), 2), bus.subscriber_count()

    first, remaining = asyncio.run(scenario())
    assert isinstance(first, Closed)
    assert first.code == 1013
    assert "Fell behind by more than 3 events" in first.reason
    assert remaining == 0


def test_a_subscriber_that_keeps_up_is_never_dropped(db, buses):
    bus = started(buses, max_queue=2)

    async def scenario() -> list[int]:
        subscription = bus.subscribe()
        seen = []
        for n in range(10):
            await asyncio.to_thread(commit, db, ("alert.updated", {"n": n}))
            message = await asyncio.wait_for(subscription.get(), 2)
            assert isinstance(message, StreamMessage), message
            seen.append(n if f'"n":{n}' in message.text else -1)
        return seen

    assert asyncio.run(scenario()) == list(range(10))


def test_only_one_bus_per_process_is_the_sink(db, buses):
    first = started(buses)

    async def scenario() -> tuple[Any, list[Any]]:
        old = first.subscribe()
        second = started(buses)
        new = second.subscribe()
        await asyncio.to_thread(commit, db, ("incident.updated", {"id": "i"}))
        ended = await asyncio.wait_for(old.get(), 2)
        got = [await asyncio.wait_for(new.get(), 2)]
        await asyncio.sleep(0.2)
        while new.pending():
            got.append(await new.get())
        return ended, got

    ended, got = asyncio.run(scenario())
    assert isinstance(ended, Closed) and ended.code == 1001
    assert [m.topic for m in got] == ["incident.updated"]
    assert current_bus() is buses[1]


def test_a_stopped_bus_starts_again_but_a_closed_one_does_not(db, buses):
    bus = started(buses)
    bus.stop()
    assert not bus.started and current_bus() is None
    bus.start()
    assert bus.started and current_bus() is bus
    bus.close()
    with pytest.raises(RuntimeError, match="closed"):
        bus.start()


def test_stopping_ends_the_redis_listener(buses, redis_url):
    before = len(listener_threads())
    bus = started(buses, redis_url=redis_url)
    assert bus.listening
    assert len(listener_threads()) == before + 1
    bus.stop()
    assert len(listener_threads()) == before
    assert not bus.listening


def test_when_redis_refuses_a_publish_this_process_still_gets_the_event(db, buses, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.WARNING, logger="krsn.detection.stream.bus")
    bus = started(buses, redis_url=f"redis://127.0.0.1:{port}/0")
    assert not bus.listening

    async def scenario() -> Any:
        subscription = bus.subscribe()
        await asyncio.to_thread(commit, db, ("alert.created", {"id": "a"}))
        return await asyncio.wait_for(subscription.get(), 2)

    message = asyncio.run(scenario())
    assert isinstance(message, StreamMessage) and message.topic == "alert.created"
    assert "delivered to this process only" in caplog.text
    assert "lost Redis channel" in caplog.text


def test_topic_filters_name_families_or_topics():
    assert topic_filter([]) is None
    assert topic_filter(["", " "]) is None
    assert topic_filter(["alert"]) == {"alert.created", "alert.updated"}
    assert topic_filter(["incident.updated", "alert.created"]) == {
        "incident.updated",
        "alert.created",
    }
    with pytest.raises(ValueError, match="'alerts'"):
        topic_filter(["alerts"])
    with pytest.raises(ValueError, match=r"'alert\.'"):
        topic_filter(["alert."])


def test_a_publisher_needs_redis(buses, redis_url):
    assert start_publisher(Settings(redis_url=None)) is None
    before = len(listener_threads())
    bus = start_publisher(Settings(redis_url=redis_url))
    assert bus is not None
    buses.append(bus)
    assert bus.started and current_bus() is bus
    # It only publishes: no listener thread.
    assert len(listener_threads()) == before


def test_redis_channels_follow_the_database_number():
    assert StreamBus(redis_url="redis://127.0.0.1:6379/3").channel == "krsn:stream:3"
    assert StreamBus(redis_url="redis://127.0.0.1:6379").channel == "krsn:stream:0"
