"""Searching indicators: by source, feed, tag, malware family, first and last seen, the start of
the value (defanged or not), in every sort order, paged with a cursor, on both engines."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import FeedRef, SourceRef, ingest
from krsn.feeds.service import create_feed
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.schemas import IndicatorSort
from krsn.indicators.service import SORTS, search_indicators, update_indicator

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
SYSTEM = Actor.system()


def day(n: int) -> datetime:
    """``n`` days before T0."""
    return T0 - timedelta(days=n)


def row(line: int, value: str, **fields: Any) -> ParsedRow:
    return ParsedRow(line=line, value=value, **fields)


class Seeded:
    """What :func:`seed` made: the two providers and the feed of the second one."""

    def __init__(self, alpha: SourceRef, beta: SourceRef, feed_id: uuid.UUID) -> None:
        self.alpha, self.beta, self.feed_id = alpha, beta, feed_id


def seed(database: Database) -> Seeded:
    """Six indicators from two providers, the second through its feed 'Beta List'."""
    with database.transaction() as session:
        alpha = ensure_source(session, actor=SYSTEM, name="Alpha", reliability=90)
        feed = create_feed(
            session,
            actor=SYSTEM,
            name="Beta List",
            url="https://feeds.example.com/beta.txt",
            format_name="text",
            parsing_rules={},
            source_name="beta",
            reliability=40,
        )
        session.flush()
        feed_id = feed.id
        beta = ensure_source(session, actor=SYSTEM, name="beta")
    ingest(
        database,
        source=alpha,
        rows=[
            row(
                1,
                "evil.example.org",
                tags=("botnet", "tlp:green"),
                malware_family="Qakbot",
                first_seen=day(10),
                last_seen=day(1),
                confidence=90,
            ),
            row(
                2,
                "http://evil.example.org/Gate.php",
                tags=("phishing",),
                first_seen=day(5),
                last_seen=T0,
                confidence=60,
            ),
            row(
                3,
                "198.51.100.7",
                tags=("botnet",),
                malware_family="Emotet",
                first_seen=day(20),
                last_seen=day(2),
                confidence=30,
            ),
            row(4, "d41d8cd98f00b204e9800998ecf8427e", first_seen=day(1), last_seen=day(1)),
        ],
    )
    ingest(
        database,
        source=beta,
        feed=FeedRef(id=feed_id, default_confidence=None),
        rows=[
            row(1, "198.51.100.7", first_seen=day(15), last_seen=day(2)),
            row(
                2,
                "bad.example.net",
                tags=("botnet",),
                first_seen=day(3),
                last_seen=day(3),
                confidence=50,
            ),
            row(3, "203.0.113.9", tags=("Botnet",), first_seen=day(30), last_seen=day(30)),
        ],
    )
    return Seeded(alpha, beta, feed_id)


def found(database: Database, **filters: Any) -> set[str]:
    """The values of every indicator a search with these filters finds."""
    with database.transaction(readonly=True) as session:
        page = search_indicators(session, limit=500, **filters)
        assert page.total == len(page.items)
        return {i.indicator_value for i in page.items}


def refused(database: Database, **filters: Any) -> Invalid:
    with database.transaction(readonly=True) as session, pytest.raises(Invalid) as caught:
        search_indicators(session, **filters)
    return caught.value


# --- filters ---------------------------------------------------------------------------------


def test_source_keeps_the_indicators_it_reported_by_name_in_any_case_or_by_id(db: Database):
    seeded = seed(db)
    by_alpha = {
        "evil.example.org",
        "http://evil.example.org/Gate.php",
        "198.51.100.7",
        "d41d8cd98f00b204e9800998ecf8427e",
    }
    assert found(db, source="Alpha") == by_alpha
    assert found(db, source="alpha") == by_alpha
    assert found(db, source=str(seeded.alpha.id)) == by_alpha
    assert found(db, source="beta") == {"198.51.100.7", "bad.example.net", "203.0.113.9"}


def test_feed_keeps_the_indicators_it_reported_by_name_or_id(db: Database):
    seeded = seed(db)
    by_feed = {"198.51.100.7", "bad.example.net", "203.0.113.9"}
    assert found(db, feed="beta list") == by_feed
    assert found(db, feed=str(seeded.feed_id)) == by_feed
    assert found(db, feed="Beta List", source="Alpha") == {"198.51.100.7"}


def test_an_unknown_source_or_feed_is_refused_rather_than_an_empty_page(db: Database):
    seed(db)
    unknown_source = refused(db, source="gamma")
    assert unknown_source.field == "source" and "'gamma'" in unknown_source.reason
    assert refused(db, source=str(uuid.uuid4())).field == "source"
    assert refused(db, feed="no such feed").field == "feed"


def test_every_tag_given_must_be_on_the_indicator_exactly(db: Database):
    seed(db)
    assert found(db, tags=["botnet"]) == {"evil.example.org", "198.51.100.7", "bad.example.net"}
    assert found(db, tags="botnet") == found(db, tags=["botnet"])
    assert found(db, tags=["botnet", "tlp:green"]) == {"evil.example.org"}
    assert found(db, tags=["Botnet"]) == {"203.0.113.9"}
    assert found(db, tags=["botnet", "phishing"]) == set()
    assert refused(db, tags=["botnet", "  "]).field == "tag"
    assert refused(db, tags=[f"t{i}" for i in range(21)]).field == "tag"


def test_an_analysts_tag_is_found_like_a_feeds(db: Database):
    seed(db)
    with db.transaction() as session:
        update_indicator(session, actor=SYSTEM, key="bad.example.net", changes={"tags_add": ["x"]})
    assert found(db, tags=["x"]) == {"bad.example.net"}
    assert found(db, tags=["x", "botnet"]) == {"bad.example.net"}


def test_malware_family_keeps_the_indicators_tied_to_it(db: Database):
    seed(db)
    assert found(db, malware_family="Qakbot") == {"evil.example.org"}
    assert found(db, malware_family="Emotet", tags=["botnet"]) == {"198.51.100.7"}
    assert found(db, malware_family="qakbot") == set()


def test_seen_ranges_include_their_start_and_exclude_their_end(db: Database):
    seed(db)
    assert found(db, first_seen_after=day(10)) == {
        "evil.example.org",
        "http://evil.example.org/Gate.php",
        "d41d8cd98f00b204e9800998ecf8427e",
        "bad.example.net",
    }
    # The earliest report wins: alpha saw 198.51.100.7 twenty days before, beta fifteen.
    assert found(db, first_seen_before=day(10)) == {"198.51.100.7", "203.0.113.9"}
    assert found(db, first_seen_after=day(20), first_seen_before=day(19)) == {"198.51.100.7"}
    assert found(db, last_seen_after=day(2), last_seen_before=T0) == {
        "evil.example.org",
        "198.51.100.7",
        "d41d8cd98f00b204e9800998ecf8427e",
    }
    # A naive time is UTC, as stored.
    assert found(db, last_seen_after=T0.replace(tzinfo=None)) == {
        "http://evil.example.org/Gate.php"
    }


def test_q_finds_values_by_their_start_defanged_or_not(db: Database):
    seed(db)
    url = "http://evil.example.org/Gate.php"
    assert found(db, q="EVIL.") == {"evil.example.org"}
    assert found(db, q="evil[.]") == {"evil.example.org"}
    assert found(db, q="hxxp://evil[.]example[.]org") == {url}
    # A whole URL keeps the case of its path, which a lower-cased prefix would miss.
    assert found(db, q="hXXp://EVIL[.]example[.]org/Gate.php") == {url}
    assert found(db, q="198[.]51[.]100[.]") == {"198.51.100.7"}
    # Wildcards of LIKE are plain characters here.
    assert found(db, q="%") == set()
    assert found(db, q="evil_example") == set()
    assert len(found(db, q="   ")) == 6


# --- sort and pages --------------------------------------------------------------------------

FIELDS = {
    "updated": "updated_at",
    "last_seen": "last_seen_at",
    "first_seen": "first_seen_at",
    "threat_score": "threat_score",
    "confidence": "confidence_score",
}


def seed_with_gaps(database: Database) -> None:
    """The six of :func:`seed` and ten hosts seen together (ties everywhere), some of them
    missing a time or a score: the columns allow NULL, though ingestion always fills them."""
    seeded = seed(database)
    hosts = [f"host{i}.example.com" for i in range(10)]
    ingest(
        database,
        source=seeded.alpha,
        rows=[
            row(i + 1, h, first_seen=day(4), last_seen=day(4), confidence=50)
            for i, h in enumerate(hosts)
        ],
    )
    gaps: dict[str, dict[str, Any]] = {
        hosts[0]: {"last_seen_at": None},
        hosts[1]: {"last_seen_at": None, "first_seen_at": None},
        hosts[2]: {"first_seen_at": None},
        hosts[3]: {"threat_score": None, "confidence_score": None},
        hosts[4]: {"threat_score": None},
        hosts[5]: {"confidence_score": None, "updated_at": None},
        hosts[6]: {"updated_at": None},
    }
    with database.transaction() as session:
        for value, nulls in gaps.items():
            session.execute(
                update(ThreatIndicator)
                .where(ThreatIndicator.indicator_value == value)
                .values(**nulls)
            )


def expected_order(database: Database, sort: str, **filters: Any) -> list[uuid.UUID]:
    """The order ``sort`` promises, worked out here: by the value, then the id, in the same
    direction; rows missing the value last."""
    field = FIELDS[sort.removeprefix("-")]
    descending = sort.startswith("-")
    with database.transaction(readonly=True) as session:
        ids = {i.id for i in search_indicators(session, limit=500, **filters).items}
        rows = [r for r in session.scalars(select(ThreatIndicator)) if r.id in ids]
    present = [r for r in rows if getattr(r, field) is not None]
    missing = [r for r in rows if getattr(r, field) is None]
    present.sort(key=lambda r: (getattr(r, field), r.id), reverse=descending)
    missing.sort(key=lambda r: r.id, reverse=descending)
    return [r.id for r in present + missing]


def walk(database: Database, sort: str, limit: int, **filters: Any) -> list[uuid.UUID]:
    """Every id a client paging with the cursor sees, in order."""
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        with database.transaction(readonly=True) as session:
            page = search_indicators(session, sort=sort, limit=limit, cursor=cursor, **filters)
        seen.extend(i.id for i in page.items)
        assert len(seen) <= page.total, f"{sort}: more rows than the {page.total} matching"
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_every_sort_pages_through_every_row_once_in_order_missing_values_last(db: Database):
    seed_with_gaps(db)
    for sort in SORTS:
        expected = expected_order(db, sort)
        assert len(expected) == 16
        field = FIELDS[sort.removeprefix("-")]
        with db.transaction(readonly=True) as session:
            missing = session.scalar(
                select(ThreatIndicator.id).where(getattr(ThreatIndicator, field).is_(None))
            )
        assert missing is not None and expected[-1] is not None, sort
        for limit in (1, 3, 16, 500):
            assert walk(db, sort, limit) == expected, f"sort={sort} limit={limit}"


def test_sorted_pages_of_a_filtered_search_hold_only_its_rows(db: Database):
    seed_with_gaps(db)
    for sort in ("-threat_score", "first_seen", "-last_seen"):
        expected = expected_order(db, sort, tags=["botnet"])
        assert len(expected) == 3
        assert walk(db, sort, 1, tags=["botnet"]) == expected


def test_scores_sort_as_numbers(db: Database):
    seed(db)
    with db.transaction(readonly=True) as session:
        page = search_indicators(session, sort="-threat_score", limit=500)
    scores = [i.threat_score for i in page.items]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) > 2  # the seed gives different confidences, hence scores


def test_the_default_order_is_most_recently_changed_first(db: Database):
    seed_with_gaps(db)
    with db.transaction(readonly=True) as session:
        default = [i.id for i in search_indicators(session, limit=500).items]
    assert default == expected_order(db, "-updated")


def test_a_cursor_pages_on_only_through_the_order_it_was_issued_for(db: Database):
    seed(db)
    with db.transaction(readonly=True) as session:
        cursor = search_indicators(session, sort="-threat_score", limit=2).next_cursor
    assert cursor
    assert refused(db, sort="threat_score", cursor=cursor).field == "cursor"
    assert refused(db, sort="-confidence", cursor=cursor).field == "cursor"


def forged(*values: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


FORGED = [
    ("-updated", "not a cursor"),
    ("-updated", "WyIiLCIiXQ"),
    ("-updated", forged("-updated", "2024-01-01T00:00:00+00:00")),
    ("-last_seen", forged("-last_seen", "0001-01-01T00:00:00+14:00", str(uuid.uuid4()))),
    ("-last_seen", forged("-last_seen", "yesterday", str(uuid.uuid4()))),
    ("-threat_score", forged("-threat_score", "1e999999", str(uuid.uuid4()))),
    ("-threat_score", forged("-threat_score", "NaN", str(uuid.uuid4()))),
    ("-threat_score", forged("-threat_score", "None", str(uuid.uuid4()))),
    ("confidence", forged("confidence", "50", "not-a-uuid")),
]


def test_a_forged_cursor_is_refused(db: Database):
    for sort, cursor in FORGED:
        assert refused(db, sort=sort, cursor=cursor).field == "cursor", (sort, cursor)


def test_an_unknown_sort_is_refused(db: Database):
    for sort in ("bogus", "--updated", "updated_at", ""):
        assert refused(db, sort=sort).field == "sort"


def test_the_api_offers_exactly_the_sorts_the_service_knows():
    assert {s.value for s in IndicatorSort} == set(SORTS)


# --- over HTTP -------------------------------------------------------------------------------

NEW_PARAMETERS = {
    "sort",
    "source",
    "feed",
    "tag",
    "malware_family",
    "first_seen_after",
    "first_seen_before",
    "last_seen_after",
    "last_seen_before",
}


def test_the_search_parameters_are_documented(api):
    document = api.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/indicators"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) >= NEW_PARAMETERS
    for name in NEW_PARAMETERS | {"q", "type"}:
        assert parameters[name].get("description"), name
    assert parameters["seen_after"].get("deprecated") is True
    sort = parameters["sort"]["schema"]
    if "$ref" in sort:
        sort = document["components"]["schemas"][sort["$ref"].rsplit("/", 1)[-1]]
    assert set(sort["enum"]) == set(SORTS)
    assert parameters["tag"]["schema"]["anyOf"][0]["type"] == "array"


def test_search_over_http_filters_sorts_and_pages(api):
    seed(api.database)
    api.login_as("vic", "viewer")
    answer = api.get(
        "/api/v1/indicators",
        params=[("source", "alpha"), ("tag", "botnet"), ("sort", "-threat_score")],
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["indicator_value"] for i in items] == ["evil.example.org", "198.51.100.7"]
    both = api.get("/api/v1/indicators", params=[("tag", "botnet"), ("tag", "tlp:green")])
    assert [i["indicator_value"] for i in both.json()["items"]] == ["evil.example.org"]
    ranged = api.get(
        "/api/v1/indicators",
        params={
            "first_seen_after": day(20).isoformat(),
            "first_seen_before": day(4).isoformat(),
            "feed": "Beta List",
        },
    )
    assert {i["indicator_value"] for i in ranged.json()["items"]} == {"198.51.100.7"}
    defanged = api.get("/api/v1/indicators", params={"q": "hxxp://evil[.]example[.]org/Gate"})
    assert [i["indicator_value"] for i in defanged.json()["items"]] == [
        "http://evil.example.org/Gate.php"
    ]

    seen: list[str] = []
    params: dict[str, Any] = {"sort": "first_seen", "limit": 2}
    while True:
        page = api.get("/api/v1/indicators", params=params).json()
        seen.extend(i["indicator_value"] for i in page["items"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [
        "203.0.113.9",
        "198.51.100.7",
        "evil.example.org",
        "http://evil.example.org/Gate.php",
        "bad.example.net",
        "d41d8cd98f00b204e9800998ecf8427e",
    ]


def test_the_former_last_seen_names_still_work_but_not_beside_the_new_ones(api):
    seed(api.database)
    api.login_as("vic", "viewer")
    old = api.get("/api/v1/indicators", params={"seen_after": day(2).isoformat()}).json()
    new = api.get("/api/v1/indicators", params={"last_seen_after": day(2).isoformat()}).json()
    assert old["total"] == new["total"] == 4
    clash = api.get(
        "/api/v1/indicators",
        params={"seen_before": T0.isoformat(), "last_seen_before": T0.isoformat()},
    )
    assert clash.status_code == 422
    assert clash.json()["field"] == "seen_before"


def test_bad_search_parameters_are_problems_a_person_can_act_on(api):
    seed(api.database)
    api.login_as("vic", "viewer")
    unknown = api.get("/api/v1/indicators", params={"source": "gamma"})
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["field"] == "source" and "gamma" in unknown.json()["detail"]
    assert api.get("/api/v1/indicators", params={"feed": "nope"}).status_code == 422
    assert api.get("/api/v1/indicators", params={"sort": "-bogus"}).status_code == 422
    cursor = api.get("/api/v1/indicators", params={"limit": 1}).json()["next_cursor"]
    other = api.get("/api/v1/indicators", params={"sort": "last_seen", "cursor": cursor})
    assert other.status_code == 422 and other.json()["field"] == "cursor"
    far = api.get("/api/v1/indicators", params={"first_seen_after": "0001-01-01T00:00:00+14:00"})
    assert far.status_code == 422
