"""The live stream: ``/api/v1/stream`` over WebSocket.

The caller is authenticated before the handshake completes, with the same checks as every
REST route (a session cookie, or an API key as ``Authorization: Bearer``) and needs read
access. A refused caller is accepted only to be closed at once with ``4000 + the HTTP status``
the REST API would answer (4401 not signed in, 4403 not allowed, 4429 rate limited, 4400 a
bad ``topics``), since a browser never sees the status of a refused handshake.
See docs/stream.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.dependencies import ACTION_NEEDS, SESSION_COOKIE, Principal, authenticate
from krsn.detection.stream.bus import TOPICS, Closed, StreamBus, Subscription, topic_filter, utc_iso
from krsn.errors import KrsnError
from krsn.identity.api_keys import get_api_key
from krsn.identity.models import User
from krsn.security.permissions import Action
from krsn.security.sessions import SessionStore

log = logging.getLogger(__name__)

router = APIRouter(tags=["stream"])

BAD_REQUEST = 4400
NOT_SIGNED_IN = 4401
NOT_ALLOWED = 4403
RESTARTING = 1012
# A close reason is at most 123 bytes of UTF-8.
_REASON_BYTES = 123


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Push every committed alert and incident change to the caller as JSON text frames
    ``{"topic", "at", "payload"}``; ``?topics=alert,incident`` narrows them."""
    try:
        topics = topic_filter((websocket.query_params.get("topics") or "").split(","))
    except ValueError as exc:
        await _refuse(websocket, BAD_REQUEST, f"Bad topics: {exc}.")
        return

    refusal = _cross_site(websocket)
    if refusal is not None:
        await _refuse(websocket, NOT_ALLOWED, refusal)
        return
    try:
        principal = await run_in_threadpool(authenticate, _as_request(websocket))
    except KrsnError as exc:
        await _refuse(websocket, 4000 + exc.status, exc.detail)
        return
    if not principal.can(Action.READ):
        how = "this API key's scopes" if principal.via == "api_key" else "your role"
        needs = ACTION_NEEDS[Action.READ]
        await _refuse(websocket, NOT_ALLOWED, f"Not allowed with {how}: this needs {needs}.")
        return

    bus: StreamBus = websocket.app.state.stream_bus
    try:
        if not bus.started:
            # Started with the app; the first subscriber starts it where there is no lifespan.
            await run_in_threadpool(bus.start)
        subscription = bus.subscribe(topics)
    except RuntimeError:
        # The app was reconfigured between reading the bus and subscribing.
        await _refuse(websocket, RESTARTING, "The stream is restarting; reconnect.")
        return

    try:
        # Subscribed before the handshake ends: once connected, the client misses nothing.
        await websocket.accept()
        await _send(websocket, "stream.ready", {"topics": sorted(topics or TOPICS)})
        await _pump(websocket, bus, subscription, principal)
    except (WebSocketDisconnect, OSError):
        pass
    finally:
        bus.unsubscribe(subscription)


async def _pump(
    websocket: WebSocket, bus: StreamBus, subscription: Subscription, principal: Principal
) -> None:
    """Forward events, answer pings, and check the caller is still signed in at each
    heartbeat, until one side closes."""
    loop = asyncio.get_running_loop()
    received = asyncio.ensure_future(websocket.receive())
    queued = asyncio.ensure_future(subscription.get())
    next_beat = loop.time() + bus.heartbeat_seconds
    try:
        while True:
            done, _ = await asyncio.wait(
                {received, queued},
                timeout=max(0.0, next_beat - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if received in done:
                message = received.result()
                if message["type"] == "websocket.disconnect":
                    return
                if (message.get("text") or "").strip().lower() == "ping":
                    await websocket.send_text("pong")
                received = asyncio.ensure_future(websocket.receive())
            if queued in done:
                item = queued.result()
                if isinstance(item, Closed):
                    await _close(websocket, item.code, item.reason)
                    return
                await websocket.send_text(item.text)
                queued = asyncio.ensure_future(subscription.get())
            if loop.time() >= next_beat:
                reason = await run_in_threadpool(_signed_out, websocket.app.state, principal)
                if reason is not None:
                    await _close(websocket, NOT_SIGNED_IN, reason)
                    return
                await _send(websocket, "stream.heartbeat", {})
                next_beat = loop.time() + bus.heartbeat_seconds
    finally:
        received.cancel()
        queued.cancel()


def _signed_out(state: Any, principal: Principal) -> str | None:
    """Why the caller may no longer read the stream (logged out, key revoked or expired,
    account disabled), or None while it still may."""
    database: Database = state.database
    if principal.session_token is not None:
        store: SessionStore = state.session_store
        if store.get(principal.session_token) is None:
            return "Your session has ended; sign in again."
    with database.transaction(readonly=True) as session:
        user = session.get(User, principal.user_id)
        if user is None or not user.is_active:
            return "This account is disabled; ask an admin to enable it."
        if principal.api_key_id is not None:
            try:
                key = get_api_key(session, principal.api_key_id, owner_id=None)
            except KrsnError:
                return "The API key no longer exists; create a new one."
            if not key.is_active:
                return "The API key has been revoked; create a new one."
            if key.expires_at is not None and key.expires_at <= utcnow():
                return "The API key has expired; create a new one."
    return None


def _cross_site(websocket: WebSocket) -> str | None:
    """Why a cookie-borne handshake must be refused as cross-site, or None.

    Browsers attach cookies to WebSocket handshakes from any page and the same-origin policy
    does not apply to them; only the Origin header tells a hostile page apart.
    """
    headers = websocket.headers
    if headers.get("authorization") or not websocket.cookies.get(SESSION_COOKIE):
        return None
    origin, host = headers.get("origin"), headers.get("host")
    if not origin or not host:
        return "A session cookie needs an Origin header naming this server; scripts use an API key."
    if urlsplit(origin).netloc.lower() != host.lower():
        return "Cross-origin stream refused: connect from this server's own pages."
    return None


def _as_request(websocket: WebSocket) -> Request:
    """The handshake as the GET request that :func:`authenticate` checks."""
    return Request({**websocket.scope, "type": "http", "method": "GET"})


async def _send(websocket: WebSocket, topic: str, payload: dict[str, Any]) -> None:
    body = {"topic": topic, "at": utc_iso(datetime.now(UTC)), "payload": payload}
    await websocket.send_text(json.dumps(body, separators=(",", ":")))


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    client = websocket.client.host if websocket.client else None
    log.info("refused a stream connection from %s with %d: %s", client, code, reason)
    await websocket.accept()
    await _close(websocket, code, reason)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    encoded = reason.encode("utf-8")[:_REASON_BYTES]
    await websocket.close(code, encoded.decode("utf-8", errors="ignore"))
