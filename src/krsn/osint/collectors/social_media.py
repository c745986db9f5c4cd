"""``social_media``: public posts from Mastodon and Reddit through their JSON APIs.

Mastodon: an account looked up by handle (``/api/v1/accounts/lookup``) then its statuses
(``/api/v1/accounts/{id}/statuses``), and hashtag timelines (``/api/v1/timelines/tag/{tag}``),
paged with ``max_id``. An ``access_token`` in the source's credentials is sent as a bearer
token (instances that hide timelines from anonymous readers need one). Reddit: a subreddit's
newest posts (``/r/{sub}/new.json``), a user's submissions (``/user/{name}/submitted.json``)
and searches (``/search.json?q=``), paged with ``after``.

Posts' HTML is reduced to text; authors and mentioned accounts become ``username`` entities
written as the platform shows them (``@user@instance`` on Mastodon, ``u/name`` on Reddit), so
the same name on two platforms stays two entities. A mention is COMMUNICATES_WITH.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar, Final, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from krsn.osint.collectors.base import Collected, CollectorContext, Observed, ObservedRelation
from krsn.osint.collectors.http import CollectorError, fetch_json
from krsn.osint.collectors.observe import html_text, observe, parse_time, relation, unique
from krsn.osint.models import CollectorType, EntityType, RelationshipType

__all__ = ["Config", "SocialMediaCollector", "SocialMediaConfig"]

log = logging.getLogger(__name__)

_MASTODON_PAGE: Final = 40
_REDDIT_PAGE: Final = 100
_GONE: Final = frozenset({"[deleted]", "[removed]", ""})


class SocialMediaConfig(BaseModel):
    """A ``social_media`` collection's config."""

    model_config = ConfigDict(extra="forbid")

    platform: Literal["mastodon", "reddit"]
    base_url: HttpUrl | None = Field(
        None,
        description="The Mastodon instance (https://mastodon.social) or Reddit "
        "(https://www.reddit.com, the default for reddit).",
    )
    accounts: list[str] = Field(default_factory=list, description="Handles or user names.")
    hashtags: list[str] = Field(default_factory=list, description="Mastodon hashtags.")
    subreddits: list[str] = Field(default_factory=list, description="Reddit subreddits.")
    searches: list[str] = Field(default_factory=list, description="Reddit search queries.")
    max_items: int = Field(100, ge=1, le=5_000, description="Posts per account, tag or query.")

    @model_validator(mode="after")
    def _something_to_read(self) -> SocialMediaConfig:
        if self.platform == "mastodon":
            if self.base_url is None:
                raise ValueError("base_url (the Mastodon instance) is required for mastodon")
            if self.subreddits or self.searches:
                raise ValueError("subreddits and searches are Reddit's; use accounts or hashtags")
            if not (self.accounts or self.hashtags):
                raise ValueError("give accounts or hashtags to read")
        else:
            if self.hashtags:
                raise ValueError("hashtags are Mastodon's; use subreddits or searches")
            if not (self.accounts or self.subreddits or self.searches):
                raise ValueError("give accounts, subreddits or searches to read")
        return self


def _base(config: SocialMediaConfig) -> str:
    default = "https://www.reddit.com" if config.platform == "reddit" else ""
    return (str(config.base_url) if config.base_url else default).rstrip("/")


def _handle(acct: str, host: str) -> str:
    """A Mastodon account as ``@user@instance``: local accounts' acct has no instance."""
    acct = acct.strip().lstrip("@")
    return f"@{acct}" if "@" in acct else f"@{acct}@{host}"


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CollectorError(f"{what} did not answer a list of objects")
    return value


