"""Feed downloads against a real HTTP server on 127.0.0.1: conditional GET, caps, retries."""

from __future__ import annotations

import gzip
import io
import re
import threading
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from krsn import __version__
from krsn.feeds.egress import EgressRefused
from krsn.feeds.fetch import FetchError, FetchResult, fetch

MIB = 1024 * 1024

Route = Callable[["Handler"], None]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class Site:
    """The test server: routes by path, and every request it received."""

    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for s in self.seen if s.path.split("?")[0] == path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site: Site

    def do_GET(self) -> None:
        site = self.server.site  # type: ignore[attr-defined]
        site.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = site.routes.get(self.path.split("?")[0])
        try:
            if route is None:
                reply(self, 404, b"no such route")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up on purpose (size cap, timeout)

    def log_message(self, format: str, *args: object) -> None:
        pass


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if status != 304:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if status != 304:
        handler.wfile.write(body)


def stream_chunked(handler: BaseHTTPRequestHandler, total: int, piece: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    sent = 0
    while sent < total:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        sent += len(piece)
    handler.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def site() -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Site(port=server.server_address[1])
    server.site = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()


def payload(result: FetchResult, size: int = -1) -> bytes:
    assert result.body is not None
    return result.body.read(size)


def local(url: str, **options: Any) -> FetchResult:
    """Fetch from the test server, which lives on loopback and so needs allow_private."""
    options.setdefault("allow_private", True)
    options.setdefault("backoff", 0.01)
    return fetch(url, **options)


# --- Conditional GET ---------------------------------------------------------------------


def test_an_unchanged_feed_costs_one_request_with_its_etag(site: Site) -> None:
    def feed(handler: Handler) -> None:
        if handler.headers.get("If-None-Match") == '"v1"':
            reply(handler, 304, headers={"ETag": '"v1"'})
        else:
            reply(handler, 200, b"192.0.2.1\n", {"ETag": '"v1"', "Content-Type": "text/plain"})

    site.routes["/feed"] = feed
    with fetch(site.url("/feed"), allow_private=True) as first:
        assert first.status == "ok"
        assert first.etag == '"v1"'
        assert first.body is not None and first.body.read() == b"192.0.2.1\n"
        assert first.content_type == "text/plain"
        assert first.size == 10 and first.attempts == 1 and first.sha256

    before = len(site.seen)
    second = fetch(site.url("/feed"), etag=first.etag, allow_private=True)
    assert second.status == "not_modified"
    assert second.body is None and second.size == 0
    assert second.etag == '"v1"'
    assert len(site.seen) == before + 1
    assert site.seen[-1].headers["if-none-match"] == '"v1"'
    assert site.seen[-1].headers["user-agent"] == f"KRSN-RT2I/{__version__}"


def test_last_modified_is_sent_back_as_if_modified_since(site: Site) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"

    def feed(handler: Handler) -> None:
        if handler.headers.get("If-Modified-Since") == stamp:
            reply(handler, 304)
        else:
            reply(handler, 200, b"x\n", {"Last-Modified": stamp})

    site.routes["/feed"] = feed
    first = fetch(site.url("/feed"), allow_private=True)
    assert first.last_modified == stamp
    first.close()
    second = fetch(site.url("/feed"), last_modified=stamp, allow_private=True)
    assert second.status == "not_modified"
    assert second.last_modified == stamp  # kept for the next run though the 304 omits it
    assert site.hits("/feed") == 2


# --- Size cap ------------------------------------------------------------------------------


def test_a_declared_length_over_the_cap_fails_before_the_body_is_read(site: Site) -> None:
    def huge(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(2 * 1024 * MIB))  # a 2 GiB promise
        handler.end_headers()
        handler.wfile.write(b"0" * 1024)

    site.routes["/huge"] = huge
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        local(site.url("/huge"), max_bytes=MIB)
    assert "over the 1 MiB cap; raise max_bytes in the feed's rules" in caught.value.detail
    assert time.monotonic() - started < 5
    assert site.hits("/huge") == 1  # not retried


def test_a_streamed_body_stops_at_the_cap_in_bounded_memory(site: Site) -> None:
    site.routes["/stream"] = lambda h: stream_chunked(h, 10 * MIB, b"1" * 65536)
    tracemalloc.start()
    try:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            local(site.url("/stream"), max_bytes=MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "exceeds the 1 MiB cap; raise max_bytes in the feed's rules" in caught.value.detail
    assert time.monotonic() - started < 5
    assert peak < 4 * MIB


def test_a_body_under_the_cap_is_kept_whole(site: Site) -> None:
    site.routes["/stream"] = lambda h: stream_chunked(h, 3 * MIB, b"2" * 65536)
    with local(site.url("/stream"), max_bytes=4 * MIB) as result:
        assert result.size == 3 * MIB
        assert payload(result, 10) == b"2" * 10


# --- Compression ---------------------------------------------------------------------------


def _bomb(size: int) -> bytes:
    """A gzip of ``size`` zero bytes: kilobytes on the wire."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    return b"".join(packer.compress(block) for _ in range(size // MIB)) + packer.flush()


def test_content_encoding_gzip_is_decoded(site: Site) -> None:
    text = b"198.51.100.7\n" * 1000
    site.routes["/gz"] = lambda h: reply(h, 200, gzip.compress(text), {"Content-Encoding": "gzip"})
    with local(site.url("/gz")) as result:
        assert payload(result) == text
        assert result.size == len(text)
    assert site.seen[-1].headers["accept-encoding"] == "gzip"


def test_multi_member_gzip_deflate_and_raw_deflate_decode(site: Site) -> None:
    one, two = b"a.example\n" * 5000, b"b.example\n" * 7000
    members = gzip.compress(one) + gzip.compress(two) + b"\x00" * 8  # padding after the end
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    site.routes["/members"] = lambda h: reply(h, 200, members, {"Content-Encoding": "gzip"})
    deflate = {"Content-Encoding": "deflate"}
    site.routes["/zlib"] = lambda h: reply(h, 200, zlib.compress(one), deflate)
    site.routes["/raw"] = lambda h: reply(h, 200, raw.compress(two) + raw.flush(), deflate)
    with local(site.url("/members")) as result:
        assert payload(result) == one + two
    with local(site.url("/zlib")) as result:
        assert payload(result) == one
    with local(site.url("/raw")) as result:
        assert payload(result) == two


def test_a_gzip_bomb_in_content_encoding_stops_at_the_cap(site: Site) -> None:
    bomb = _bomb(64 * MIB)
    assert len(bomb) < 100_000
    site.routes["/bomb"] = lambda h: reply(h, 200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as caught:
        local(site.url("/bomb"), max_bytes=MIB)
    assert "decoded response exceeds the 1 MiB cap" in caught.value.detail


def test_a_gz_payload_is_unpacked_and_a_gz_bomb_refused(site: Site) -> None:
    text = b"evil.example\n" * 100
    site.routes["/list.gz"] = lambda h: reply(
        h, 200, gzip.compress(text), {"Content-Type": "application/gzip"}
    )
    site.routes["/bomb.gz"] = lambda h: reply(
        h, 200, _bomb(64 * MIB), {"Content-Type": "application/gzip"}
    )
    with local(site.url("/list.gz")) as result:
        assert payload(result) == text
    with pytest.raises(FetchError) as caught:
        local(site.url("/bomb.gz"), max_bytes=MIB)
    assert "uncompressed payload exceeds the 1 MiB cap" in caught.value.detail


def test_a_zip_payload_is_unpacked_and_a_zip_bomb_refused(site: Site) -> None:
    def archive(members: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
            for name, data in members.items():
                out.writestr(name, data)
        return buffer.getvalue()

    site.routes["/one.zip"] = lambda h: reply(h, 200, archive({"full.csv": b"a,b\n"}))
    site.routes["/two.zip"] = lambda h: reply(h, 200, archive({"a.csv": b"1", "b.csv": b"2"}))
    site.routes["/bomb.zip"] = lambda h: reply(h, 200, archive({"x.csv": bytes(32 * MIB)}))
    with local(site.url("/one.zip")) as result:
        assert payload(result) == b"a,b\n"
    with local(site.url("/two.zip"), archive_member="b.csv") as result:
        assert payload(result) == b"2"
    with pytest.raises(FetchError, match=re.escape("a.csv, b.csv; name the file")):
        local(site.url("/two.zip"))
    with pytest.raises(FetchError, match=re.escape("unzipped x.csv exceeds the 1 MiB cap")):
        local(site.url("/bomb.zip"), max_bytes=MIB)


# --- Retries -------------------------------------------------------------------------------


def test_server_errors_are_retried_until_one_succeeds(site: Site) -> None:
    answers = iter([503, 503, 200])
    site.routes["/flaky"] = lambda h: reply(h, next(answers), b"ok\n")
    with local(site.url("/flaky"), retries=3) as result:
        assert result.status == "ok"
        assert result.attempts == 3
    assert site.hits("/flaky") == 3


def test_retries_give_up_with_the_last_status(site: Site) -> None:
    site.routes["/down"] = lambda h: reply(h, 502, b"bad gateway")
    with pytest.raises(FetchError) as caught:
        local(site.url("/down"), retries=2)
    assert caught.value.attempts == 3
    assert caught.value.http_status == 502
    assert "502 Bad Gateway (3 attempts" in caught.value.detail


def test_a_404_is_not_retried_and_says_what_the_server_said(site: Site) -> None:
    site.routes["/gone"] = lambda h: reply(h, 404, b"<h1>No such list</h1>\n")
    with pytest.raises(FetchError) as caught:
        local(site.url("/gone") + "?api_key=s3cret", retries=3)
    assert site.hits("/gone") == 1
    assert caught.value.http_status == 404
    assert "No such list" in caught.value.detail
    assert "check the feed's URL" in caught.value.detail
    assert "s3cret" not in caught.value.detail  # query strings may carry keys


def test_429_retry_after_is_honoured(site: Site) -> None:
    answers = iter([(429, {"Retry-After": "1"}), (200, {})])

    def limited(handler: Handler) -> None:
        status, headers = next(answers)
        reply(handler, status, b"slow down" if status == 429 else b"ok", headers)

    site.routes["/limited"] = limited
    started = time.monotonic()
    with local(site.url("/limited")) as result:
        assert result.attempts == 2
    assert time.monotonic() - started >= 0.95


def test_a_retry_after_beyond_the_bound_is_reported_not_waited(site: Site) -> None:
    site.routes["/later"] = lambda h: reply(h, 429, b"", {"Retry-After": "3600"})
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        local(site.url("/later"), max_retry_after=10)
    assert caught.value.retry_after == 3600
    assert "next scheduled run" in caught.value.detail
    assert time.monotonic() - started < 2


def test_a_silent_server_times_out_after_the_retries(site: Site) -> None:
    def silent(handler: Handler) -> None:
        site.stopping.wait(5)

    site.routes["/silent"] = silent
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        local(site.url("/silent"), timeout=0.3, retries=1)
    assert "timed out after 0.3 s waiting for data (2 attempts" in caught.value.detail
    assert caught.value.attempts == 2
    assert time.monotonic() - started < 3


def test_a_dripping_server_is_cut_off_at_the_deadline(site: Site) -> None:
    def drip(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(1000):
            if site.stopping.wait(0.05):
                return
            handler.wfile.write(b"x")
            handler.wfile.flush()

    site.routes["/drip"] = drip
    started = time.monotonic()
    with pytest.raises(FetchError, match=re.escape("took longer than 0.5 s")):
        local(site.url("/drip"), timeout=2, deadline=0.5)
    assert time.monotonic() - started < 2


# --- Egress and redirects ------------------------------------------------------------------


def test_the_local_server_is_refused_without_allow_private(site: Site) -> None:
    site.routes["/feed"] = lambda h: reply(h, 200, b"x")
    with pytest.raises(EgressRefused, match=re.escape("127.0.0.1 is a loopback address")):
        fetch(site.url("/feed"))
    assert site.hits("/feed") == 0


def test_a_name_resolving_to_loopback_is_refused(site: Site) -> None:
    site.routes["/feed"] = lambda h: reply(h, 200, b"x")
    with pytest.raises(EgressRefused, match="host localhost resolves to"):
        fetch(f"http://localhost:{site.port}/feed")
    assert site.hits("/feed") == 0


def test_a_redirect_to_a_private_address_is_refused(site: Site) -> None:
    site.routes["/feed"] = lambda h: reply(
        h, 302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    # The feed's own host is allowed by name; the hop to the metadata address is not.
    with pytest.raises(EgressRefused, match=re.escape("169.254.169.254 is a link-local address")):
        fetch(site.url("/feed"), allowed_hosts=frozenset({"127.0.0.1"}))
    assert site.hits("/feed") == 1


def test_redirects_are_followed_when_allowed_without_leaking_credentials(site: Site) -> None:
    site.routes["/old"] = lambda h: reply(
        h, 301, headers={"Location": f"http://localhost:{site.port}/new"}
    )
    site.routes["/new"] = lambda h: reply(h, 200, b"moved\n")
    with local(site.url("/old"), headers={"Auth-Key": "k3y"}, auth=("user", "pw")) as result:
        assert payload(result) == b"moved\n"
        assert result.url.endswith("/new")
    first, second = site.seen[-2:]
    assert first.headers["auth-key"] == "k3y" and "authorization" in first.headers
    assert "auth-key" not in second.headers and "authorization" not in second.headers


def test_a_redirect_loop_ends_after_five_hops(site: Site) -> None:
    site.routes["/loop"] = lambda h: reply(h, 302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match="redirected more than 5 times"):
        local(site.url("/loop"))
    assert site.hits("/loop") == 6
