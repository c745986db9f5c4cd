"""Which watchlist items observables hit: the same value, an IP inside a range, a domain
under a listed one, a URL by its host, an e-mail by its domain; never an inactive list or an
expired item; and an index that notices what another process changed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.models import WatchlistItemType, WatchlistType
from krsn.detection.observations import Observation, Origin
from krsn.detection.watchlists import service
from krsn.detection.watchlists.matching import attach_hits
from krsn.identity.audit import Actor
from krsn.indicators.normalise import Indicator, normalise

ACTOR = Actor(user_id=None, via="cli")


def new_list(db: Database, name: str, list_type: str, *values: str, **options: Any) -> uuid.UUID:
    with db.transaction() as session:
        row = service.create_watchlist(
            session, actor=ACTOR, values={"name": name, "list_type": list_type}
        )
        if values:
            change = service.add_items(
                session, actor=ACTOR, watchlist_id=row.id, items=list(values), **options
            )
            assert change.rejected == 0, change.rejections
        return row.id


def observe(db: Database, *values: str, now: datetime | None = None) -> list[Observation]:
    """Observations of these values, with the hits attached."""
    moment = now or utcnow()
    observations = []
    for value in values:
        indicator = normalise(value)
        assert isinstance(indicator, Indicator), value
        observations.append(
            Observation(
                origin=Origin.SIGHTING,
                value=value,
                kind=indicator.kind.value,
                canonical=indicator.value,
                observed_at=moment,
            )
        )
    with db.transaction(readonly=True) as session:
        attach_hits(session, observations, now=moment)
    return observations


def hits(db: Database, *values: str, now: datetime | None = None) -> dict[str, list[str]]:
    """What each value hit, as ``list name: item value``."""
    return {
        o.value: [f"{h.watchlist_name}: {h.item_value}" for h in o.watchlist_hits]
        for o in observe(db, *values, now=now)
    }


def test_the_same_value_hits_whatever_its_type(db):
    new_list(
        db,
        "mixed",
        "custom",
        "192.0.2.1",
        "2001:db8::1",
        "http://evil.com/gate.php",
        "d41d8cd98f00b204e9800998ecf8427e",
        "bob@example.org",
    )
    found = hits(
        db,
        "192.0.2.1",
        "2001:DB8:0::1",
        "hxxp://evil[.]com/gate.php",
        "D41D8CD98F00B204E9800998ECF8427E",
        "Bob@Example.org",
        "192.0.2.2",
        "http://evil.com/other",
    )
    assert found == {
        "192.0.2.1": ["mixed: 192.0.2.1"],
        "2001:DB8:0::1": ["mixed: 2001:db8::1"],
        "hxxp://evil[.]com/gate.php": ["mixed: http://evil.com/gate.php"],
        "D41D8CD98F00B204E9800998ECF8427E": ["mixed: d41d8cd98f00b204e9800998ecf8427e"],
        "Bob@Example.org": ["mixed: bob@example.org"],
        "192.0.2.2": [],
        "http://evil.com/other": [],
    }


def test_an_address_hits_every_range_holding_it(db):
    new_list(db, "wide", "ip_blacklist", "10.0.0.0/8", "2001:db8::/32")
    new_list(db, "narrow", "ip_blacklist", "10.1.2.0/24", "10.1.2.3")
    found = hits(db, "10.1.2.3", "10.1.2.200", "10.200.0.1", "11.0.0.1", "2001:db8:5::9")
    assert found == {
        "10.1.2.3": ["narrow: 10.1.2.3", "wide: 10.0.0.0/8", "narrow: 10.1.2.0/24"],
        "10.1.2.200": ["wide: 10.0.0.0/8", "narrow: 10.1.2.0/24"],
        "10.200.0.1": ["wide: 10.0.0.0/8"],
        "11.0.0.1": [],
        "2001:db8:5::9": ["wide: 2001:db8::/32"],
    }
    # A range hits the ranges holding all of it, and itself.
    assert hits(db, "10.1.0.0/16", "10.1.2.0/24", "8.0.0.0/6") == {
        "10.1.0.0/16": ["wide: 10.0.0.0/8"],
        "10.1.2.0/24": ["narrow: 10.1.2.0/24", "wide: 10.0.0.0/8"],
        "8.0.0.0/6": [],
    }


def test_a_domain_hits_the_listed_domains_above_it(db):
    new_list(db, "domains", "domain_blacklist", "evil.com", "b.evil.com", "example.co.uk")
    found = hits(
        db, "evil.com", "a.b.evil.com", "x.evil.com", "notevil.com", "evil.com.example.org",
        "mail.example.co.uk", "co.example.uk",
    )  # fmt: skip
    assert found == {
        "evil.com": ["domains: evil.com"],
        "a.b.evil.com": ["domains: b.evil.com", "domains: evil.com"],
        "x.evil.com": ["domains: evil.com"],
        "notevil.com": [],
        "evil.com.example.org": [],
        "mail.example.co.uk": ["domains: example.co.uk"],
        "co.example.uk": [],
    }


def test_a_url_hits_by_its_host(db):
    new_list(db, "domains", "domain_blacklist", "evil.com")
    new_list(db, "ips", "ip_blacklist", "192.0.2.0/24", "2001:db8::1")
    found = hits(
        db,
        "https://cdn.evil.com/x?y=1#z",
        "http://user:pw@evil.com:8080/",
        "http://192.0.2.55:8443/login",
        "http://[2001:db8::1]/a",
        "http://good.example.net/evil.com",
    )
    assert found == {
        "https://cdn.evil.com/x?y=1#z": ["domains: evil.com"],
        "http://user:pw@evil.com:8080/": ["domains: evil.com"],
        "http://192.0.2.55:8443/login": ["ips: 192.0.2.0/24"],
        "http://[2001:db8::1]/a": ["ips: 2001:db8::1"],
        "http://good.example.net/evil.com": [],
    }


def test_an_email_hits_by_its_domain(db):
    new_list(db, "domains", "domain_blacklist", "evil.com", "phish@good.example.net")
    found = hits(
        db, "ceo@evil.com", "ceo@mail.evil.com", "phish@good.example.net", "ok@good.example.net"
    )
    assert found == {
        "ceo@evil.com": ["domains: evil.com"],
        "ceo@mail.evil.com": ["domains: evil.com"],
        "phish@good.example.net": ["domains: phish@good.example.net"],
        "ok@good.example.net": [],
    }
    # A domain does not hit the addresses or URLs listed on it.
    assert hits(db, "good.example.net") == {"good.example.net": []}


def test_a_hit_names_its_list_and_whether_it_suppresses(db):
    allowed = new_list(db, "known good", "hash_whitelist", "d41d8cd98f00b204e9800998ecf8427e")
    [observation] = observe(db, "d41d8cd98f00b204e9800998ecf8427e")
    [hit] = observation.watchlist_hits
    assert hit.watchlist_id == allowed
    assert hit.list_type is WatchlistType.HASH_WHITELIST
    assert hit.item_type is WatchlistItemType.HASH
    assert hit.suppresses is True
    with db.transaction(readonly=True) as session:
        item = service.page_items(session, watchlist_id=allowed).items[0]
    assert hit.item_id == item.id


def test_an_inactive_list_never_matches(db):
    list_id = new_list(db, "paused", "ip_blacklist", "192.0.2.1")
    assert hits(db, "192.0.2.1")["192.0.2.1"] == ["paused: 192.0.2.1"]
    with db.transaction() as session:
        service.update_watchlist(
            session, actor=ACTOR, watchlist_id=list_id, changes={"is_active": False}
        )
    assert hits(db, "192.0.2.1")["192.0.2.1"] == []


def test_an_expired_item_never_matches(db):
    soon = utcnow() + timedelta(minutes=10)
    new_list(db, "temporary", "ip_blacklist", "192.0.2.0/24", expires_at=soon)
    new_list(db, "lasting", "ip_blacklist", "192.0.2.1")
    assert hits(db, "192.0.2.1", now=soon - timedelta(seconds=1))["192.0.2.1"] == [
        "lasting: 192.0.2.1",
        "temporary: 192.0.2.0/24",
    ]
    assert hits(db, "192.0.2.1", now=soon)["192.0.2.1"] == ["lasting: 192.0.2.1"]


def test_repeated_calls_with_nothing_changed_cost_one_query(db):
    new_list(db, "ips", "ip_blacklist", "192.0.2.1")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    observe(db, "192.0.2.1")  # reads the items
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        observations = observe(db, *[f"192.0.2.{i}" for i in range(1, 200)])
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert [len(o.watchlist_hits) for o in observations[:2]] == [1, 0]
    reads = [s for s in statements if "watchlist" in s]
    assert len(reads) == 1, reads


def test_the_index_notices_what_another_process_changes(db):
    """Another Database on the same data stands for another process: its writes never pass
    through this process's engine, only through the data."""
    other = Database(db.url)
    try:
        list_id = new_list(other, "remote", "domain_blacklist", "evil.com")
        assert hits(db, "a.evil.com")["a.evil.com"] == ["remote: evil.com"]

        with other.transaction() as session:  # an item added
            service.add_items(session, actor=ACTOR, watchlist_id=list_id, items=["bad.org"])
        assert hits(db, "bad.org")["bad.org"] == ["remote: bad.org"]

        soon = utcnow() + timedelta(hours=1)
        with other.transaction() as session:  # an item re-added with an expiry
            service.add_items(
                session, actor=ACTOR, watchlist_id=list_id, items=["bad.org"], expires_at=soon
            )
        assert hits(db, "bad.org", now=soon)["bad.org"] == []

        with other.transaction() as session:  # an item removed
            service.remove_values(session, actor=ACTOR, watchlist_id=list_id, values=["evil.com"])
        assert hits(db, "a.evil.com")["a.evil.com"] == []

        with other.transaction() as session:  # renamed
            service.add_items(session, actor=ACTOR, watchlist_id=list_id, items=["evil.com"])
            service.update_watchlist(
                session, actor=ACTOR, watchlist_id=list_id, changes={"name": "renamed"}
            )
        assert hits(db, "a.evil.com")["a.evil.com"] == ["renamed: evil.com"]

        with other.transaction() as session:  # deactivated
            service.update_watchlist(
                session, actor=ACTOR, watchlist_id=list_id, changes={"is_active": False}
            )
        assert hits(db, "a.evil.com")["a.evil.com"] == []

        with other.transaction() as session:  # reactivated, then deleted
            service.update_watchlist(
                session, actor=ACTOR, watchlist_id=list_id, changes={"is_active": True}
            )
        assert hits(db, "a.evil.com")["a.evil.com"] == ["renamed: evil.com"]
        with other.transaction() as session:
            service.delete_watchlist(session, actor=ACTOR, watchlist_id=list_id)
        assert hits(db, "a.evil.com")["a.evil.com"] == []

        purged = new_list(other, "short", "ip_blacklist", "192.0.2.1", expires_at=soon)
        assert hits(db, "192.0.2.1")["192.0.2.1"] == ["short: 192.0.2.1"]
        with other.transaction() as session:  # purged (expired ones no longer match anyway)
            assert service.purge_expired(session, now=soon) == 1
        with other.transaction(readonly=True) as session:
            assert service.get_watchlist(session, purged).item_count == 0
        assert hits(db, "192.0.2.1")["192.0.2.1"] == []
    finally:
        other.dispose()
