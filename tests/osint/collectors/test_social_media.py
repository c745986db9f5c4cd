"""social_media: Mastodon's and Reddit's public JSON APIs served from 127.0.0.1."""

from __future__ import annotations

import pytest
from collector_support import RECORDINGS, local_client, run

from krsn.osint.collectors.base import CollectorContext
from krsn.osint.collectors.http import CollectorError
from krsn.osint.collectors.social_media import SocialMediaCollector
from krsn.osint.models import EntityType, RelationshipType


def _statuses(path: str) -> tuple[int, str, bytes]:
    if "max_id=112600000000000002" in path:
        name = "mastodon_statuses_page2.json"
    elif "max_id=" in path:
        return 200, "application/json", b"[]"
    else:
        name = "mastodon_statuses_page1.json"
    return 200, "application/json", (RECORDINGS / name).read_bytes()


def test_a_mastodon_account_is_looked_up_and_its_statuses_paged(site) -> None:
    site.serve_file("/api/v1/accounts/lookup", "mastodon_lookup.json")
    site.routes["/api/v1/accounts/109300000000000001/statuses"] = _statuses
    context = CollectorContext(client=local_client(), credentials={"access_token": "tok-123"})
    config = {"platform": "mastodon", "base_url": site.base, "accounts": ["@threatwatch"]}
    result = run(SocialMediaCollector(), config, context)
    kinds = [r.item_type for r in result.records]
    assert kinds == ["profile", "post", "post", "post"]
    host = "127.0.0.1"
    profile = result.records[0]
    assert profile.entities[0].value == f"@threatwatch@{host}"
    assert "tips@example.org" in (profile.text or "")
    post = result.records[1]
    assert post.text is not None and post.text.startswith(
        "New kit on login-example[.]org & friends"
    )
    assert "<" not in post.text
    assert "#phishing" in post.text
    assert [(r.source[1], r.type, r.target[1]) for r in post.relations] == [
        (f"@threatwatch@{host}", RelationshipType.COMMUNICATES_WITH, "@carol@infosec.example")
    ]
    assert all(h["Authorization"] == "Bearer tok-123" for *_, h in site.requests)
    assert site.paths()[0] == "/api/v1/accounts/lookup?acct=threatwatch"


def test_max_items_bounds_what_is_read(site) -> None:
    site.serve_file("/api/v1/accounts/lookup", "mastodon_lookup.json")
    site.routes["/api/v1/accounts/109300000000000001/statuses"] = _statuses
    config = {
        "platform": "mastodon",
        "base_url": site.base,
        "accounts": ["threatwatch"],
        "max_items": 1,
    }
    result = run(SocialMediaCollector(), config)
    assert [r.item_type for r in result.records] == ["profile", "post"]
    assert len(site.requests) == 2


def test_a_hashtag_timeline_names_remote_authors_by_their_instance(site) -> None:
    site.serve_file("/api/v1/timelines/tag/phishing", "mastodon_tag.json")
    site.routes["/api/v1/timelines/tag/phishing"] = lambda path: (
        (200, "application/json", b"[]")
        if "max_id" in path
        else (200, "application/json", (RECORDINGS / "mastodon_tag.json").read_bytes())
    )
    config = {"platform": "mastodon", "base_url": site.base, "hashtags": ["#phishing"]}
    (post,) = run(SocialMediaCollector(), config).records
    assert post.entities[0].value == "@carol@infosec.example"
    assert "198.51.100.77" in (post.text or "")


def _listing(path: str) -> tuple[int, str, bytes]:
    name = "reddit_new_page2.json" if "after=t3_1d00002" in path else "reddit_new_page1.json"
    return 200, "application/json", (RECORDINGS / name).read_bytes()


def test_a_subreddit_is_paged_and_deleted_authors_are_not_entities(site) -> None:
    site.routes["/r/netsec/new.json"] = _listing
    config = {"platform": "reddit", "base_url": site.base, "subreddits": ["r/netsec"]}
    result = run(SocialMediaCollector(), config)
    assert [r.raw["id"] for r in result.records] == ["1d00001", "1d00002", "1d00003"]
    link_post, deleted, _ = result.records
    assert {(e.entity_type, e.value) for e in link_post.entities} == {
        (EntityType.USERNAME, "u/dfir_dan"),
        (EntityType.URL, "https://blog.example.net/paper-lynx"),
    }
    assert (
        link_post.url
        == f"{site.base}/r/netsec/comments/1d00001/analysis_of_the_paper_lynx_phishing_kit/"
    )
    assert deleted.entities == []
    assert "198.51.100.77" in (deleted.text or "")
    assert deleted.hash_basis == "reddit|t3_1d00002"
    assert "raw_json=1" in site.paths()[0]


def test_reddit_users_and_searches_use_their_endpoints(site) -> None:
    site.routes["/user/dfir_dan/submitted.json"] = _listing
    site.routes["/search.json"] = _listing
    config = {
        "platform": "reddit",
        "base_url": site.base,
        "accounts": ["dfir_dan"],
        "searches": ["paper lynx"],
        "max_items": 2,
    }
    result = run(SocialMediaCollector(), config)
    assert len(result.records) == 4
    assert any(p.startswith("/search.json?") and "q=paper+lynx" in p for p in site.paths())


def test_an_answer_that_is_not_a_listing_is_a_clear_error(site) -> None:
    site.serve("/r/netsec/new.json", '["not", "a", "listing"]')
    config = {"platform": "reddit", "base_url": site.base, "subreddits": ["netsec"]}
    with pytest.raises(CollectorError, match="did not answer a Reddit listing"):
        run(SocialMediaCollector(), config)


def test_configs_say_what_is_missing() -> None:
    with pytest.raises(ValueError, match="base_url"):
        SocialMediaCollector.Config.model_validate({"platform": "mastodon", "hashtags": ["x"]})
    with pytest.raises(ValueError, match="hashtags are Mastodon's"):
        SocialMediaCollector.Config.model_validate({"platform": "reddit", "hashtags": ["x"]})
