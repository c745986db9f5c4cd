"""Entity resolution: one row per type and normalised name, with every source, first and last
seen, indicator links both ways round, and bounded co-occurrence edges."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from entity_support import IOC_ONLY, Investigation, post
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from detection_support import seed_indicators
from krsn.db import Database
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.normalise import hash_signature
from krsn.osint.collectors.base import Collected, Observed, ObservedRelation
from krsn.osint.entities.names import fold, organisation_key, resolution_key
from krsn.osint.entities.processing import MAX_PAIRS, WINDOW
from krsn.osint.entities.resolution import link_indicators
from krsn.osint.items.store import store_collected
from krsn.osint.models import (
    EdgeRelation,
    EntityRelationship,
    EntitySource,
    EntityType,
    NodeKind,
    RelationshipType,
)

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sources_of(database: Database, entity_id: object) -> list[EntitySource]:
    with database.transaction(readonly=True) as session:
        return list(
            session.scalars(select(EntitySource).where(EntitySource.entity_id == entity_id))
        )


def edges(database: Database, **where: object) -> list[EntityRelationship]:
    with database.transaction(readonly=True) as session:
        statement = select(EntityRelationship)
        for name, value in where.items():
            statement = statement.where(getattr(EntityRelationship, name) == value)
        return list(session.scalars(statement))


def test_the_same_domain_from_two_items_is_one_entity_with_two_sources(
    investigation: Investigation,
) -> None:
    investigation.store(post("Phishing kit hosted on login-acme.com today."))
    investigation.store(post("Still up: login-acme.com serves the kit."))

    domains = investigation.entities(EntityType.DOMAIN)
    assert [d.normalized_name for d in domains] == ["login-acme.com"]
    links = sources_of(investigation.database, domains[0].id)
    assert len(links) == 2
    assert {link.extraction_method for link in links} == {"regex"}
    assert all(0 < float(link.confidence) <= 1 for link in links)


def test_first_and_last_seen_span_every_sighting(investigation: Investigation) -> None:
    investigation.store(post("c2 at 198.51.100.23", key="a"), now=MONDAY)
    investigation.store(post("again 198.51.100.23", key="b"), now=MONDAY + timedelta(days=3))
    investigation.store(post("once more 198.51.100.23", key="c"), now=MONDAY + timedelta(days=1))

    address = investigation.entity(EntityType.IP_ADDRESS, "198.51.100.23")
    assert address.first_seen == MONDAY
    assert address.last_seen == MONDAY + timedelta(days=3)


def test_a_defanged_value_resolves_to_the_same_entity_as_the_clean_one(
    investigation: Investigation,
) -> None:
    investigation.store(
        post("Beacon to hxxps://evil[.]example[.]com/gate.php and evil[.]example.com")
    )
    investigation.store(
        Collected(
            item_type="dns_record",
            raw={"name": "EVIL.example.com."},
            entities=[Observed(EntityType.DOMAIN, "EVIL.example.com.")],
        )
    )

    domains = investigation.entities(EntityType.DOMAIN)
    assert [d.normalized_name for d in domains] == ["evil.example.com"]
    assert len(sources_of(investigation.database, domains[0].id)) == 2
    urls = investigation.entities(EntityType.URL)
    assert [u.normalized_name for u in urls] == ["https://evil.example.com/gate.php"]


def test_organisations_resolve_across_suffixes_case_and_diacritics(
    investigation: Investigation,
) -> None:
    for index, name in enumerate(
        ["Société Générale S.A.", "SOCIETE GENERALE", "Societe  Generale, SA"]
    ):
        investigation.store(
            Collected(
                item_type="sanction_entry",
                raw={"n": index},
                entities=[Observed(EntityType.ORGANIZATION, name)],
            )
        )
    investigation.store(
        Collected(
            item_type="company",
            raw={"n": "acme"},
            entities=[
                Observed(EntityType.ORGANIZATION, "Acme Corp."),
                Observed(EntityType.ORGANIZATION, "ACME, Inc"),
                Observed(EntityType.ORGANIZATION, "Acme Holdings GmbH"),
            ],
        )
    )

    names = [e.normalized_name for e in investigation.entities(EntityType.ORGANIZATION)]
    assert names == ["acme", "acme holdings", "societe generale"]
    generale = investigation.entity(EntityType.ORGANIZATION, "societe generale")
    assert generale.name == "Société Générale S.A."  # the first spelling seen
    assert len(sources_of(investigation.database, generale.id)) == 3


def test_people_resolve_across_case_whitespace_and_accents() -> None:
    one = resolution_key(EntityType.PERSON, "  José   Álvarez ")
    two = resolution_key(EntityType.PERSON, "JOSE ALVAREZ")
    assert one is not None and two is not None
    assert one.key == two.key == "jose alvarez"
    assert one.name == "José Álvarez"


@given(st.text(max_size=40))
def test_folding_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)
    assert organisation_key(organisation_key(text)) == organisation_key(text) or not fold(text)


def test_an_entity_links_to_an_indicator_that_already_exists(
    db: Database, investigation: Investigation
) -> None:
    seed_indicators(db, ["evil.example.com"])
    investigation.store(post("C2 evil[.]example.com seen"))

    domain = investigation.entity(EntityType.DOMAIN, "evil.example.com")
    with db.transaction(readonly=True) as session:
        indicator = session.scalars(select(ThreatIndicator)).one()
    assert domain.indicator_id == indicator.id
    same_as = edges(db, type=RelationshipType.SAME_AS)
    assert [(e.source_id, e.target_kind, e.target_id) for e in same_as] == [
        (str(domain.id), NodeKind.INDICATOR, str(indicator.id))
    ]


def test_an_indicator_ingested_later_links_the_entity(
    db: Database, investigation: Investigation
) -> None:
    investigation.store(post("Mail from attacker@bad-mail.example.net"))
    assert (
        investigation.entity(EntityType.EMAIL, "attacker@bad-mail.example.net").indicator_id is None
    )

    # Through the ingestion pipeline, which links what it stores.
    seed_indicators(db, ["ATTACKER@bad-mail.example.net"])

    email = investigation.entity(EntityType.EMAIL, "attacker@bad-mail.example.net")
    with db.transaction() as session:
        indicator_id = session.scalars(select(ThreatIndicator.id)).one()
        again = link_indicators(session, indicator_ids=[indicator_id])
    assert email.indicator_id == indicator_id
    assert email.risk_score > 0  # the indicator's score now counts
    assert again == set()  # already linked: nothing new


def test_linking_an_indicator_stored_without_the_pipeline(
    db: Database, investigation: Investigation
) -> None:
    investigation.store(post("Mail from attacker@bad-mail.example.net"))
    with db.transaction() as session:
        indicator_id = uuid.uuid4()
        session.execute(
            insert(ThreatIndicator).values(
                id=indicator_id,
                indicator_type=IndicatorType.EMAIL,
                indicator_value="attacker@bad-mail.example.net",
                hash_signature=hash_signature(IndicatorType.EMAIL, "attacker@bad-mail.example.net"),
                threat_score=80,
            )
        )
        linked = link_indicators(session, indicator_ids=[indicator_id])

    email = investigation.entity(EntityType.EMAIL, "attacker@bad-mail.example.net")
    assert linked == {email.id}
    assert email.indicator_id == indicator_id


def test_collected_from_edges_point_at_the_source_once_per_collection(
    investigation: Investigation,
) -> None:
    investigation.store(post("ns1.evil-dns.example.com", key="1"))
    investigation.store(post("ns1.evil-dns.example.com again", key="2"))

    domain = investigation.entity(EntityType.DOMAIN, "ns1.evil-dns.example.com")
    collected = edges(investigation.database, relation=EdgeRelation.COLLECTED_FROM)
    assert [(e.source_id, e.target_kind, e.target_id, e.collection_id) for e in collected] == [
        (str(domain.id), NodeKind.SOURCE, str(investigation.source_id), investigation.collection_id)
    ]


def test_observed_relations_become_typed_edges(investigation: Investigation) -> None:
    investigation.store(
        Collected(
            item_type="dns_record",
            raw={"name": "shop.example.com", "a": ["192.0.2.10"]},
            entities=[Observed(EntityType.DOMAIN, "shop.example.com")],
            relations=[
                ObservedRelation(
                    (EntityType.DOMAIN, "shop.example.com"),
                    (EntityType.IP_ADDRESS, "192.0.2.10"),
                    RelationshipType.RESOLVES_TO,
                    properties={"record": "A"},
                )
            ],
        )
    )
    domain = investigation.entity(EntityType.DOMAIN, "shop.example.com")
    address = investigation.entity(EntityType.IP_ADDRESS, "192.0.2.10")
    (edge,) = edges(investigation.database, type=RelationshipType.RESOLVES_TO)
    assert (edge.source_id, edge.target_id) == (str(domain.id), str(address.id))
    assert edge.source == "collector:news"
    assert edge.properties["record"] == "A"
    assert sources_of(investigation.database, address.id)[0].extraction_method == "collector:news"


def test_entities_mentioned_close_together_are_associated_with_evidence(
    investigation: Investigation,
) -> None:
    text = (
        "The loader fetched 203.0.113.50 and then evil-cdn.example.com.\n\n"
        "Unrelated paragraph about 198.51.100.99."
    )
    result = investigation.store(post(text))

    near = investigation.entity(EntityType.IP_ADDRESS, "203.0.113.50")
    cdn = investigation.entity(EntityType.DOMAIN, "evil-cdn.example.com")
    associated = edges(investigation.database, type=RelationshipType.ASSOCIATED_WITH)
    assert len(associated) == 1  # the other paragraph's address is not associated
    edge = associated[0]
    assert {edge.source_id, edge.target_id} == {str(near.id), str(cdn.id)}
    assert edge.properties["item_id"] == str(result.new_item_ids[0])
    assert "203.0.113.50 and then evil-cdn.example.com" in edge.properties["snippet"]
    assert 0 < float(edge.confidence) <= 0.7


def test_co_occurrence_is_bounded_by_distance_and_per_item(investigation: Investigation) -> None:
    far = "10.0.0.1" + " filler" * (WINDOW // 5) + " 192.0.2.200"
    many = " ".join(f"198.51.100.{n}" for n in range(1, 80))
    investigation.store(post(far, key="far"), post(many, key="many"))

    associated = edges(investigation.database, type=RelationshipType.ASSOCIATED_WITH)
    assert len(associated) == MAX_PAIRS
    far_ids = {
        str(investigation.entity(EntityType.IP_ADDRESS, v).id) for v in ("10.0.0.1", "192.0.2.200")
    }
    assert not any({e.source_id, e.target_id} == far_ids for e in associated)


def test_items_processed_twice_never_duplicate_sources(
    db: Database, investigation: Investigation
) -> None:
    record = post("repeat 203.0.113.77")
    investigation.store(record)
    investigation.store(record)
    with db.transaction(readonly=True) as session:
        count = session.scalar(select(func.count()).select_from(EntitySource))
    assert count == 1


@pytest.mark.parametrize("value", ["not a domain", "localhost", ""])
def test_values_that_are_not_of_their_type_make_no_entity(value: str) -> None:
    assert resolution_key(EntityType.DOMAIN, value) is None


def test_two_transactions_finding_the_same_new_entity_make_one_row(
    investigation: Investigation,
) -> None:
    database = investigation.database
    stored = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def store(text: str, *, hold: bool) -> None:
        try:
            with database.transaction() as session:
                store_collected(
                    session,
                    collection_id=investigation.collection_id,
                    source_id=investigation.source_id,
                    records=[post(text)],
                    extractor=IOC_ONLY,
                )
                if hold:
                    stored.set()
                    release.wait(10)
        except BaseException as error:  # handed to the test thread
            errors.append(error)
            stored.set()

    one = threading.Thread(
        target=store, args=("first sight of fresh-c2.example.com",), kwargs={"hold": True}
    )
    one.start()
    assert stored.wait(10)
    two = threading.Thread(
        target=store, args=("fresh-c2.example.com again",), kwargs={"hold": False}
    )
    two.start()
    time.sleep(0.3)
    release.set()
    one.join(10)
    two.join(10)

    assert errors == []
    domains = investigation.entities(EntityType.DOMAIN)
    assert [d.normalized_name for d in domains] == ["fresh-c2.example.com"]
    assert len(sources_of(database, domains[0].id)) == 2


def test_a_pair_the_collector_related_gets_no_co_occurrence_edge_too(
    investigation: Investigation,
) -> None:
    investigation.store(
        Collected(
            item_type="dns_record",
            raw={"name": "relay.example.com", "A": "203.0.113.44"},
            text="relay.example.com. 3600 IN A 203.0.113.44",
            relations=[
                ObservedRelation(
                    (EntityType.DOMAIN, "relay.example.com"),
                    (EntityType.IP_ADDRESS, "203.0.113.44"),
                    RelationshipType.RESOLVES_TO,
                )
            ],
        )
    )

    related = edges(investigation.database, relation=EdgeRelation.RELATED_TO)
    assert [e.type for e in related] == [RelationshipType.RESOLVES_TO]
