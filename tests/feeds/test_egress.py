"""The outbound-address guard: private destinations refused before the request and at connect."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from krsn.errors import Forbidden
from krsn.feeds.egress import (
    DestinationUnreachable,
    EgressRefused,
    check_destination,
    guarded_client,
)

REFUSED = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.8.9.10:8080/feed", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://100.64.0.1/", "non-public"),  # carrier-grade NAT
    ("http://0.0.0.0/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "reserved"),
    ("http://[::1]/", "loopback"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[::ffff:10.0.0.1]/", "embedding 10.0.0.1"),
    ("http://[::ffff:127.0.0.1]/", "embedding 127.0.0.1"),
    ("http://[64:ff9b::a00:1]/", "embedding 10.0.0.1"),  # NAT64 of 10.0.0.1
    ("http://[2002:a00:1::]/", "embedding 10.0.0.1"),  # 6to4 of 10.0.0.1
    ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
    ("http://0x7f.1/", "loopback"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_private_destinations_are_refused_by_default(url: str, reason: str) -> None:
    with pytest.raises(EgressRefused, match=reason) as caught:
        check_destination(url)
    assert caught.value.status == 403
    assert isinstance(caught.value, Forbidden)
    assert "allow private addresses for this feed" in caught.value.detail


@pytest.mark.parametrize(("url", "reason"), REFUSED[:14])
def test_private_destinations_are_allowed_when_the_feed_allows_them(url: str, reason: str) -> None:
    assert check_destination(url, allow_private=True)


def test_public_addresses_pass() -> None:
    [address] = check_destination("https://8.8.8.8/dns-query")
    assert str(address) == "8.8.8.8"
    assert check_destination("http://[2606:4700:4700::1111]/")
    assert check_destination("http://[::ffff:8.8.8.8]/")


def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    with pytest.raises(EgressRefused, match="host localhost resolves to"):
        check_destination("http://localhost:8000/")


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.org/x", "gopher://127.0.0.1:25/", "//example.org/"],
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(EgressRefused, match="only http and https"):
        check_destination(url, allow_private=True)


def test_allowed_hosts_let_named_hosts_and_networks_through() -> None:
    assert check_destination("http://localhost/", allowed_hosts=frozenset({"LOCALHOST."}))
    assert check_destination("http://10.20.1.5/", allowed_hosts=frozenset({"10.20.0.0/16"}))
    with pytest.raises(EgressRefused):
        check_destination("http://10.21.1.5/", allowed_hosts=frozenset({"10.20.0.0/16"}))


def test_an_unresolvable_name_is_unreachable_not_refused() -> None:
    def nothing(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(
        DestinationUnreachable, match=re.escape("Cannot resolve host feeds.invalid")
    ):
        check_destination("https://feeds.invalid/list.txt", resolver=nothing)


# --- At connect time -----------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port on loopback that records whether anyone connected."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    try:
        yield server
    finally:
        server.close()


def connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            peer, _ = server.accept()
        except BlockingIOError:
            return count
        peer.close()
        count += 1


def test_the_guarded_client_refuses_at_connect_time(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with guarded_client() as client, pytest.raises(EgressRefused, match="loopback"):
        client.get(f"http://127.0.0.1:{port}/")
    assert connections(listener) == 0


def test_dns_rebinding_is_defeated_at_connect_time(listener: socket.socket) -> None:
    """The name checks out as public, then resolves to loopback when the socket opens."""
    port = listener.getsockname()[1]
    answers = iter(["93.184.215.14", "127.0.0.1"])

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    url = f"http://rebind.example:{port}/feed"
    assert [str(a) for a in check_destination(url, resolver=rebinding)] == ["93.184.215.14"]
    with guarded_client(resolver=rebinding) as client, pytest.raises(EgressRefused):
        client.get(url)
    assert connections(listener) == 0


def test_the_guarded_client_connects_to_the_address_it_checked(listener: socket.socket) -> None:
    """With private addresses allowed, the socket opens to the resolved address, not the name."""
    port = listener.getsockname()[1]
    looked_up: list[str] = []

    def recorded(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    with (
        guarded_client(allow_private=True, resolver=recorded, timeout=0.5) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get(f"http://feeds.internal.test:{port}/")  # our listener never answers
    assert looked_up == ["feeds.internal.test"]
    assert connections(listener) == 1


def test_the_guarded_client_never_follows_redirects_itself() -> None:
    with guarded_client() as client:
        assert client.follow_redirects is False
        assert client.trust_env is False
