"""The stream bus: committed change events to every live-stream subscriber of every process.

Each process has one bus, registered as a sink of :mod:`krsn.detection.events`. Without
Redis it hands each committed batch straight to the subscribers of its own process. With
Redis, it publishes the batch on a pub/sub channel instead, and a listener thread in every
process (this one included) hands what arrives on that channel to its own subscribers: an
event reaches each subscriber exactly once, by that one path, whichever process committed it.

A subscriber is an :class:`asyncio.Queue` on its own event loop, filled through
``loop.call_soon_threadsafe`` from whatever thread committed (a request worker, the feed
scheduler, the listener). The queue is bounded: a subscriber that falls too far behind is
dropped, told why, rather than left to grow the process's memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from krsn.config import Settings
from krsn.detection import events
from krsn.detection.events import ChangeEvent

__all__ = [
    "TOPICS",
    "Closed",
    "StreamBus",
    "StreamMessage",
    "Subscription",
    "start_publisher",
    "topic_filter",
]

log = logging.getLogger(__name__)

TOPICS = ("alert.created", "alert.updated", "incident.created", "incident.updated")
"""Every topic the services publish; a filter names one of these or a family (``alert``)."""

CHANNEL_PREFIX = "krsn:stream"
DEFAULT_MAX_QUEUE = 1000
DEFAULT_HEARTBEAT_SECONDS = 15.0
# The publisher runs on the committing thread: during an outage it must fail fast.
_PUBLISH_TIMEOUT_SECONDS = 1.0
_LISTEN_POLL_SECONDS = 0.25
_RECONNECT_MAX_SECONDS = 10.0
_START_WAIT_SECONDS = 5.0


def utc_iso(moment: datetime) -> str:
    """``2026-01-02T03:04:05.000006Z``, the way the API writes times."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One event as a client receives it; ``text`` is the JSON ``{"topic", "at", "payload"}``,
    serialised once for all subscribers."""

    topic: str
    text: str

    @classmethod
    def of(cls, topic: str, at: str, payload: dict[str, Any]) -> StreamMessage:
        body = {"topic": topic, "at": at, "payload": payload}
        # default=str: a payload that slipped a UUID or datetime past the contract is still
        # worth sending, readable, rather than lost to a sink error.
        return cls(topic, json.dumps(body, default=str, separators=(",", ":")))


@dataclass(frozen=True, slots=True)
class Closed:
    """The last item of a subscription's queue: why the stream ends and the close code."""

    code: int
    reason: str


# Close codes a subscription ends with (the stream API sends them to its client).
GOING_AWAY = 1001
FELL_BEHIND = 1013


def topic_filter(names: Iterable[str]) -> frozenset[str] | None:
    """The topics a filter of families or topics (``alert``, ``incident.updated``) selects;
    None (every topic) when it names none. Raises ValueError naming what is unknown.
    """
    chosen: set[str] = set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        matching = {t for t in TOPICS if t == name or t.startswith(name + ".")}
        if not matching:
            families = sorted({t.split(".", 1)[0] for t in TOPICS})
            raise ValueError(
                f"unknown topic {name!r}; use {', '.join(families)} or one of {', '.join(TOPICS)}"
            )
        chosen |= matching
    return frozenset(chosen) if chosen else None


