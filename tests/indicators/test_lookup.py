"""Batch lookup: exact values in any spelling, addresses inside nested ranges, only active
indicators, and a range index that follows every write."""

from __future__ import annotations

import ipaddress
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import SourceRef, ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators import ranges
from krsn.indicators.decay import expire_indicators
from krsn.indicators.lookup import MAX_LOOKUP, LookupHit, lookup
from krsn.indicators.normalise import Kind, hash_signature
from krsn.indicators.ranges import Intervals, ranges_of
from krsn.indicators.service import update_indicator

STORED = [
    "45.155.0.0/16",
    "45.155.205.0/24",
    "45.155.205.64/28",
    "45.9.148.9",
    "2a0c:9a40::/32",
    "2a0c:9a40:1000::/48",
    "evil.example.org",
    "http://evil.example.org/gate.php",
    "d41d8cd98f00b204e9800998ecf8427e",
]


def source(db: Database, name: str = "feed") -> SourceRef:
    with db.transaction() as session:
        return ensure_source(session, actor=Actor.system(), name=name, reliability=90)


def feed(db: Database, values: list[str], **fields: Any) -> None:
    rows = [ParsedRow(line=i + 1, value=v, **fields) for i, v in enumerate(values)]
    ingest(db, rows=rows, source=source(db), default_confidence=80)


def look(db: Database, values: list[str]) -> tuple[list[LookupHit], list[str]]:
    with db.transaction(readonly=True) as session:
        return lookup(session, values=values)


def pairs(db: Database, values: list[str]) -> list[tuple[str, str]]:
    return [(hit.value, hit.matched) for hit in look(db, values)[0]]


def mark_false_positive(db: Database, value: str, marked: bool = True) -> None:
    with db.transaction() as session:
        update_indicator(
            session, actor=Actor.system(), key=value, changes={"false_positive": marked}
        )


def held_by_index(db: Database, address: str) -> set[str]:
    """The signatures of the ranges the index itself holds for an address (before the
    lookup's check that their rows are active)."""
    parsed = ipaddress.ip_address(address)
    with db.transaction(readonly=True) as session:
        view = ranges_of(db.engine).current(session.connection())
        return set(view.holding(str(parsed), parsed.version))


# --- Over HTTP --------------------------------------------------------------------------------


