"""The collectors' HTTP client: pacing, the egress guard, SOCKS, replay, clear errors."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from collector_support import local_client

from krsn.errors import Invalid
from krsn.feeds.egress import EgressRefused
from krsn.osint.collectors.base import Cancelled
from krsn.osint.collectors.http import (
    USER_AGENT,
    CollectorError,
    ReplayMiss,
    ReplayTransport,
    collector_client,
    fetch,
    fetch_json,
)


def test_requests_are_paced_to_the_rate_limit(site) -> None:
    site.serve("/ping", "{}")
    # 240 a minute: four may go at once (one second's worth), then one every 0.25 s.
    client = local_client(rate_per_minute=240)
    started = time.monotonic()
    for _ in range(8):
        fetch(client, f"{site.base}/ping")
    elapsed = time.monotonic() - started
    assert elapsed >= 0.9
    stamps = [stamp for stamp, *_ in site.requests]
    assert stamps[-1] - stamps[3] >= 0.9
    fast = local_client(rate_per_minute=600_000)
    started = time.monotonic()
    for _ in range(8):
        fetch(fast, f"{site.base}/ping")
    assert time.monotonic() - started < 0.5


def test_runs_of_one_source_share_its_budget(site) -> None:
    site.serve("/ping", "{}")
    name = f"shared-{time.monotonic_ns()}"
    clients = [local_client(rate_per_minute=240, source=name) for _ in range(2)]
    started = time.monotonic()
    threads = [
        threading.Thread(target=lambda c=c: [fetch(c, f"{site.base}/ping") for _ in range(4)])
        for c in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Eight requests on one 240/min budget: four at once, four more 0.25 s apart.
    assert time.monotonic() - started >= 0.9
    assert len(site.requests) == 8


def test_a_cancel_ends_the_wait_for_the_rate_limit(site) -> None:
    site.serve("/ping", "{}")
    cancel = threading.Event()
    client = local_client(rate_per_minute=1, cancel=cancel)
    fetch(client, f"{site.base}/ping")
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        fetch(client, f"{site.base}/ping")
    assert time.monotonic() - started < 2
    assert len(site.requests) == 1


def test_the_egress_guard_refuses_a_private_address_unless_allowed(site) -> None:
    site.serve("/ping", "{}")
    guarded = local_client(allow_private=False)
    with pytest.raises(EgressRefused, match=r"127\.0\.0\.1"):
        fetch(guarded, f"{site.base}/ping")
    assert site.requests == []
    assert fetch(
        local_client(allow_private=False, allowed_hosts=["127.0.0.1"]), f"{site.base}/ping"
    )
    assert fetch(local_client(allow_private=True), f"{site.base}/ping").status_code == 200


def test_each_redirect_hop_goes_through_the_guard(site) -> None:
    port = int(site.base.rsplit(":", 1)[1])
    site.serve("/ok", "{}")
    site.serve("/hop", "", status=302, kind=f"redirect:http://127.0.0.1:{port}/ok")
    # localhost is allowed by name; the hop to 127.0.0.1 is a different host and is not.
    client = local_client(allow_private=False, allowed_hosts=["localhost"])
    with pytest.raises(EgressRefused, match=r"127\.0\.0\.1"):
        fetch(client, f"http://localhost:{port}/hop")
    assert site.paths() == ["/hop"]
    followed = local_client(allow_private=False, allowed_hosts=["localhost", "127.0.0.1"])
    assert fetch_json(followed, f"http://localhost:{port}/hop") == {}


def test_requests_carry_the_user_agent(site) -> None:
    site.serve("/ping", "{}")
    fetch(local_client(), f"{site.base}/ping")
    headers = site.requests[0][3]
    assert headers["User-Agent"] == USER_AGENT
    assert "KRSN" in USER_AGENT


def test_requests_go_through_the_socks_proxy(site, socks_proxy) -> None:
    site.serve("/ping", '{"ok": true}')
    port = int(site.base.rsplit(":", 1)[1])
    client = local_client(proxy=socks_proxy.url)
    assert fetch_json(client, f"{site.base}/ping") == {"ok": True}
    assert socks_proxy.tunnels == [("127.0.0.1", port)]


def test_an_onion_name_is_resolved_by_the_proxy_not_here(site, socks_proxy) -> None:
    site.serve("/hidden", "secret page", kind="text/plain")
    port = int(site.base.rsplit(":", 1)[1])
    onion = "exampleexampleexampleexampleexampleexampleexample23.onion"
    socks_proxy.names[onion] = "127.0.0.1"
    # The proxy itself is on loopback and private addresses are refused: the guard must let
    # the proxy through and leave the name to it.
    client = local_client(proxy=socks_proxy.url, allow_private=False)
    response = fetch(client, f"http://{onion}:{port}/hidden")
    assert response.text == "secret page"
    assert socks_proxy.tunnels == [(onion, port)]


def test_a_private_literal_target_is_refused_even_through_the_proxy(site, socks_proxy) -> None:
    client = local_client(proxy=socks_proxy.url, allow_private=False)
    with pytest.raises(EgressRefused):
        fetch(client, f"{site.base}/ping")
    with pytest.raises(EgressRefused):
        fetch(client, "http://localhost:9/")
    assert socks_proxy.tunnels == []


def test_a_proxy_that_is_not_socks_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        local_client(proxy="http://127.0.0.1:3128")
    assert refused.value.field == "proxy"


def _record(directory: Path, name: str, method: str, url: str, response: dict) -> None:
    entry = {"request": {"method": method, "url": url}, "response": response}
    (directory / name).write_text(json.dumps(entry))


def test_replay_answers_recorded_requests_and_names_a_miss(tmp_path: Path) -> None:
    _record(tmp_path, "a.json", "GET", "https://api.test/items?b=2&a=1", {"json": {"n": 1}})
    (tmp_path / "page.html").write_text("<p>hi</p>")
    _record(
        tmp_path,
        "b.json",
        "GET",
        "https://api.test/page",
        {"status": 200, "headers": {"Content-Type": "text/html"}, "body_file": "page.html"},
    )
    client = local_client(transport=ReplayTransport(tmp_path), allow_private=False)
    # Query order does not matter; the recorded body comes back as sent.
    assert fetch_json(client, "https://api.test/items", params={"a": 1, "b": 2}) == {"n": 1}
    assert fetch(client, "https://api.test/page").text == "<p>hi</p>"
    with pytest.raises(ReplayMiss, match=r"GET https://api.test/missing"):
        fetch(client, "https://api.test/missing")


def test_replay_is_not_paced(tmp_path: Path) -> None:
    _record(tmp_path, "a.json", "GET", "https://api.test/x", {"json": {}})
    client = collector_client(
        rate_per_minute=1,
        proxy=None,
        allow_private=False,
        allowed_hosts=(),
        timeout=1,
        transport=ReplayTransport(tmp_path),
    )
    started = time.monotonic()
    for _ in range(5):
        fetch(client, "https://api.test/x")
    assert time.monotonic() - started < 1


def test_a_broken_recording_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(Invalid, match=r"bad\.json"):
        ReplayTransport(tmp_path)


def test_http_errors_and_malformed_bodies_raise_clear_errors(site) -> None:
    site.serve("/boom", "upstream exploded", status=500, kind="text/plain")
    site.serve("/html", "<html>not json</html>", kind="text/html")
    site.serve("/big", "x" * 5000, kind="text/plain")
    client = local_client()
    with pytest.raises(CollectorError, match="HTTP 500: upstream exploded") as failed:
        fetch(client, f"{site.base}/boom?api_key=secret")
    assert "secret" not in failed.value.detail
    with pytest.raises(CollectorError, match="did not answer JSON"):
        fetch_json(client, f"{site.base}/html")
    with pytest.raises(CollectorError, match="more than the 1024"):
        fetch(client, f"{site.base}/big", max_bytes=1024)
    assert fetch(client, f"{site.base}/boom", ok_statuses=(500,)).status_code == 500


def test_an_unreachable_server_is_a_collector_error() -> None:
    client = local_client()
    with pytest.raises(CollectorError, match="failed: ConnectError"):
        fetch(client, "http://127.0.0.1:9/")


def test_collector_clients_are_httpx_clients() -> None:
    assert isinstance(local_client(), httpx.Client)
