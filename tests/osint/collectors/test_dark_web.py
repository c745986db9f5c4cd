"""dark_web: off without a proxy; pages and other collectors through a SOCKS proxy."""

from __future__ import annotations

import pytest
from collector_support import RECORDINGS, run

from krsn.config import get_settings
from krsn.errors import Invalid
from krsn.osint.collectors.dark_web import DarkWebCollector
from krsn.osint.models import EntityType

ONION = "paperlynxforumexampleexampleexampleexampleexampleexam.onion"


@pytest.fixture
def tor_proxy(socks_proxy, monkeypatch):
    """The operator's KRSN_TOR_PROXY pointed at the local SOCKS5 server."""
    monkeypatch.setenv("KRSN_TOR_PROXY", socks_proxy.url)
    get_settings.cache_clear()
    yield socks_proxy
    get_settings.cache_clear()


def test_without_a_proxy_the_collector_refuses_to_run(site, monkeypatch) -> None:
    monkeypatch.delenv("KRSN_TOR_PROXY", raising=False)
    get_settings.cache_clear()
    site.serve("/", "<p>hi</p>", kind="text/html")
    with pytest.raises(Invalid) as refused:
        run(DarkWebCollector(), {"urls": [f"{site.base}/"]})
    assert refused.value.field == "tor_proxy"
    assert site.requests == []


def test_a_collection_cannot_name_its_own_proxy() -> None:
    with pytest.raises(ValueError, match="proxy"):
        DarkWebCollector.Config.model_validate(
            {"proxy": "socks5h://10.0.0.5:1080", "urls": ["http://example.onion/"]}
        )


def test_onion_pages_are_fetched_through_the_proxy_as_text(site, tor_proxy) -> None:
    socks_proxy = tor_proxy
    site.serve_file("/thread/1", "article.html")
    port = int(site.base.rsplit(":", 1)[1])
    socks_proxy.names[ONION] = "127.0.0.1"
    config = {"urls": [f"http://{ONION}:{port}/thread/1"]}
    (page,) = run(DarkWebCollector(), config).records
    assert page.item_type == "page"
    assert "Paper Lynx" in (page.text or "")
    assert (EntityType.DOMAIN, ONION) in {(e.entity_type, e.value) for e in page.entities}
    assert socks_proxy.tunnels == [(ONION, port)]


def test_another_collector_runs_with_every_request_through_the_proxy(site, tor_proxy) -> None:
    socks_proxy = tor_proxy
    rss = (RECORDINGS / "rss.xml").read_text().replace("ARTICLE_BASE", site.base)
    site.serve("/feed.xml", rss, kind="application/rss+xml")
    site.serve_file("/articles/phishing-wave", "article.html")
    config = {
        "collector": "news",
        "config": {"feeds": [f"{site.base}/feed.xml"], "max_items": 1, "fetch_articles": True},
    }
    (article,) = run(DarkWebCollector(), config).records
    assert "Paper Lynx" in (article.text or "")
    port = int(site.base.rsplit(":", 1)[1])
    assert len(socks_proxy.tunnels) == 2
    assert set(socks_proxy.tunnels) == {("127.0.0.1", port)}


def test_collectors_that_ask_dns_cannot_be_wrapped() -> None:
    with pytest.raises(ValueError, match="cannot run through a SOCKS proxy"):
        DarkWebCollector.Config.model_validate({"collector": "domain_intel", "config": {}})
    with pytest.raises(ValueError, match="either urls or a collector"):
        DarkWebCollector.Config.model_validate({})
