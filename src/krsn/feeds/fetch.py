"""Download one feed: bounded in size and time, retried with back-off, conditional on change.

:func:`fetch` answers a :class:`FetchResult` whose ``body`` is a temporary file (in memory up
to a few MiB, then on disk), never a ``bytes`` of unknown size:

- **Conditional GET.** ``etag`` and ``last_modified`` from the previous run are sent as
  ``If-None-Match`` / ``If-Modified-Since``; a ``304`` is ``status="not_modified"`` and no body
  is read, so an unchanged feed costs one request. ``sha256`` lets the caller skip parsing a
  body that did not change on a server that ignores conditional requests.
- **Size cap.** ``max_bytes`` bounds the bytes received, the bytes after ``Content-Encoding``
  and the payload after unpacking a ``.gz`` or ``.zip``: a ``Content-Length`` above it fails
  before the body is read, a chunked body fails the moment the cap is passed, and a gzip bomb
  fails after at most ``max_bytes`` + 64 KiB of output. Decompression is ours (the body is read
  raw), so one compressed chunk never inflates unbounded in memory.
- **Time.** ``timeout`` bounds each network wait (connect, each read); ``deadline`` bounds the
  whole call, retries and back-off included, so a server that drips one byte at a time cannot
  hold a worker.
- **Retries.** Connection errors, timeouts, ``429`` and ``5xx`` are retried ``retries`` times
  with exponential back-off and jitter; a ``Retry-After`` is honoured up to
  ``max_retry_after`` (a longer one ends the call with ``FetchError.retry_after`` set, for the
  scheduler to postpone). Other ``4xx`` fail at once with the status and a body excerpt.
- **Egress.** Every hop is checked by :mod:`krsn.feeds.egress` before the request and again
  when the socket opens; redirects are followed here, one checked hop at a time, at most
  ``max_redirects``, and headers and credentials go only to the original origin.
- **Cancel.** ``cancel`` (a :class:`threading.Event`) ends the call when it is set: between
  attempts, during a back-off wait and between chunks of the body, so a shutting-down server
  does not wait out a long ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import re
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Literal

import httpx

from krsn import __version__
from krsn.errors import KrsnError
from krsn.feeds.egress import DestinationUnreachable, check_destination, guarded_client

__all__ = [
    "DEFAULT_MAX_BYTES",
    "USER_AGENT",
    "FetchError",
    "FetchResult",
    "fetch",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES: Final = 512 * 1024 * 1024
USER_AGENT: Final = f"KRSN-RT2I/{__version__}"
CHUNK: Final = 64 * 1024
SPOOL_IN_MEMORY: Final = 8 * 1024 * 1024
"""Bodies up to this size stay in memory; larger ones roll over to a temporary file."""

_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZIP_MAGIC: Final = b"PK\x03\x04"
_EXCERPT_CHARS: Final = 200
CANCELLED: Final = "stopped: the process is shutting down"
_jitter = random.SystemRandom()


class FetchError(KrsnError):
    """A feed could not be downloaded; ``detail`` says why and what to change."""

    status = 502
    title = "Feed download failed"

    def __init__(
        self,
        detail: str,
        *,
        url: str,
        http_status: int | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            detail, url=url, http_status=http_status, attempts=attempts, retry_after=retry_after
        )
        self.url = url
        self.http_status = http_status
        self.attempts = attempts
        self.retry_after = retry_after


@dataclass(slots=True)
class FetchResult:
    """What one fetch produced. Close it (or use ``with``) to drop the temporary body."""

    status: Literal["ok", "not_modified"]
    url: str
    """The URL finally answered, after redirects."""
    http_status: int
    body: IO[bytes] | None
    """The payload, decompressed, positioned at its start; None when not modified."""
    etag: str | None
    last_modified: str | None
    content_type: str | None
    size: int
    """Bytes in ``body`` (0 when not modified)."""
    sha256: str | None
    elapsed: float
    """Seconds the whole call took, retries and back-off included."""
    attempts: int
    headers: Mapping[str, str] = field(default_factory=dict)
    """The final response's headers (case-insensitive), for protocols that answer in them."""

    def close(self) -> None:
        """Release the temporary body."""
        if self.body is not None:
            self.body.close()

    def __enter__(self) -> FetchResult:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _mib(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    return f"{size} bytes"


def _display(url: str | httpx.URL) -> str:
    """The URL without credentials or query string, which may carry API keys."""
    parsed = httpx.URL(str(url))
    shown = parsed.copy_with(username=None, password=None, query=None, fragment=None)
    return str(shown) + ("?…" if parsed.query else "")


class _RedactQueries(logging.Filter):
    """Strip query strings from httpx's own request log lines: they may carry API keys."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, httpx.URL) for arg in record.args
        ):
            record.args = tuple(
                _display(arg) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


# httpx logs every request's full URL at INFO; a feed's query may hold its credential.
logging.getLogger("httpx").addFilter(_RedactQueries())


class _TooLarge(Exception):
    """The cap was passed; turned into a FetchError naming the URL."""


class _Retry(Exception):
    """A failure worth another attempt."""

    def __init__(
        self, reason: str, *, http_status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.retry_after = retry_after


class _Inflate:
    """Streamed zlib/gzip inflation; each piece it yields is at most ``CHUNK`` bytes."""

    def __init__(self, wbits: int, *, multi_member: bool = True) -> None:
        self._wbits = wbits
        self._multi = multi_member
        self._decoder = zlib.decompressobj(wbits)
        self._pending = b""
        self._started = False
        self._trailing = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._trailing:
            return
        pending = self._pending + data if self._pending else data
        self._pending = b""
        while True:
            if self._decoder.eof:
                if len(pending) < 2:
                    self._pending = pending
                    return
                if not self._multi or pending[:2] != _GZIP_MAGIC:
                    self._trailing = True  # bytes after the stream: gzip(1) ignores them too
                    return
                self._decoder = zlib.decompressobj(self._wbits)
            if not pending and not self._started:
                return
            self._started = True
            out = self._decoder.decompress(pending, CHUNK)
            pending = (
                self._decoder.unused_data if self._decoder.eof else self._decoder.unconsumed_tail
            )
            if out:
                yield out
            if not pending and len(out) < CHUNK:
                return

    def finish(self) -> Iterator[bytes]:
        yield from self.feed(b"")
        if self._started and not self._decoder.eof:
            raise zlib.error("the compressed stream is truncated")


def _deflate_wbits(head: bytes) -> int:
    """zlib-wrapped deflate as RFC 9110 says, or the raw deflate some servers send."""
    if len(head) >= 2 and head[0] & 0x0F == 8 and ((head[0] << 8) | head[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


class _Body:
    """Raw bytes in, capped payload out: content decoding, gzip/zip sniffing, the spool."""

    def __init__(
        self,
        *,
        encoding: str,
        max_bytes: int,
        decompress: bool,
        spool_dir: str | Path | None,
    ) -> None:
        self.max_bytes = max_bytes
        self.decompress = decompress
        self.encoding = encoding
        self.content: _Inflate | None = None
        self.payload: _Inflate | None = None
        self.sniffed = False
        self.head = b""
        self.deflate_head = b""
        self.is_zip = False
        self.raw_size = 0
        self.decoded_size = 0
        self.spool_dir = None if spool_dir is None else str(spool_dir)
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - returned open
            max_size=SPOOL_IN_MEMORY, dir=self.spool_dir
        )
        self.size = 0
        self.sha = hashlib.sha256()

    def _check(self, size: int, what: str) -> None:
        if size > self.max_bytes:
            raise _TooLarge(what)

    def feed(self, raw: bytes) -> None:
        self.raw_size += len(raw)
        self._check(self.raw_size, "response")
        if self.encoding in ("", "identity"):
            self._decoded(raw)
            return
        if self.content is None:
            if self.encoding in ("gzip", "x-gzip"):
                self.content = _Inflate(16 + zlib.MAX_WBITS)
            else:  # deflate: the first two bytes tell zlib-wrapped from raw
                self.deflate_head += raw
                if len(self.deflate_head) < 2:
                    return
                self.content = _Inflate(_deflate_wbits(self.deflate_head), multi_member=False)
                raw, self.deflate_head = self.deflate_head, b""
        for piece in self.content.feed(raw):
            self._decoded(piece)

    def _decoded(self, data: bytes) -> None:
        self.decoded_size += len(data)
        self._check(self.decoded_size, "decoded response")
        if not self.sniffed:
            self.head += data
            if len(self.head) < len(_ZIP_MAGIC):
                return
            data, self.head = self.head, b""
            self._sniff(data)
        self._route(data)

    def _route(self, data: bytes) -> None:
        if self.payload is not None:
            for piece in self.payload.feed(data):
                self._write(piece)
        else:
            self._write(data)

    def _sniff(self, head: bytes) -> None:
        self.sniffed = True
        if not self.decompress:
            return
        if head.startswith(_GZIP_MAGIC):
            self.payload = _Inflate(16 + zlib.MAX_WBITS)
        elif head.startswith(_ZIP_MAGIC):
            self.is_zip = True

    def _write(self, data: bytes) -> None:
        self.size += len(data)
        self._check(self.size, "uncompressed payload")
        self.spool.write(data)
        self.sha.update(data)

    def finish(self, archive_member: str | None) -> IO[bytes]:
        if self.content is None and self.deflate_head:
            self.content = _Inflate(_deflate_wbits(self.deflate_head), multi_member=False)
            pending, self.deflate_head = self.deflate_head, b""
            for piece in self.content.feed(pending):
                self._decoded(piece)
        if self.content is not None:
            for piece in self.content.finish():
                self._decoded(piece)
        if not self.sniffed:
            pending, self.head = self.head, b""
            self._sniff(pending)
            if pending:
                self._route(pending)
        if self.payload is not None:
            for piece in self.payload.finish():
                self._write(piece)
        self.spool.seek(0)
        if self.is_zip:
            return self._unzip(archive_member)
        return self.spool

    def _unzip(self, wanted: str | None) -> IO[bytes]:
        with zipfile.ZipFile(self.spool) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            names = [info.filename for info in members]
            if wanted is not None:
                chosen = [info for info in members if info.filename == wanted]
            else:
                chosen = members if len(members) == 1 else []
            if not chosen:
                listing = ", ".join(names[:10]) or "nothing"
                raise zipfile.BadZipFile(
                    f"the zip archive holds {listing}; name the file to read "
                    "(archive_member in the feed's rules)"
                    if wanted is None
                    else f"the zip archive has no {wanted!r}; it holds {listing}"
                )
            info = chosen[0]
            if info.file_size > self.max_bytes:
                raise _TooLarge(f"unzipped {info.filename}")
            out: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - returned open
                max_size=SPOOL_IN_MEMORY, dir=self.spool_dir
            )
            self.size = 0
            self.sha = hashlib.sha256()
            with archive.open(info) as member:
                while piece := member.read(CHUNK):
                    self.size += len(piece)
                    if self.size > self.max_bytes:
                        out.close()
                        raise _TooLarge(f"unzipped {info.filename}")
                    out.write(piece)
                    self.sha.update(piece)
        self.spool.close()
        self.spool = out
        out.seek(0)
        return out

    def close(self) -> None:
        self.spool.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _backoff_delay(attempt: int, base: float, ceiling: float) -> float:
    """Exponential back-off with equal jitter: half fixed, half random."""
    delay = min(ceiling, base * 2 ** (attempt - 1))
    return delay / 2 + _jitter.uniform(0, delay / 2)


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def _excerpt(response: httpx.Response) -> str:
    """A short, printable start of an error body (decoded if compressed, never large)."""
    raw = b""
    try:
        for chunk in response.iter_raw(1024):
            raw += chunk
            if len(raw) >= 2048:
                break
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate") and raw:
            wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else _deflate_wbits(raw)
            raw = zlib.decompressobj(wbits).decompress(raw, 4096)
    except (httpx.HTTPError, zlib.error):
        pass
    text = _UNPRINTABLE.sub(" ", raw.decode("utf-8", "replace")).strip()
    text = re.sub(r"\s+", " ", text)
    return text[:_EXCERPT_CHARS] + ("…" if len(text) > _EXCERPT_CHARS else "")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


_TIMEOUT_PHASE: Final = {
    httpx.ConnectTimeout: "connecting",
    httpx.ReadTimeout: "waiting for data",
    httpx.WriteTimeout: "sending the request",
    httpx.PoolTimeout: "waiting for a free connection",
}


def _timeout_reason(exc: httpx.TimeoutException, timeout: float) -> str:
    phase = _TIMEOUT_PHASE.get(type(exc), "waiting")
    return f"timed out after {timeout:g} s {phase}"


@dataclass(slots=True)
class _Plan:
    """What one call asks for; shared by every attempt."""

    url: str
    headers: dict[str, str]
    extra_headers: dict[str, str]
    params: dict[str, str]
    auth: httpx.Auth | tuple[str, str] | None
    timeout: float
    max_bytes: int
    decompress: bool
    archive_member: str | None
    allow_private: bool
    allowed_hosts: frozenset[str]
    max_redirects: int
    spool_dir: str | Path | None
    started: float
    deadline: float
    cancel: threading.Event | None = None


def _open(client: httpx.Client, plan: _Plan) -> httpx.Response:
    """Send the request and follow redirects, each hop checked; the final response, open."""
    origin = _origin(httpx.URL(plan.url))
    url = httpx.URL(plan.url)
    for hop in range(plan.max_redirects + 1):
        try:
            check_destination(
                url, allow_private=plan.allow_private, allowed_hosts=plan.allowed_hosts
            )
        except DestinationUnreachable as exc:
            raise _Retry(exc.detail) from exc
        same_origin = _origin(url) == origin
        headers = dict(plan.headers)
        if same_origin:
            headers.update(plan.extra_headers)
        # Query parameters may be credentials: like headers, they go to the origin only.
        request = client.build_request(
            "GET",
            url,
            headers=headers,
            params=plan.params if same_origin and plan.params else None,
            timeout=plan.timeout,
        )
        response = client.send(
            request,
            auth=plan.auth if same_origin and plan.auth is not None else None,
            follow_redirects=False,
            stream=True,
        )
        location = response.headers.get("location")
        if not response.is_redirect or not location:
            return response
        response.close()
        if hop == plan.max_redirects:
            break
        try:
            url = url.join(location)
        except httpx.InvalidURL as exc:
            raise FetchError(
                f"{_display(plan.url)} redirected to an invalid URL: {exc}",
                url=plan.url,
                http_status=response.status_code,
            ) from exc
        log.debug("redirect %s -> %s", _display(response.url), _display(url))
    raise FetchError(
        f"{_display(plan.url)} redirected more than {plan.max_redirects} times; "
        "point the feed at the final URL.",
        url=plan.url,
    )


def _attempt(client: httpx.Client, plan: _Plan) -> FetchResult:
    """One try: a result, a ``_Retry`` for a passing failure, a FetchError for a final one."""
    try:
        response = _open(client, plan)
    except httpx.TimeoutException as exc:
        raise _Retry(_timeout_reason(exc, plan.timeout)) from exc
    except httpx.TransportError as exc:
        raise _Retry(f"connection failed: {exc or type(exc).__name__}") from exc
    try:
        return _read(response, plan)
    finally:
        response.close()


def _read(response: httpx.Response, plan: _Plan) -> FetchResult:
    status = response.status_code
    shown = _display(plan.url)
    etag = response.headers.get("etag")
    last_modified = response.headers.get("last-modified")
    if status == 304:
        return FetchResult(
            status="not_modified",
            url=str(response.url),
            http_status=status,
            body=None,
            etag=etag or plan.headers.get("If-None-Match"),
            last_modified=last_modified or plan.headers.get("If-Modified-Since"),
            content_type=response.headers.get("content-type"),
            size=0,
            sha256=None,
            elapsed=0.0,
            attempts=0,
            headers=response.headers,
        )
    if status == 429 or status >= 500:
        raise _Retry(
            f"the server answered {status} {response.reason_phrase}",
            http_status=status,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    if not 200 <= status < 300:
        excerpt = _excerpt(response)
        raise FetchError(
            f"{shown} answered {status} {response.reason_phrase}"
            + (f": {excerpt}" if excerpt else "")
            + (
                "; check the feed's credentials"
                if status in (401, 403)
                else "; check the feed's URL"
                if status in (404, 410)
                else ""
            ),
            url=plan.url,
            http_status=status,
        )
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > plan.max_bytes:
        raise FetchError(
            f"{shown}: the response announces {_mib(int(length))}, over the "
            f"{_mib(plan.max_bytes)} cap; raise max_bytes in the feed's rules",
            url=plan.url,
            http_status=status,
        )
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise FetchError(
            f"{shown}: unsupported Content-Encoding {encoding!r} (we ask for gzip only)",
            url=plan.url,
            http_status=status,
        )
    body = _Body(
        encoding=encoding,
        max_bytes=plan.max_bytes,
        decompress=plan.decompress,
        spool_dir=plan.spool_dir,
    )
    try:
        for chunk in response.iter_raw():  # as received: the deadline is checked often
            body.feed(chunk)
            if plan.cancel is not None and plan.cancel.is_set():
                raise FetchError(
                    f"{shown}: {CANCELLED} ({_mib(body.raw_size)} received)",
                    url=plan.url,
                    http_status=status,
                )
            if time.monotonic() - plan.started > plan.deadline:
                raise FetchError(
                    f"{shown}: the download took longer than {plan.deadline:g} s "
                    f"({_mib(body.raw_size)} received); the server is too slow",
                    url=plan.url,
                    http_status=status,
                )
        stream = body.finish(plan.archive_member)
    except _TooLarge as exc:
        body.close()
        raise FetchError(
            f"{shown}: the {exc} exceeds the {_mib(plan.max_bytes)} cap; "
            "raise max_bytes in the feed's rules",
            url=plan.url,
            http_status=status,
        ) from None
    except (zlib.error, zipfile.BadZipFile, EOFError) as exc:
        body.close()
        raise FetchError(
            f"{shown}: the compressed payload cannot be read: {exc}",
            url=plan.url,
            http_status=status,
        ) from exc
    except BaseException:
        body.close()
        raise
    return FetchResult(
        status="ok",
        url=str(response.url),
        http_status=status,
        body=stream,
        etag=etag,
        last_modified=last_modified,
        content_type=response.headers.get("content-type"),
        size=body.size,
        sha256=body.sha.hexdigest(),
        elapsed=0.0,
        attempts=0,
        headers=response.headers,
    )


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    retries: int = 3,
    backoff: float = 2.0,
    max_backoff: float = 60.0,
    max_retry_after: float = 300.0,
    deadline: float = 1800.0,
    decompress: bool = True,
    archive_member: str | None = None,
    allow_private: bool = False,
    allowed_hosts: frozenset[str] = frozenset(),
    max_redirects: int = 5,
    spool_dir: str | Path | None = None,
    client: httpx.Client | None = None,
    label: str | None = None,
    cancel: threading.Event | None = None,
) -> FetchResult:
    """Download ``url`` within the size, time and egress limits; see the module docstring.

    ``retries`` is the number of tries after the first. ``headers`` and ``auth`` (credentials
    among them) go to ``url``'s origin only; ``params`` are added to its query string (log
    lines and errors never show a query string). ``client`` defaults to an egress-guarded one
    (:func:`krsn.feeds.egress.guarded_client`); one passed in must not follow redirects.
    ``label`` (the feed's name or id) goes into every log line; setting ``cancel`` stops the
    call with a :class:`FetchError`. Raises :class:`FetchError`, or
    :class:`krsn.feeds.egress.EgressRefused`.
    """
    started = time.monotonic()
    base = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip"}
    if etag:
        base["If-None-Match"] = etag
    if last_modified:
        base["If-Modified-Since"] = last_modified
    plan = _Plan(
        url=url,
        headers=base,
        extra_headers=dict(headers or {}),
        params=dict(params or {}),
        auth=auth,
        timeout=timeout,
        max_bytes=max_bytes,
        decompress=decompress,
        archive_member=archive_member,
        allow_private=allow_private,
        allowed_hosts=allowed_hosts,
        max_redirects=max_redirects,
        spool_dir=spool_dir,
        started=started,
        deadline=deadline,
        cancel=cancel,
    )
    shown = _display(url)
    context = {"feed": label, "url": shown}
    own_client = client is None
    http = client or guarded_client(
        allow_private=allow_private, allowed_hosts=allowed_hosts, timeout=timeout
    )
    try:
        attempt = 0
        while True:
            attempt += 1
            if cancel is not None and cancel.is_set():
                raise FetchError(f"{shown}: {CANCELLED}", url=url, attempts=attempt - 1)
            try:
                result = _attempt(http, plan)
            except _Retry as failure:
                elapsed = time.monotonic() - started
                if failure.retry_after is not None and failure.retry_after > max_retry_after:
                    raise FetchError(
                        f"{shown}: {failure.reason} and asks to retry after "
                        f"{failure.retry_after:.0f} s, longer than the {max_retry_after:g} s "
                        "we wait; the next scheduled run will try again",
                        url=url,
                        http_status=failure.http_status,
                        attempts=attempt,
                        retry_after=failure.retry_after,
                    ) from None
                delay = (
                    failure.retry_after
                    if failure.retry_after is not None
                    else _backoff_delay(attempt, backoff, max_backoff)
                )
                if attempt > retries or elapsed + delay > deadline:
                    raise FetchError(
                        f"{shown}: {failure.reason} "
                        f"({attempt} attempt{'s' if attempt > 1 else ''} in {elapsed:.1f} s)",
                        url=url,
                        http_status=failure.http_status,
                        attempts=attempt,
                        retry_after=failure.retry_after,
                    ) from None
                log.warning(
                    "feed %s: %s: %s; retry %d of %d in %.1f s",
                    label or "-",
                    shown,
                    failure.reason,
                    attempt,
                    retries,
                    delay,
                    extra=context,
                )
                if cancel is None:
                    time.sleep(delay)
                elif cancel.wait(delay):
                    raise FetchError(
                        f"{shown}: {failure.reason}; {CANCELLED} before the retry",
                        url=url,
                        http_status=failure.http_status,
                        attempts=attempt,
                    ) from None
                continue
            except FetchError as exc:
                exc.attempts = attempt
                exc.extra["attempts"] = attempt
                raise
            result.attempts = attempt
            result.elapsed = time.monotonic() - started
            log.info(
                "feed %s: %s: %s, %d bytes in %.2f s (%d attempt%s)",
                label or "-",
                shown,
                result.status,
                result.size,
                result.elapsed,
                attempt,
                "s" if attempt > 1 else "",
                extra=context,
            )
            return result
    finally:
        if own_client:
            http.close()
