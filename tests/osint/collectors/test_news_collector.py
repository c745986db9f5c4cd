"""news: RSS and Atom feeds from a local server, with article text extracted."""

from __future__ import annotations

import pytest
from collector_support import RECORDINGS, run

from krsn.osint.collectors.http import CollectorError
from krsn.osint.collectors.news import NewsCollector
from krsn.osint.models import EntityType


def _serve(site) -> None:
    rss = (RECORDINGS / "rss.xml").read_text().replace("ARTICLE_BASE", site.base)
    site.serve("/feed.xml", rss, kind="application/rss+xml")
    site.serve_file("/articles/phishing-wave", "article.html")
    site.serve_file("/atom.xml", "atom.xml")


def test_feed_entries_become_articles_newest_first_up_to_max_items(site) -> None:
    _serve(site)
    result = run(NewsCollector(), {"feeds": [f"{site.base}/feed.xml"], "max_items": 2})
    titles = [r.title for r in result.records]
    assert titles == ["Phishing wave hits example.org customers", "Patch Tuesday roundup"]
    first = result.records[0]
    assert first.item_type == "article"
    assert first.published_at is not None and first.published_at.isoformat().startswith(
        "2024-06-04"
    )
    assert "login-example[.]org" in (first.text or "")
    assert first.hash_basis == "article|threat-desk-1001"
    assert site.paths() == ["/feed.xml"]  # no article fetched unless asked
    assert result.progress[-1] == (2, 2)


def test_article_text_is_extracted_from_the_page(site) -> None:
    _serve(site)
    config = {"feeds": [f"{site.base}/feed.xml"], "max_items": 2, "fetch_articles": True}
    result = run(NewsCollector(), config)
    article = result.records[0]
    assert "Paper Lynx" in (article.text or "")
    assert "do not keep me" not in (article.text or "")
    assert article.raw["article_fetched"] is True
    # The second article's page is missing: its summary is kept and the reason recorded.
    second = result.records[1]
    assert "CVE-2024-1234" in (second.text or "")
    assert "HTTP 404" in second.raw["article_error"]


def test_entries_before_since_are_skipped_and_atom_authors_are_people(site) -> None:
    _serve(site)
    config = {
        "feeds": [f"{site.base}/feed.xml", f"{site.base}/atom.xml"],
        "since": "2024-06-01T00:00:00Z",
    }
    result = run(NewsCollector(), config)
    titles = {r.title for r in result.records}
    assert "Old news" not in titles
    advisory = next(r for r in result.records if r.title == "Advisory VA-2024-07")
    assert "203.0.113.50" in (advisory.text or "")
    assert [(e.entity_type, e.value) for e in advisory.entities] == [
        (EntityType.PERSON, "Bob Analyst")
    ]


def test_a_page_that_is_not_a_feed_is_a_clear_error(site) -> None:
    site.serve("/feed.xml", "<html><body>Maintenance</body></html>", kind="text/html")
    with pytest.raises(CollectorError, match="is not an RSS or Atom feed"):
        run(NewsCollector(), {"feeds": [f"{site.base}/feed.xml"]})
