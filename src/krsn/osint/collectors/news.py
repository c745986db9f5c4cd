"""``news``: articles from RSS and Atom feeds, with their full text when asked.

Feeds are parsed by feedparser (RSS 0.9x-2.0, Atom, RDF, and the broken ones it tolerates);
with ``fetch_articles`` each article's page is fetched and reduced to its main text by
trafilatura, falling back to the feed's summary when the page cannot be read. An article is
identified across runs by its feed id (or link), so an edited article is not a new item.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from krsn.errors import KrsnError
from krsn.osint.collectors.base import Collected, CollectorContext
from krsn.osint.collectors.http import CollectorError, fetch
from krsn.osint.collectors.observe import html_text, observe, page_text, parse_time, unique
from krsn.osint.models import CollectorType, EntityType

__all__ = ["Config", "NewsCollector", "NewsConfig", "parse_feed"]

log = logging.getLogger(__name__)


class NewsConfig(BaseModel):
    """A ``news`` collection's config."""

    model_config = ConfigDict(extra="forbid")

    feeds: list[HttpUrl] = Field(min_length=1, description="RSS or Atom feed URLs.")
    max_items: int = Field(50, ge=1, le=5_000, description="Newest entries taken per feed.")
    fetch_articles: bool = Field(False, description="Fetch each article's page for its text.")
    since: datetime | None = Field(None, description="Skip entries published before this.")
    max_feed_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest feed read.")
    max_article_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest page read.")


def parse_feed(data: bytes, *, url: str) -> tuple[dict[str, Any], list[Any]]:
    """The feed's header and entries; CollectorError when ``data`` is not a feed at all."""
    import feedparser  # imported here: it is only needed by this collector

    parsed = feedparser.parse(data)
    if not parsed.entries and (parsed.bozo or not parsed.version):
        reason = parsed.get("bozo_exception") or "no RSS or Atom elements"
        raise CollectorError(f"{url} is not an RSS or Atom feed: {reason}", url=url)
    if parsed.bozo:
        log.info("feed %s is malformed but readable: %s", url, parsed.get("bozo_exception"))
    return dict(parsed.feed), list(parsed.entries)


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        if entry.get(key):
            return parse_time(entry[key])
    return parse_time(entry.get("published") or entry.get("updated"))


class NewsCollector:
    """Entries of RSS/Atom feeds, optionally with each article's full text."""

    collector_type: ClassVar[CollectorType] = CollectorType.NEWS
    Config: ClassVar[type[BaseModel]] = NewsConfig
    description: ClassVar[str] = (
        "Articles from RSS and Atom feeds (feedparser), with each article's text extracted "
        "from its page (trafilatura) when fetch_articles is on."
    )

    def collect(self, config: BaseModel, context: CollectorContext) -> Iterator[Collected]:
        """Yield the newest ``max_items`` entries of each feed as articles."""
        assert isinstance(config, NewsConfig)
        total = len(config.feeds) * config.max_items
        done = 0
        context.progress(done, total)
        for feed_url in map(str, config.feeds):
            context.check()
            response = fetch(
                context.client,
                feed_url,
                headers={"Accept": "application/rss+xml, application/atom+xml, text/xml;q=0.9"},
                max_bytes=config.max_feed_bytes,
            )
            feed, entries = parse_feed(response.content, url=feed_url)
            dated = [(entry, _published(entry)) for entry in entries]
            if config.since is not None:
                since = parse_time(config.since)
                dated = [
                    (e, when) for e, when in dated if when is None or since is None or when >= since
                ]
            dated.sort(key=lambda pair: pair[1].timestamp() if pair[1] else 0.0, reverse=True)
            chosen = dated[: config.max_items]
            total += len(chosen) - config.max_items
            for entry, published in chosen:
                context.check()
                yield self._article(context, config, feed, feed_url, entry, published)
                done += 1
                context.progress(done, total)

    def _article(
        self,
        context: CollectorContext,
        config: NewsConfig,
        feed: dict[str, Any],
        feed_url: str,
        entry: Any,
        published: datetime | None,
    ) -> Collected:
        link = entry.get("link")
        summary_html = entry.get("summary") or ""
        if entry.get("content"):
            summary_html = entry["content"][0].get("value") or summary_html
        summary = html_text(summary_html)
        text, article_error = summary, None
        if config.fetch_articles and link:
            try:
                page = fetch(
                    context.client,
                    link,
                    headers={"Accept": "text/html,application/xhtml+xml"},
                    max_bytes=config.max_article_bytes,
                )
                text = page_text(page.content, url=link) or summary
            except KrsnError as exc:
                # One unreachable article must not lose the rest of the feed.
                log.warning("article %s of feed %s not fetched: %s", link, feed_url, exc.detail)
                article_error = exc.detail
        title = html_text(entry.get("title") or "") or None
        author = entry.get("author")
        tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
        raw = {
            "feed": feed_url,
            "feed_title": feed.get("title"),
            "id": entry.get("id"),
            "title": title,
            "link": link,
            "author": author,
            "published": published.isoformat() if published else None,
            "summary": summary,
            "tags": tags,
            "article_fetched": config.fetch_articles and article_error is None and bool(link),
        }
        if article_error:
            raw["article_error"] = article_error
        entities = unique(
            [observe(EntityType.PERSON, author, confidence=0.6, role="author") if author else None]
        )
        body = "\n\n".join(part for part in (title, text) if part)
        return Collected(
            item_type="article",
            raw=raw,
            text=body or None,
            url=link,
            title=title,
            published_at=published,
            entities=entities,
            hash_basis=f"article|{entry.get('id') or link or title}",
        )


Config = NewsConfig
"""The module's config model, by the name every collector module exports."""