class SocialMediaCollector:
    """Public posts of Mastodon accounts and hashtags, and of Reddit subreddits, users and
    searches."""

    collector_type: ClassVar[CollectorType] = CollectorType.SOCIAL_MEDIA
    Config: ClassVar[type[BaseModel]] = SocialMediaConfig
    description: ClassVar[str] = (
        "Public posts from Mastodon (accounts, hashtags) and Reddit (subreddits, users, "
        "searches) through their JSON APIs; authors and mentions as usernames."
    )

    def collect(self, config: BaseModel, context: CollectorContext) -> Iterator[Collected]:
        """Yield each account's profile and every post read, up to ``max_items`` per query."""
        assert isinstance(config, SocialMediaConfig)
        if config.platform == "mastodon":
            queries = [("account", a) for a in config.accounts] + [
                ("hashtag", t) for t in config.hashtags
            ]
        else:
            queries = (
                [("subreddit", s) for s in config.subreddits]
                + [("account", a) for a in config.accounts]
                + [("search", q) for q in config.searches]
            )
        total = len(queries) * config.max_items
        done = 0
        context.progress(done, total)
        for kind, value in queries:
            context.check()
            read = 0
            source = (
                self._mastodon(context, config, kind, value)
                if config.platform == "mastodon"
                else self._reddit(context, config, kind, value)
            )
            for record in source:
                yield record
                if record.item_type == "post":
                    read += 1
                    done += 1
                    context.progress(done, total)
            total -= config.max_items - read
            context.progress(done, total)

    # --- Mastodon -----------------------------------------------------------------------

    def _mastodon(
        self, context: CollectorContext, config: SocialMediaConfig, kind: str, value: str
    ) -> Iterator[Collected]:
        base = _base(config)
        host = urlsplit(base).hostname or ""
        token = context.credentials.get("access_token")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if kind == "account":
            account = fetch_json(
                context.client,
                f"{base}/api/v1/accounts/lookup",
                params={"acct": value.lstrip("@")},
                headers=headers,
            )
            if not isinstance(account, dict) or "id" not in account:
                raise CollectorError(f"Mastodon lookup of {value} did not answer an account")
            yield self._profile(account, host)
            url = f"{base}/api/v1/accounts/{quote(str(account['id']), safe='')}/statuses"
        else:
            url = f"{base}/api/v1/timelines/tag/{quote(value.lstrip('#'), safe='')}"
        read = 0
        max_id: str | None = None
        while read < config.max_items:
            context.check()
            params: dict[str, Any] = {"limit": min(_MASTODON_PAGE, config.max_items - read)}
            if max_id:
                params["max_id"] = max_id
            page = _objects(fetch_json(context.client, url, params=params, headers=headers), url)
            if not page:
                break
            for status in page[: config.max_items - read]:
                yield self._status(status, host, base)
                read += 1
            # A short page is not the end: instances drop filtered posts from a page.
            max_id = str(page[-1].get("id"))

    def _profile(self, account: dict[str, Any], host: str) -> Collected:
        handle = _handle(str(account.get("acct") or account.get("username") or ""), host)
        user = observe(
            EntityType.USERNAME,
            handle,
            confidence=1.0,
            platform="mastodon",
            display_name=account.get("display_name") or None,
            profile_url=account.get("url"),
        )
        note = html_text(str(account.get("note") or ""))
        return Collected(
            item_type="profile",
            raw=account,
            text="\n".join(p for p in (account.get("display_name"), handle, note) if p) or None,
            url=account.get("url"),
            title=f"Mastodon profile {handle}",
            published_at=parse_time(account.get("created_at")),
            entities=unique([user]),
        )

    def _status(self, status: dict[str, Any], host: str, base: str) -> Collected:
        reblog = status.get("reblog")
        shown: dict[str, Any] = reblog if isinstance(reblog, dict) else status
        account = shown.get("account") or {}
        handle = _handle(str(account.get("acct") or account.get("username") or ""), host)
        author = observe(
            EntityType.USERNAME,
            handle,
            confidence=1.0,
            platform="mastodon",
            display_name=account.get("display_name") or None,
            profile_url=account.get("url"),
        )
        entities: list[Observed | None] = [author]
        relations: list[ObservedRelation | None] = []
        for mention in shown.get("mentions") or []:
            other = observe(
                EntityType.USERNAME,
                _handle(str(mention.get("acct") or ""), host),
                confidence=1.0,
                platform="mastodon",
            )
            entities.append(other)
            relations.append(
                relation(author, other, RelationshipType.COMMUNICATES_WITH, via="mention")
            )
        text = html_text(str(shown.get("content") or ""))
        if shown.get("spoiler_text"):
            text = f"{shown['spoiler_text']}\n\n{text}"
        tags = [t.get("name") for t in shown.get("tags") or [] if t.get("name")]
        if tags and text:
            text += "\n\nTags: " + " ".join(f"#{tag}" for tag in tags)
        return Collected(
            item_type="post",
            raw=status,
            text=text or None,
            url=shown.get("url") or shown.get("uri"),
            title=f"{handle}: {text[:80]}" if text else handle,
            published_at=parse_time(shown.get("created_at")),
            entities=unique(entities),
            relations=unique(relations),
            # A boosted post is the original: one item however many accounts boost it.
            hash_basis=f"mastodon|{shown.get('uri') or shown.get('url') or shown.get('id')}",
        )

    # --- Reddit -------------------------------------------------------------------------

    def _reddit(
        self, context: CollectorContext, config: SocialMediaConfig, kind: str, value: str
    ) -> Iterator[Collected]:
        base = _base(config)
        params: dict[str, Any] = {"raw_json": 1}
        if kind == "subreddit":
            url = f"{base}/r/{quote(value.removeprefix('r/'), safe='')}/new.json"
        elif kind == "account":
            url = f"{base}/user/{quote(value.removeprefix('u/'), safe='')}/submitted.json"
        else:
            url = f"{base}/search.json"
            params.update(q=value, sort="new")
        read = 0
        after: str | None = None
        while read < config.max_items:
            context.check()
            page_params = {**params, "limit": min(_REDDIT_PAGE, config.max_items - read)}
            if after:
                page_params["after"] = after
            listing = fetch_json(context.client, url, params=page_params)
            data = listing.get("data") if isinstance(listing, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("children"), list):
                raise CollectorError(f"{url} did not answer a Reddit listing")
            children = [c.get("data") for c in data["children"] if isinstance(c, dict)]
            for post in children[: config.max_items - read]:
                if isinstance(post, dict):
                    yield self._post(post, base)
                    read += 1
            after = data.get("after")
            if not after or not children:
                break

    def _post(self, post: dict[str, Any], base: str) -> Collected:
        name = str(post.get("author") or "")
        author = (
            None
            if name in _GONE
            else observe(
                EntityType.USERNAME,
                f"u/{name}",
                confidence=1.0,
                platform="reddit",
                profile_url=f"{base}/user/{name}",
            )
        )
        entities: list[Observed | None] = [author]
        link = post.get("url_overridden_by_dest") or post.get("url")
        if link and not post.get("is_self"):
            entities.append(observe(EntityType.URL, str(link), confidence=1.0))
        body = post.get("selftext") or ""
        if not body and post.get("selftext_html"):
            body = html_text(str(post["selftext_html"]))
        title = str(post.get("title") or "").strip()
        permalink = post.get("permalink")
        return Collected(
            item_type="post",
            raw=post,
            text="\n\n".join(p for p in (title, body) if p) or None,
            url=f"{base}{permalink}" if permalink else link,
            title=title or None,
            published_at=parse_time(post.get("created_utc")),
            entities=unique(entities),
            hash_basis=f"reddit|{post.get('name') or post.get('id') or permalink}",
        )


Config = SocialMediaConfig
"""The module's config model, by the name every collector module exports."""
