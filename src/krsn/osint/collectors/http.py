"""Outbound HTTP for collectors: egress-guarded, paced by the source's rate limit, optionally
through a SOCKS proxy, or answered from recorded responses.

:func:`collector_client` builds the ``httpx.Client`` a :class:`CollectorContext` lends a
collector:

- **Egress.** Direct connections go through :class:`krsn.feeds.egress.GuardedTransport`, which
  resolves each host once, refuses private, loopback and link-local addresses (unless the
  source allows them) and connects to the address it checked. Redirects are followed by the
  client, and every hop is a new request through the same transport, so through the same guard.
- **Rate limit.** A token bucket per source name (:func:`bucket_for`) paces every request,
  redirects included. Parallel runs of one source share its bucket, so two collections on one
  Mastodon instance never exceed the instance's budget together. A wait for a token ends at
  once when the run is cancelled.
- **SOCKS.** With ``proxy`` (``socks5h://127.0.0.1:9050`` for Tor) every request goes through
  the proxy, which resolves the target's name itself: ``.onion`` names work, and no DNS query
  for the target leaves this machine. The proxy is the operator's choice, so the guard does not
  apply to the proxy's own (usually loopback) address; a target given as a literal private
  address, or ``localhost``, is still refused unless allowed.
- **Replay.** :class:`ReplayTransport` answers from recorded responses on disk (the tests and
  the offline tour use it); replayed requests are not paced, as no source is contacted.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from krsn import __version__
from krsn.errors import Invalid, KrsnError
from krsn.feeds.egress import ALLOWED_SCHEMES, EgressRefused, GuardedTransport, check_address
from krsn.osint.collectors.base import Cancelled

__all__ = [
    "DEFAULT_MAX_BYTES",
    "USER_AGENT",
    "ClientSettings",
    "CollectorClient",
    "CollectorError",
    "PacedTransport",
    "ProxiedTransport",
    "ReplayMiss",
    "ReplayTransport",
    "TokenBucket",
    "bucket_for",
    "collector_client",
    "fetch",
    "fetch_json",
    "json_lines",
    "proxied",
    "replay_key",
]

log = logging.getLogger(__name__)

USER_AGENT: Final = f"KRSN-RT2I/{__version__} (OSINT collector)"
DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
PROXY_SCHEMES: Final = frozenset({"socks5", "socks5h"})
_EXCERPT: Final = 200
# Names a proxy would resolve to this machine or its network whatever its own policy says.
_LOCAL_NAMES: Final = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")


class CollectorError(KrsnError):
    """A source answered something a collector cannot use: an HTTP error, a body too large,
    a malformed document. ``detail`` names the URL and what to change."""

    status = 502
    title = "Collection source failed"


class ReplayMiss(CollectorError):
    """A replayed request with no recorded response."""

    title = "No recorded response"


# --- rate limiting -----------------------------------------------------------------------


class TokenBucket:
    """A thread-safe token bucket: ``rate_per_minute`` tokens a minute, at most ``burst`` saved.

    Each :meth:`acquire` reserves a token under the lock and sleeps outside it, so waiting
    threads are served in arrival order and never hold the lock while asleep.
    """

    def __init__(
        self,
        rate_per_minute: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._tokens = 0.0
        self._stamp = clock()
        self.configure(rate_per_minute, burst=burst)
        self._tokens = float(self.burst)

    def configure(self, rate_per_minute: float, *, burst: int | None = None) -> None:
        """Change the rate (a source's limit was edited); saved tokens are kept up to the burst."""
        if rate_per_minute <= 0:
            raise Invalid("rate_limit", "must be a positive number of requests per minute")
        with self._lock:
            self.rate_per_minute = float(rate_per_minute)
            # One second's worth of requests may go at once; a 60/min source is then paced to
            # one request a second rather than bursting its whole minute.
            self.burst = burst if burst is not None else max(1, int(rate_per_minute // 60))
            self._tokens = min(self._tokens, float(self.burst))

    def _reserve(self) -> float:
        with self._lock:
            now = self._clock()
            per_second = self.rate_per_minute / 60.0
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * per_second)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / per_second

    def acquire(self, cancel: threading.Event | None = None) -> float:
        """Take one token, waiting for it; the seconds waited. Raises Cancelled on cancel."""
        wait = self._reserve()
        if wait > 0:
            if cancel is not None:
                if cancel.wait(wait):
                    raise Cancelled("cancelled while waiting for the rate limit")
            else:
                time.sleep(wait)
        elif cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        return wait


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for(source: str, rate_per_minute: float) -> TokenBucket:
    """The one bucket of a source name, created on first use and kept at its current rate."""
    with _buckets_lock:
        bucket = _buckets.get(source)
        if bucket is None:
            bucket = _buckets[source] = TokenBucket(rate_per_minute)
        elif bucket.rate_per_minute != float(rate_per_minute):
            bucket.configure(rate_per_minute)
        return bucket


class PacedTransport(httpx.BaseTransport):
    """Takes a token from ``bucket`` before every request handed to ``inner``."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        bucket: TokenBucket,
        *,
        cancel: threading.Event | None = None,
    ) -> None:
        self.inner = inner
        self.bucket = bucket
        self.cancel = cancel

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.bucket.acquire(self.cancel)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# --- SOCKS -------------------------------------------------------------------------------


def _check_proxy(proxy: str) -> str:
    parts = urlsplit(proxy)
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        raise Invalid(
            "proxy",
            f"{proxy!r} is not a SOCKS proxy URL; use socks5h://HOST:PORT "
            "(socks5h://127.0.0.1:9050 for a local Tor)",
        )
    return proxy


def _check_proxied_target(url: httpx.URL, *, allow_private: bool, allowed: frozenset[str]) -> None:
    """Refuse what we can judge without resolving: the proxy resolves names itself."""
    if url.scheme not in ALLOWED_SCHEMES:
        raise EgressRefused(f"Refused to fetch {url}: only http and https URLs are fetched.")
    if allow_private:
        return
    host = url.host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host in allowed or not (host == "localhost" or host.endswith(_LOCAL_NAMES[1:])):
            return
        raise EgressRefused(
            f"Refused to fetch {url}: {host} names this machine or its local network; "
            "allow private addresses for this source if that is meant."
        ) from None
    check_address(address, host=host, allowed_hosts=allowed)


class ProxiedTransport(httpx.HTTPTransport):
    """An ``httpx`` transport that sends every request through a SOCKS5 proxy."""

    def __init__(
        self,
        proxy: str,
        *,
        allow_private: bool = False,
        allowed_hosts: Iterable[str] = (),
        verify: bool = True,
    ) -> None:
        # httpcore's SOCKS pool hands the target's name to the proxy (socks5h semantics)
        # whether the URL says socks5 or socks5h, so a DNS lookup never leaks around Tor.
        super().__init__(verify=verify, trust_env=False, proxy=httpx.Proxy(_check_proxy(proxy)))
        self.proxy = proxy
        self.allow_private = allow_private
        self.allowed_hosts = frozenset(h.strip().lower() for h in allowed_hosts)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _check_proxied_target(
            request.url, allow_private=self.allow_private, allowed=self.allowed_hosts
        )
        return super().handle_request(request)


# --- replay ------------------------------------------------------------------------------


def replay_key(method: str, url: str | httpx.URL) -> str:
    """The key a recorded response is found by: method and URL, query sorted, no fragment."""
    parts = urlsplit(str(url))
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    path = parts.path or "/"
    netloc = parts.netloc.lower()
    return f"{method.upper()} {urlunsplit((parts.scheme.lower(), netloc, path, query, ''))}"


@dataclass(frozen=True, slots=True)
class _Recorded:
    status: int
    headers: dict[str, str]
    body: bytes
    origin: str


def _recorded_body(entry: Mapping[str, Any], origin: Path) -> tuple[bytes, str | None]:
    response = entry.get("response", {})
    if "json" in response:
        return json.dumps(response["json"]).encode(), "application/json"
    if "text" in response:
        return str(response["text"]).encode(), None
    if "base64" in response:
        return base64.b64decode(response["base64"]), None
    if "body_file" in response:
        return (origin.parent / response["body_file"]).read_bytes(), None
    return b"", None


class ReplayTransport(httpx.BaseTransport):
    """Answers requests from the recorded responses under ``directory``.

    Every ``*.json`` file there (subfolders included) holds one recording or a list under
    ``"entries"``; a recording is ``{"request": {"method", "url"}, "response": {"status",
    "headers", and one of "json", "text", "base64", "body_file"}}``. ``body_file`` is relative
    to the recording. A request with no recording raises :class:`ReplayMiss` naming it.
    """

    paced = False

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise Invalid("replay", f"{self.directory} is not a directory of recorded responses")
        self.recorded: dict[str, _Recorded] = {}
        self.requests: list[str] = []
        for path in sorted(self.directory.rglob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise Invalid("replay", f"{path.name} is not a readable recording: {exc}") from exc
            if not isinstance(document, dict):
                continue
            entries = document.get("entries", [document] if "request" in document else [])
            for entry in entries:
                request = entry.get("request", {})
                if "url" not in request:
                    continue
                body, content_type = _recorded_body(entry, path)
                response = entry.get("response", {})
                headers = {str(k): str(v) for k, v in response.get("headers", {}).items()}
                if content_type and not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = content_type
                key = replay_key(request.get("method", "GET"), request["url"])
                self.recorded[key] = _Recorded(
                    int(response.get("status", 200)), headers, body, path.name
                )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = replay_key(request.method, request.url)
        self.requests.append(key)
        recorded = self.recorded.get(key)
        if recorded is None:
            raise ReplayMiss(
                f"No recorded response for {key} in {self.directory.name}: record it "
                f"(a JSON file with this request's method and URL) or change the config. "
                f"{len(self.recorded)} recordings are loaded.",
                url=str(request.url),
            )
        return httpx.Response(
            recorded.status, headers=recorded.headers, content=recorded.body, request=request
        )


# --- the client --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How a collector client was built, so a collector can derive a proxied twin of it."""

    rate_per_minute: int = 60
    proxy: str | None = None
    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()
    timeout: float = 30.0
    source: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


class CollectorClient(httpx.Client):
    """An ``httpx.Client`` that remembers its :class:`ClientSettings`."""

    settings: ClientSettings
    cancel: threading.Event | None
    replay: ReplayTransport | None

    def with_proxy(self, proxy: str) -> CollectorClient:
        """The same client through ``proxy``: same rate budget, same egress allowances.

        A replaying client stays a replaying one (nothing leaves the machine either way).
        """
        return collector_client(
            rate_per_minute=self.settings.rate_per_minute,
            proxy=proxy,
            allow_private=self.settings.allow_private,
            allowed_hosts=self.settings.allowed_hosts,
            timeout=self.settings.timeout,
            transport=self.replay,
            source=self.settings.source,
            cancel=self.cancel,
            headers=dict(self.settings.headers),
        )


def collector_client(
    *,
    rate_per_minute: int,
    proxy: str | None,
    allow_private: bool,
    allowed_hosts: Iterable[str],
    timeout: float,
    transport: httpx.BaseTransport | None = None,
    source: str | None = None,
    cancel: threading.Event | None = None,
    headers: Mapping[str, str] | None = None,
) -> CollectorClient:
    """The client a collector run uses: guarded, paced per ``source``, proxied when asked.

    ``transport`` replaces the network (a :class:`ReplayTransport`, or a test's transport);
    ``source`` names the rate-limit bucket shared by every run of that source (a private
    bucket when None); ``cancel`` ends a wait for the rate limit.
    """
    allowed = tuple(allowed_hosts)
    if proxy is not None:
        _check_proxy(proxy)
    if transport is None and proxy is not None:
        inner: httpx.BaseTransport = ProxiedTransport(
            proxy, allow_private=allow_private, allowed_hosts=allowed
        )
    elif transport is None:
        inner = GuardedTransport(allow_private=allow_private, allowed_hosts=allowed)
    else:
        inner = transport
    if getattr(inner, "paced", True):
        bucket = (
            bucket_for(source, rate_per_minute)
            if source is not None
            else TokenBucket(rate_per_minute)
        )
        inner = PacedTransport(inner, bucket, cancel=cancel)
    merged = {"User-Agent": USER_AGENT, **(headers or {})}
    client = CollectorClient(
        transport=inner,
        timeout=timeout,
        headers=merged,
        follow_redirects=True,
        max_redirects=5,
        trust_env=False,
    )
    client.settings = ClientSettings(
        rate_per_minute=rate_per_minute,
        proxy=proxy,
        allow_private=allow_private,
        allowed_hosts=allowed,
        timeout=timeout,
        source=source,
        headers=tuple((headers or {}).items()),
    )
    client.cancel = cancel
    client.replay = transport if isinstance(transport, ReplayTransport) else None
    return client


# --- requests ----------------------------------------------------------------------------


def _excerpt(body: bytes) -> str:
    text = body[:_EXCERPT].decode("utf-8", "replace").strip()
    return text + ("…" if len(body) > _EXCERPT else "")


def _shown(url: str | httpx.URL) -> str:
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None)) + (
        "?…" if parsed.query else ""
    )