def test_exact_values_match_in_any_spelling_over_http(api):
    feed(api.database, STORED)
    api.login_as("sam", "viewer")
    answer = api.post(
        "/api/v1/indicators/lookup",
        json={
            "values": [
                "EVIL.example.org",
                "hxxp://evil[.]example[.]org/gate.php",
                "45[.]9[.]148[.]9",
                "D41D8CD98F00B204E9800998ECF8427E",
                "unknown.example.net",
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(m["value"], m["matched"]) for m in body["matches"]] == [
        ("EVIL.example.org", "evil.example.org"),
        ("hxxp://evil[.]example[.]org/gate.php", "http://evil.example.org/gate.php"),
        ("45[.]9[.]148[.]9", "45.9.148.9"),
        ("D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
    ]
    indicator = body["matches"][2]["indicator"]
    assert uuid.UUID(indicator["id"])
    assert indicator["indicator_type"] == "ip"
    assert indicator["severity"] in {"critical", "high", "medium", "low"}
    assert 0 < indicator["threat_score"] <= 100
    assert indicator["decayed_threat_score"] == indicator["threat_score"]  # seen just now
    assert indicator["last_seen_at"].endswith("Z")
    shown = api.get(f"/api/v1/indicators/{indicator['id']}").json()["indicator"]
    for field in ("indicator_value", "severity", "threat_score", "first_seen_at"):
        assert indicator[field] == shown[field], field
    assert body["unreadable"] == []


def test_an_address_matches_every_nested_range_holding_it_over_http(api):
    feed(api.database, STORED)
    api.login_as("sam", "viewer")
    answer = api.post(
        "/api/v1/indicators/lookup",
        json={
            "values": [
                "45.155.205.70",  # in the /16, the /24 and the /28
                "45.155.205.200",  # in the /16 and the /24
                "45.155.9.9",  # in the /16 only
                "45.156.0.1",  # just past the /16
                "2a0c:9a40:1000::5",  # in both IPv6 ranges
                "2a0c:9a40:2000::5",  # in the /32 only
                "::ffff:45.155.205.70",  # the IPv4 address, mapped
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    assert [(m["value"], m["matched"]) for m in answer.json()["matches"]] == [
        ("45.155.205.70", "45.155.0.0/16"),
        ("45.155.205.70", "45.155.205.0/24"),
        ("45.155.205.70", "45.155.205.64/28"),
        ("45.155.205.200", "45.155.0.0/16"),
        ("45.155.205.200", "45.155.205.0/24"),
        ("45.155.9.9", "45.155.0.0/16"),
        ("2a0c:9a40:1000::5", "2a0c:9a40::/32"),
        ("2a0c:9a40:1000::5", "2a0c:9a40:1000::/48"),
        ("2a0c:9a40:2000::5", "2a0c:9a40::/32"),
        ("::ffff:45.155.205.70", "45.155.0.0/16"),
        ("::ffff:45.155.205.70", "45.155.205.0/24"),
        ("::ffff:45.155.205.70", "45.155.205.64/28"),
    ]


def test_unreadable_values_are_reported_and_the_batch_limit_holds_over_http(api):
    feed(api.database, STORED)
    api.login_as("sam", "viewer")
    answer = api.post(
        "/api/v1/indicators/lookup",
        json={"values": ["???", "45.9.148.9", "010.1.1.1", "not a value", "???"]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["unreadable"] == ["???", "010.1.1.1", "not a value", "???"]
    assert [m["matched"] for m in answer.json()["matches"]] == ["45.9.148.9"]
    most = api.post("/api/v1/indicators/lookup", json={"values": ["45.9.148.9"] * MAX_LOOKUP})
    assert most.status_code == 200
    assert len(most.json()["matches"]) == MAX_LOOKUP
    too_many = api.post(
        "/api/v1/indicators/lookup", json={"values": ["45.9.148.9"] * (MAX_LOOKUP + 1)}
    )
    assert too_many.status_code == 422
    assert too_many.headers["content-type"].startswith("application/problem+json")


def test_a_range_marked_false_positive_over_http_stops_matching_at_once(api):
    feed(api.database, STORED)
    api.login_as("ann", "analyst")
    inside = {"values": ["45.155.205.70"]}
    before = api.post("/api/v1/indicators/lookup", json=inside).json()["matches"]
    assert [m["matched"] for m in before] == [
        "45.155.0.0/16",
        "45.155.205.0/24",
        "45.155.205.64/28",
    ]
    edited = api.patch("/api/v1/indicators/45.155.205.0/24", json={"false_positive": True})
    assert edited.status_code == 200, edited.text
    after = api.post("/api/v1/indicators/lookup", json=inside).json()["matches"]
    assert [m["matched"] for m in after] == ["45.155.0.0/16", "45.155.205.64/28"]


# --- The service, on both engines ---------------------------------------------------------------


def test_inactive_indicators_and_ranges_never_match(db: Database, tmp_path):
    old = datetime.now(UTC) - timedelta(days=45)
    feed(db, STORED)
    feed(db, ["46.1.0.0/16", "expired.example.org"], last_seen=old)

    class StopThese:
        def match(self, kind: Kind, value: str) -> str | None:
            return "a warninglist" if value.startswith("47.") else None

    ingest(
        db,
        rows=[ParsedRow(line=1, value="47.1.0.0/16"), ParsedRow(line=2, value="47.2.2.2")],
        source=source(db),
        suppressor=StopThese(),
    )
    mark_false_positive(db, "45.155.205.0/24")
    mark_false_positive(db, "evil.example.org")
    with db.transaction() as session:
        assert expire_indicators(session) == 1  # the /16 unseen for 45 days; the domain lives 90
    found = pairs(
        db,
        ["45.155.205.70", "evil.example.org", "46.1.2.3", "expired.example.org", "47.1.2.3"],
    )
    assert found == [
        ("45.155.205.70", "45.155.0.0/16"),
        ("45.155.205.70", "45.155.205.64/28"),
        ("expired.example.org", "expired.example.org"),
    ]
    assert pairs(db, ["47.2.2.2", "46.1.0.0/16", "47.1.0.0/16"]) == []


@pytest.fixture
def no_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading other processes' changes waits an hour: only this process's notes count."""
    monkeypatch.setattr(ranges, "POLL", 3600.0)


def test_a_range_added_after_the_index_was_built_is_found_by_the_next_lookup(
    db: Database, no_poll: None
):
    feed(db, STORED)
    assert pairs(db, ["45.155.205.70"])  # the index is built now
    assert pairs(db, ["91.240.118.7", "2a0d:1::1"]) == []
    feed(db, ["91.240.118.0/24", "2a0d::/16"])
    assert pairs(db, ["91.240.118.7", "2a0d:1::1"]) == [
        ("91.240.118.7", "91.240.118.0/24"),
        ("2a0d:1::1", "2a0d::/16"),
    ]


def test_a_deactivated_range_leaves_the_index_and_comes_back_when_reactivated(
    db: Database, no_poll: None
):
    feed(db, STORED)
    holding = {m for _, m in pairs(db, ["45.155.205.70"])}
    assert holding == {"45.155.0.0/16", "45.155.205.0/24", "45.155.205.64/28"}
    before = held_by_index(db, "45.155.205.70")
    assert len(before) == 3
    mark_false_positive(db, "45.155.205.64/28")
    assert len(held_by_index(db, "45.155.205.70")) == 2
    assert {m for _, m in pairs(db, ["45.155.205.70"])} == {"45.155.0.0/16", "45.155.205.0/24"}
    mark_false_positive(db, "45.155.205.64/28", marked=False)
    assert held_by_index(db, "45.155.205.70") == before
    assert {m for _, m in pairs(db, ["45.155.205.70"])} == holding


def test_a_range_written_by_another_process_is_found_within_the_poll(db: Database):
    feed(db, STORED)
    assert pairs(db, ["91.240.118.7"]) == []
    # Another engine on the same database stands for another process: its commits are not
    # noted by this engine's index, which has to read them from the table.
    other = Database(db.url)
    try:
        feed(other, ["91.240.118.0/24"])
    finally:
        other.dispose()
    assert ranges_of(other.engine) is not ranges_of(db.engine)
    time.sleep(ranges.POLL + 0.1)
    assert pairs(db, ["91.240.118.7"]) == [("91.240.118.7", "91.240.118.0/24")]


def test_the_periodic_reload_forgets_deleted_ranges_without_stopping_lookups(
    db: Database, monkeypatch: pytest.MonkeyPatch
):
    feed(db, STORED)
    assert len(held_by_index(db, "45.155.205.70")) == 3
    with db.engine.begin() as connection:
        connection.execute(
            text("DELETE FROM threat_indicators WHERE indicator_value = '45.155.205.64/28'")
        )
    # A deleted row never comes back from the table: only the full reload forgets it.
    assert len(held_by_index(db, "45.155.205.70")) == 3
    assert {m for _, m in pairs(db, ["45.155.205.70"])} == {"45.155.0.0/16", "45.155.205.0/24"}
    monkeypatch.setattr(ranges, "RELOAD", 0.0)
    deadline = time.monotonic() + 10
    while len(held_by_index(db, "45.155.205.70")) == 3:  # each lookup may start the reload
        assert time.monotonic() < deadline, "the reload never came"
        time.sleep(0.05)
    kept = {hash_signature(Kind.CIDR, v) for v in ("45.155.0.0/16", "45.155.205.0/24")}
    assert held_by_index(db, "45.155.205.70") == kept


def test_hits_follow_the_order_of_the_values_and_repeat_with_them(db: Database):
    feed(db, STORED)
    values = ["45.9.148.9", "evil.example.org", "45.9.148.9", "45.155.9.9", "nothing.example.net"]
    assert pairs(db, values) == [
        ("45.9.148.9", "45.9.148.9"),
        ("evil.example.org", "evil.example.org"),
        ("45.9.148.9", "45.9.148.9"),
        ("45.155.9.9", "45.155.0.0/16"),
    ]


def test_more_than_the_batch_limit_is_refused(db: Database):
    with pytest.raises(Invalid) as refused:
        look(db, ["45.9.148.9"] * (MAX_LOOKUP + 1))
    assert refused.value.field == "values"
    assert look(db, []) == ([], [])


# --- The interval structure ---------------------------------------------------------------------


def networks(version: int) -> st.SearchStrategy[list[Any]]:
    bits = 32 if version == 4 else 128
    network = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    # Few distinct top bits, so that generated ranges nest and touch.
    one = st.tuples(st.integers(0, 15), st.integers(0, 2**12 - 1), st.integers(4, bits)).map(
        lambda t: network(((t[0] << (bits - 4)) | (t[1] << (bits - 16)), t[2]), strict=False)
    )
    return st.lists(one, max_size=25, unique=True)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), version=st.sampled_from([4, 6]))
def test_intervals_answer_what_checking_every_range_answers(data: st.DataObject, version: int):
    stored = data.draw(networks(version))
    index = Intervals((int(n.network_address), int(n.broadcast_address), str(n)) for n in stored)
    bits = 32 if version == 4 else 128
    probes = [int(n.network_address) for n in stored] + [int(n.broadcast_address) for n in stored]
    probes += [p + 1 for p in probes if p + 1 < 2**bits] + [p - 1 for p in probes if p > 0]
    probes += data.draw(st.lists(st.integers(0, 2**bits - 1), max_size=20))
    for number in probes:
        address = ipaddress.IPv6Address(number) if version == 6 else ipaddress.IPv4Address(number)
        expected = sorted((n for n in stored if address in n), key=lambda n: n.prefixlen)
        assert index.holding(number) == tuple(str(n) for n in expected), address