class Subscription:
    """One subscriber's queue of :class:`StreamMessage`, ended by a :class:`Closed`."""

    def __init__(
        self, bus: StreamBus, loop: asyncio.AbstractEventLoop, topics: frozenset[str] | None
    ) -> None:
        self.bus = bus
        self.loop = loop
        self.topics = topics
        self.max_queue = bus.max_queue
        # One slot beyond the limit, kept for the Closed marker.
        self._queue: asyncio.Queue[StreamMessage | Closed] = asyncio.Queue(bus.max_queue + 1)
        self.closed: Closed | None = None

    def wants(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics

    async def get(self) -> StreamMessage | Closed:
        """The next message, or the :class:`Closed` that ends the subscription."""
        return await self._queue.get()

    def pending(self) -> int:
        """How many messages wait unread."""
        return self._queue.qsize()

    # Runs on the subscriber's loop only.
    def _offer(self, messages: list[StreamMessage]) -> None:
        if self.closed is not None:
            return
        for message in messages:
            if self._queue.qsize() >= self.max_queue:
                self.bus.unsubscribe(self)
                self._end(
                    Closed(
                        FELL_BEHIND,
                        f"Fell behind by more than {self.max_queue} events; "
                        "reconnect and reload the lists.",
                    )
                )
                log.warning("dropped a stream subscriber %d events behind", self.max_queue)
                return
            self._queue.put_nowait(message)

    def _end(self, closed: Closed) -> None:
        if self.closed is not None:
            return
        self.closed = closed
        # What is unread is lost anyway; the marker must get through at once.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(closed)


_current_lock = threading.Lock()
_current: StreamBus | None = None


def current_bus() -> StreamBus | None:
    """The bus registered as this process's sink, if any."""
    return _current


class StreamBus:
    """Fans committed change events out to subscribers, through Redis when it has a URL.

    Build it cheaply (nothing connects); :meth:`start` registers it as the process's one
    sink (stopping any other bus that was) and, with Redis, starts the listener thread.
    """

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.redis_url = redis_url
        self.max_queue = max_queue
        self.heartbeat_seconds = heartbeat_seconds
        # Tells this bus's messages apart on a shared channel, for the logs.
        self.origin = uuid.uuid4().hex
        self.channel = CHANNEL_PREFIX
        if redis_url:
            # Pub/sub channels span every Redis database of a server; keys do not. Naming
            # the database keeps deployments that share a server apart, as their keys are.
            database = redis.connection.parse_url(redis_url).get("db", 0)
            self.channel = f"{CHANNEL_PREFIX}:{database}"
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._started = False
        self._closed = False
        self._publisher: redis.Redis | None = None
        self._listener: _Listener | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamBus:
        """The bus a process with these settings uses (Redis when ``redis_url`` is set)."""
        return cls(redis_url=settings.redis_url)

    @property
    def started(self) -> bool:
        return self._started

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def listening(self) -> bool:
        """Whether events of other processes reach this one now (always, without Redis)."""
        listener = self._listener
        return not self.redis_url or (listener is not None and listener.listening.is_set())

    # --- lifetime -------------------------------------------------------------------------

    def start(self, *, listen: bool = True, wait_seconds: float = _START_WAIT_SECONDS) -> None:
        """Register as the process's sink; with Redis and ``listen``, start the listener
        and wait (up to ``wait_seconds``) until it hears the channel. Blocking, idempotent.

        ``listen=False`` suits a process that only commits (a command, a worker).
        """
        global _current
        with _current_lock:
            if self._closed:
                raise RuntimeError("this stream bus was closed; build a new one")
            previous, _current = _current, self
        if previous is not None and previous is not self:
            log.info("a new stream bus replaces the previous one of this process")
            previous.stop()
        with self._lock:
            if not self._started:
                if self.redis_url:
                    self._publisher = redis.Redis.from_url(
                        self.redis_url,
                        socket_connect_timeout=_PUBLISH_TIMEOUT_SECONDS,
                        socket_timeout=_PUBLISH_TIMEOUT_SECONDS,
                        # Once, at once: a pooled connection Redis dropped (a restart) fails
                        # its first use; waiting longer would hold up the committer.
                        retry=Retry(NoBackoff(), 1),
                    )
                events.add_sink(self._sink)
                self._started = True
            if listen and self.redis_url and self._listener is None:
                self._listener = _Listener(self)
                self._listener.thread.start()
            listener = self._listener
        if listener is not None and not listener.listening.wait(wait_seconds):
            log.warning(
                "the stream listener is not subscribed to Redis channel %s yet; "
                "events reach this process once it is",
                self.channel,
            )

    def stop(self) -> None:
        """Unregister, stop the listener, end every subscription (code 1001, reconnect).

        :meth:`start` may follow.
        """
        global _current
        with _current_lock:
            if _current is self:
                _current = None
        with self._lock:
            self._started = False
            listener, self._listener = self._listener, None
            subscriptions, self._subscriptions = list(self._subscriptions), set()
            publisher, self._publisher = self._publisher, None
        events.remove_sink(self._sink)
        if listener is not None:
            listener.stop()
        if publisher is not None:
            publisher.close()
        for subscription in subscriptions:
            self._call(
                subscription,
                subscription._end,
                Closed(GOING_AWAY, "The server is restarting the stream; reconnect."),
            )

    def close(self) -> None:
        """Stop for good: a bus replaced by another must not come back as the sink."""
        with _current_lock:
            self._closed = True
        self.stop()

    # --- subscribers ----------------------------------------------------------------------

    def subscribe(self, topics: Collection[str] | None = None) -> Subscription:
        """A subscription on the running event loop to ``topics`` (None: all of them).

        Call :meth:`start` first (off the loop: it may wait for Redis).
        """
        loop = asyncio.get_running_loop()
        subscription = Subscription(self, loop, frozenset(topics) if topics else None)
        with self._lock:
            if self._closed or not self._started:
                raise RuntimeError("this stream bus is not running; start it first")
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    # --- delivery -------------------------------------------------------------------------

    def _sink(self, batch: list[ChangeEvent]) -> None:
        """Runs on the committing thread, after the commit."""
        at = utc_iso(datetime.now(UTC))
        if self._publisher is not None:
            body = {
                "origin": self.origin,
                "events": [{"topic": e.topic, "at": at, "payload": e.payload} for e in batch],
            }
            try:
                self._publisher.publish(self.channel, json.dumps(body, default=str))
                return
            except redis.RedisError as exc:
                # The listener cannot hear Redis either, so this is the one path left for
                # this process's own subscribers; other processes miss these events.
                log.warning(
                    "could not publish %d stream event(s) to Redis channel %s (%s); "
                    "delivered to this process only",
                    len(batch),
                    self.channel,
                    exc,
                )
        self.deliver([StreamMessage.of(e.topic, at, e.payload) for e in batch])

    def deliver(self, messages: list[StreamMessage]) -> None:
        """Hand messages to this process's subscribers, from any thread."""
        if not messages:
            return
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            wanted = [m for m in messages if subscription.wants(m.topic)]
            if wanted:
                self._call(subscription, subscription._offer, wanted)

    def _call(self, subscription: Subscription, method: Any, argument: Any) -> None:
        try:
            subscription.loop.call_soon_threadsafe(method, argument)
        except RuntimeError:
            # Its loop has closed: the subscriber is gone without unsubscribing.
            self.unsubscribe(subscription)

    # --- from Redis ---------------------------------------------------------------------

    def _receive(self, data: bytes | str) -> None:
        try:
            body = json.loads(data)
            messages = [
                StreamMessage.of(str(e["topic"]), str(e["at"]), e["payload"])
                for e in body["events"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed message on Redis channel %s: %s", self.channel, exc)
            return
        log.debug("%d stream event(s) from bus %s", len(messages), body.get("origin"))
        self.deliver(messages)


class _Listener:
    """The thread that hands what arrives on the bus's Redis channel to its subscribers,
    reconnecting after an outage until stopped."""

    def __init__(self, bus: StreamBus) -> None:
        assert bus.redis_url is not None
        self.bus = bus
        self.url = bus.redis_url
        self.listening = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="krsn-stream-listener", daemon=True)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listening.clear()

    def run(self) -> None:
        channel = self.bus.channel
        delay = 0.5
        lost = False
        while not self.stopping.is_set():
            # No retries inside the client: this loop reconnects, and says so in the log.
            client = redis.Redis.from_url(
                self.url,
                socket_connect_timeout=2,
                health_check_interval=10,
                retry=Retry(NoBackoff(), 0),
                # Names the connection in CLIENT LIST, for operators.
                client_name=f"krsn-stream-{self.bus.origin[:12]}",
            )
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(channel)
                while not self.stopping.is_set():
                    message = pubsub.get_message(timeout=_LISTEN_POLL_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self.listening.set()
                        delay = 0.5
                        if lost:
                            log.info("the stream listener is back on Redis channel %s", channel)
                            lost = False
                    elif message["type"] == "message":
                        self.bus._receive(message["data"])
            except redis.RedisError as exc:
                self.listening.clear()
                # One warning per outage; the retries of a long one go to the debug log.
                log.log(
                    logging.DEBUG if lost else logging.WARNING,
                    "the stream listener lost Redis channel %s (%s); retrying in %.1f s",
                    channel,
                    exc,
                    delay,
                )
                lost = True
                self.stopping.wait(delay)
                delay = min(delay * 2, _RECONNECT_MAX_SECONDS)
            finally:
                try:
                    pubsub.close()
                    client.close()
                except redis.RedisError:
                    pass


def start_publisher(settings: Settings) -> StreamBus | None:
    """For a process that commits alerts or incidents but serves no stream (a command, a
    worker): forward its events to the servers' subscribers. Needs Redis; None without it,
    since no other process could hear them."""
    if not settings.redis_url:
        return None
    bus = StreamBus.from_settings(settings)
    bus.start(listen=False)
    return bus