def fetch(
    client: httpx.Client,
    url: str,
    *,
    method: str = "GET",
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ok_statuses: Iterable[int] = (),
) -> httpx.Response:
    """One request, its body read up to ``max_bytes``; CollectorError on failure or HTTP >= 400.

    ``ok_statuses`` lists error statuses the caller handles itself (RDAP's 404 "no such
    domain"). The query string is left out of messages: it may carry an API key.
    """
    allowed = frozenset(ok_statuses)
    try:
        with client.stream(method, url, params=params, headers=headers, json=json_body) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise CollectorError(
                    f"{_shown(url)} answered {declared} bytes, more than the {max_bytes} "
                    "a collector reads; narrow the request.",
                    url=_shown(url),
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise CollectorError(
                        f"{_shown(url)} sent more than {max_bytes} bytes; narrow the request.",
                        url=_shown(url),
                    )
                chunks.append(chunk)
            body = b"".join(chunks)
    except httpx.HTTPError as exc:
        raise CollectorError(
            f"Request to {_shown(url)} failed: {exc.__class__.__name__}: {exc}", url=_shown(url)
        ) from exc
    result = httpx.Response(
        response.status_code,
        headers=response.headers,
        content=body,
        request=response.request,
    )
    if response.status_code >= 400 and response.status_code not in allowed:
        raise CollectorError(
            f"{_shown(url)} answered HTTP {response.status_code}: {_excerpt(body)}",
            url=_shown(url),
            http_status=response.status_code,
        )
    return result


def fetch_json(client: httpx.Client, url: str, **kwargs: Any) -> Any:
    """:func:`fetch`, then the body as JSON; CollectorError naming the URL when it is not."""
    response = fetch(client, url, **kwargs)
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise CollectorError(
            f"{_shown(url)} did not answer JSON ({exc}); it began: {_excerpt(response.content)}",
            url=_shown(url),
        ) from exc


def json_lines(data: bytes, *, origin: str) -> Iterator[Any]:
    """Each JSON document of a JSON-lines body; CollectorError naming the line when broken."""
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError as exc:
            raise CollectorError(f"{origin} line {number} is not JSON: {exc}") from exc


def proxied(client: httpx.Client, proxy: str) -> CollectorClient:
    """``client`` through ``proxy``; Invalid when the client is not a collector client."""
    if not isinstance(client, CollectorClient):
        raise Invalid(
            "proxy",
            "this run's HTTP client cannot be routed through a proxy; "
            "build it with krsn.osint.collectors.http.collector_client",
        )
    return client.with_proxy(proxy)
