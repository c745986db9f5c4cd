"""Search on both engines, through the service, over rows written in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from search_support import add_document, add_entities, add_entity
from sqlalchemy import delete, update

from detection_support import seed_indicators
from krsn.db import Database
from krsn.identity.audit import Actor, record
from krsn.osint.models import Entity, EntityType
from krsn.osint.search import service
from krsn.osint.search.schemas import MatchKind, SearchIndex

ENTITIES = (SearchIndex.ENTITIES,)
DOCUMENTS = (SearchIndex.DOCUMENTS,)


def titles(db: Database, q: str, **options: object) -> list[str]:
    with db.transaction(readonly=True) as session:
        return [hit.title for hit in service.search(session, q=q, **options).items]  # type: ignore[arg-type]


@pytest.fixture
def corpus(db: Database) -> Database:
    with db.transaction() as session:
        add_entities(
            session,
            [
                {"name": "evil.example.com", "risk_score": 80, "tags": ["apt29"]},
                {"name": "login.evil.example.com", "risk_score": 60},
                {"name": "example.org", "risk_score": 10},
                {"name": "alice@corp.example", "entity_type": EntityType.EMAIL},
                {"name": "198.51.100.7", "entity_type": EntityType.IP_ADDRESS},
                {"name": "198.51.100.70", "entity_type": EntityType.IP_ADDRESS},
                {
                    "name": "https://cdn.badhost.net/gate.php?id=1",
                    "entity_type": EntityType.URL,
                },
                {"name": "Evilcorp Holdings", "entity_type": EntityType.ORGANIZATION},
            ],
        )
        add_document(
            session,
            "Analysts saw the loader beacon to evil.example.com every hour.",
            source="blog",
        )
        add_document(
            session, "The quarterly report mentions no loader at all.", document_type="report"
        )
        add_document(session, "Beacon traffic loader then exfiltration.", source="feed")
    return db


def test_each_index_finds_what_its_own_transaction_wrote(db: Database) -> None:
    seed_indicators(db, ["203.0.113.9", "malware-drop.example.net"])
    with db.transaction() as session:
        add_entity(session, "zephyrhost.example")
        add_document(session, "a note about zephyrhost traffic")
        record(session, actor=Actor.system(), action="zephyr.created", resource_type="zephyr")
        found = {
            index: [h.title for h in service.search(session, q="zephyr*", indices=[index]).items]
            for index in SearchIndex
        }
        dropped = service.search(session, q="drop", indices=[SearchIndex.INDICATORS]).items
    assert found[SearchIndex.ENTITIES] == ["zephyrhost.example"]
    assert found[SearchIndex.DOCUMENTS] == ["article"]
    assert found[SearchIndex.AUDIT_LOGS] == ["zephyr.created"]
    assert [h.title for h in dropped] == ["malware-drop.example.net"]


def test_rolled_back_rows_are_not_found(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        add_entity(session, "ghost.example.com")
        add_document(session, "ghost story")
        raise RuntimeError("abort")
    assert titles(db, "ghost") == []


def test_updated_and_deleted_entities_follow_in_the_index(db: Database) -> None:
    with db.transaction() as session:
        entity_id = add_entity(session, "old-name.example.com")
    with db.transaction() as session:
        session.execute(
            update(Entity)
            .where(Entity.id == entity_id)
            .values(name="fresh-name.example.com", normalized_name="fresh-name.example.com")
        )
    assert titles(db, "fresh", indices=ENTITIES) == ["fresh-name.example.com"]
    assert titles(db, "old", indices=ENTITIES) == []
    with db.transaction() as session:
        session.execute(delete(Entity).where(Entity.id == entity_id))
    assert titles(db, "fresh", indices=ENTITIES) == []


@pytest.mark.parametrize("label", ["evil", "example", "com", "EVIL"])
def test_a_domain_is_found_by_any_of_its_labels(corpus: Database, label: str) -> None:
    assert "evil.example.com" in titles(corpus, label, indices=ENTITIES)


@pytest.mark.parametrize("part", ["alice", "corp.example", "alice@corp.example"])
def test_an_email_is_found_by_its_local_part_or_domain(corpus: Database, part: str) -> None:
    assert "alice@corp.example" in titles(corpus, part, indices=ENTITIES)


def test_an_ip_is_found_whole_and_first(corpus: Database) -> None:
    found = titles(corpus, "198.51.100.7", indices=ENTITIES)
    assert found[0] == "198.51.100.7"
    assert "198.51.100.70" not in found[:1]


def test_a_url_is_found_by_its_host(corpus: Database) -> None:
    assert titles(corpus, "cdn.badhost.net", indices=ENTITIES) == [
        "https://cdn.badhost.net/gate.php?id=1"
    ]


def test_prefix_finds_names_starting_with_it(corpus: Database) -> None:
    found = titles(corpus, "evi*", indices=ENTITIES)
    assert set(found) == {"evil.example.com", "login.evil.example.com", "Evilcorp Holdings"}


def test_a_substring_of_a_name_is_found(corpus: Database) -> None:
    with corpus.transaction(readonly=True) as session:
        hits = service.search(session, q="ilcor", indices=ENTITIES).items
    assert [(h.title, h.match) for h in hits] == [("Evilcorp Holdings", MatchKind.SUBSTRING)]
    assert [f.text for f in hits[0].fragments if f.match] == ["ilcor"]


def test_a_mistyped_name_is_still_found(corpus: Database) -> None:
    with corpus.transaction(readonly=True) as session:
        hits = service.search(session, q="evilcrop", indices=ENTITIES).items
    assert "Evilcorp Holdings" in [h.title for h in hits if h.match is MatchKind.FUZZY]


def test_the_exact_name_ranks_first(corpus: Database) -> None:
    found = titles(corpus, "evil.example.com", indices=ENTITIES)
    assert found[:2] == ["evil.example.com", "login.evil.example.com"]


def test_a_defanged_value_finds_its_canonical_entity(corpus: Database) -> None:
    assert titles(corpus, "evil[.]example[.]com", indices=ENTITIES)[0] == "evil.example.com"


def test_a_phrase_needs_its_words_in_order(corpus: Database) -> None:
    assert titles(corpus, '"beacon traffic"', indices=DOCUMENTS) == ["feed"]
    assert titles(corpus, '"traffic beacon"', indices=DOCUMENTS) == []


def test_words_are_all_required_and_minus_excludes(corpus: Database) -> None:
    assert sorted(titles(corpus, "loader beacon", indices=DOCUMENTS)) == ["blog", "feed"]
    assert titles(corpus, "loader -beacon", indices=DOCUMENTS) == ["report"]
    assert titles(corpus, "loader -evil.example.com", indices=DOCUMENTS) == ["report", "feed"] or (
        sorted(titles(corpus, "loader -evil.example.com", indices=DOCUMENTS)) == ["feed", "report"]
    )


def test_filters_by_type_tag_risk_and_date(corpus: Database) -> None:
    assert titles(corpus, "example", indices=ENTITIES, tag="apt29") == ["evil.example.com"]
    assert set(titles(corpus, "example", indices=ENTITIES, min_risk=50)) == {
        "evil.example.com",
        "login.evil.example.com",
    }
    assert titles(corpus, "example", indices=ENTITIES, max_risk=20, type="domain") == [
        "example.org"
    ]
    assert titles(corpus, "alice", type="domain") == []
    future = datetime.now(UTC) + timedelta(days=1)
    assert titles(corpus, "example", since=future) == []
    assert "evil.example.com" in titles(corpus, "example", until=future, indices=ENTITIES)
    # Documents carry no risk score: a risk filter leaves them out.
    assert titles(corpus, "loader", min_risk=1) == []


def test_indicator_filters_read_tags_and_threat_score(db: Database) -> None:
    seed_indicators(db, ["bad-one.example.net"], severity_tags=("botnet",))
    seed_indicators(db, ["bad-two.example.net"], source="other")
    assert titles(db, "bad*", indices=[SearchIndex.INDICATORS], tag="botnet") == [
        "bad-one.example.net"
    ]
    assert titles(db, "bad*", indices=[SearchIndex.INDICATORS], min_risk=101) == []


def test_highlights_escape_html_and_mark_the_words(db: Database) -> None:
    with db.transaction() as session:
        add_document(session, "<script>alert(1)</script> payload at evil.example.com & more")
        hits = service.search(session, q="payload", indices=DOCUMENTS).items
    assert "<script>" not in hits[0].snippet
    assert "&lt;script&gt;" in hits[0].snippet
    assert "<mark>payload</mark>" in hits[0].snippet
    assert "&amp; more" in hits[0].snippet


HOSTILE = [
    '"',
    '""',
    "*",
    "**",
    "-",
    "NEAR(",
    "NEAR(a b, 2)",
    ":",
    "name:evil",
    "'",
    "\\",
    '"unbalanced quote',
    "evil OR",
    "AND",
    "a & b | !c <-> d:*",
    "(",
    ")",
    "^evil",
    "evil\x00com",
    "x" * 10_000,
    "evil " * 2_000,
    "-evil",
    "%_%",
    "e*",
]


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_never_error(corpus: Database, q: str) -> None:
    with corpus.transaction(readonly=True) as session:
        result = service.search(session, q=q)
    assert result.total_estimate >= 0


def test_ranking_is_bounded_and_says_so(db: Database) -> None:
    with db.transaction() as session:
        add_entities(
            session, [{"name": f"host{i}.common.example"} for i in range(service.CANDIDATES + 50)]
        )
    with db.transaction(readonly=True) as session:
        common = service.search(session, q="common", indices=ENTITIES, limit=5)
        rare = service.search(session, q="host7", indices=ENTITIES, limit=5)
    assert common.approximate
    assert common.ranked_of == service.CANDIDATES
    assert common.total_estimate >= service.CANDIDATES
    assert len(common.items) == 5
    assert not rare.approximate
    assert rare.items[0].title == "host7.common.example"


def test_limit_out_of_range_is_invalid(db: Database) -> None:
    from krsn.errors import Invalid

    with db.transaction(readonly=True) as session, pytest.raises(Invalid):
        service.search(session, q="x", limit=0)
