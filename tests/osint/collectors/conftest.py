"""The outside world of the collectors, on 127.0.0.1: an HTTP server answering recorded
files, a DNS server answering from a zone file, and a SOCKS5 proxy that logs its tunnels."""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from collector_support import RECORDINGS

Answer = tuple[int, str, bytes]


@dataclass
class Site:
    """What the local HTTP server answers, and what it was asked."""

    base: str
    routes: dict[str, Answer | Callable[[str], Answer]] = field(default_factory=dict)
    requests: list[tuple[float, str, str, dict[str, str]]] = field(default_factory=list)

    def serve(self, path: str, body: bytes | str, *, status: int = 200, kind: str = "") -> None:
        """Answer GET ``path`` (query included when given) with ``body``."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = (status, kind or "application/json", data)

    def serve_file(self, path: str, name: str, *, kind: str = "") -> None:
        """Answer ``path`` with a recording under tests/osint/collectors/recordings."""
        self.serve(path, (RECORDINGS / name).read_bytes(), kind=kind or _kind(name))

    def paths(self) -> list[str]:
        return [path for _, _, path, _ in self.requests]


def _kind(name: str) -> str:
    for suffix, kind in (
        (".json", "application/json"),
        (".jsonl", "application/x-ndjson"),
        (".xml", "application/rss+xml"),
        (".atom", "application/atom+xml"),
        (".html", "text/html; charset=utf-8"),
        (".csv", "text/csv"),
    ):
        if name.endswith(suffix):
            return kind
    return "application/octet-stream"


@pytest.fixture
def site() -> Iterator[Site]:
    """A ThreadingHTTPServer on 127.0.0.1 answering the routes a test registers."""
    state = Site(base="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            state.requests.append(
                (time.monotonic(), self.command, self.path, dict(self.headers.items()))
            )
            route = state.routes.get(self.path) or state.routes.get(self.path.split("?", 1)[0])
            if route is None:
                status, kind, body = 404, "application/json", b'{"error": "not found"}'
            elif callable(route):
                status, kind, body = route(self.path)
            else:
                status, kind, body = route
            self.send_response(status)
            if kind.startswith("redirect:"):
                self.send_header("Location", kind.removeprefix("redirect:"))
                kind = "text/plain"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class DnsServer:
    port: int
    questions: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    """A UDP DNS server on 127.0.0.1 answering from recordings/dns/example.org.zone."""
    zone = dns.zone.from_file(
        str(RECORDINGS / "dns" / "example.org.zone"), origin="example.org", relativize=False
    )
    origin = dns.name.from_text("example.org")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    state = DnsServer(port=sock.getsockname()[1])
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.1)
            if not ready:
                continue
            wire, peer = sock.recvfrom(4096)
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA | dns.flags.RA
            question = query.question[0]
            state.questions.append(
                (question.name.to_text(), dns.rdatatype.to_text(question.rdtype))
            )
            node = zone.get_node(question.name) if question.name.is_subdomain(origin) else None
            if node is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            else:
                found = node.get_rdataset(dns.rdataclass.IN, question.rdtype)
                if found is not None:
                    rrset = response.find_rrset(
                        response.answer,
                        question.name,
                        dns.rdataclass.IN,
                        question.rdtype,
                        create=True,
                    )
                    rrset.update(found)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@dataclass
class SocksProxy:
    url: str
    tunnels: list[tuple[str, int]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    """Names the proxy resolves itself (a test's .onion host to 127.0.0.1)."""


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


@pytest.fixture
def socks_proxy() -> Iterator[SocksProxy]:
    """A tiny SOCKS5 proxy (no auth, CONNECT only) on 127.0.0.1 that logs each tunnel."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    state = SocksProxy(url=f"socks5h://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def relay(a: socket.socket, b: socket.socket) -> None:
        try:
            while not stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def handle(conn: socket.socket) -> None:
        try:
            _, count = _read(conn, 2)
            _read(conn, count)
            conn.sendall(b"\x05\x00")
            _, _command, _, kind = _read(conn, 4)
            if kind == 1:
                host = socket.inet_ntoa(_read(conn, 4))
            elif kind == 3:
                host = _read(conn, _read(conn, 1)[0]).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, _read(conn, 16))
            (port,) = struct.unpack("!H", _read(conn, 2))
            state.tunnels.append((host, port))
            upstream = socket.create_connection((state.names.get(host, host), port), timeout=5)
            conn.sendall(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
        except (OSError, ConnectionError):
            conn.close()
            return
        relay(conn, upstream)

    def accept() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([listener], [], [], 0.1)
            if ready:
                conn, _ = listener.accept()
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(2)
        listener.close()
