"""Analysts merge and split entities; both are audited and keep the graph consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from entity_support import Investigation
from sqlalchemy import select

from krsn.db import Database
from krsn.enrichment.models import EnrichmentType
from krsn.enrichment.service import add_enrichment
from krsn.errors import Conflict, Invalid
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.osint.collectors.base import Collected, Observed, ObservedRelation
from krsn.osint.entities import service
from krsn.osint.models import (
    Entity,
    EntityRelationship,
    EntitySource,
    EntityType,
    RelationshipType,
    RiskScore,
)

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def org(name: str, *, key: str, with_ip: str | None = None) -> Collected:
    """A company record; with an address, the record says the company controls it."""
    relations = (
        [
            ObservedRelation(
                (EntityType.ORGANIZATION, name),
                (EntityType.IP_ADDRESS, with_ip),
                RelationshipType.CONTROLS,
            )
        ]
        if with_ip
        else []
    )
    return Collected(
        item_type="company",
        raw={"k": key},
        hash_basis=key,
        entities=[Observed(EntityType.ORGANIZATION, name)],
        relations=relations,
    )


def audit_actions(database: Database, resource_id: object) -> list[AuditLog]:
    with database.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(AuditLog)
                .where(AuditLog.resource_id == str(resource_id))
                .order_by(AuditLog.created_at)
            )
        )


def test_merge_moves_sources_edges_enrichments_and_history_to_the_survivor(
    db: Database, investigation: Investigation
) -> None:
    investigation.store(org("Fancy Bear", key="a", with_ip="203.0.113.9"), now=MONDAY)
    investigation.store(
        org("APT28", key="b", with_ip="198.51.100.4"), now=MONDAY + timedelta(days=5)
    )
    bear = investigation.entity(EntityType.ORGANIZATION, "Fancy Bear")
    apt = investigation.entity(EntityType.ORGANIZATION, "APT28")
    analyst = Actor(user_id=investigation.user_id, via="api")
    with db.transaction() as session:
        add_enrichment(
            session,
            actor=analyst,
            entity_id=apt.id,
            enrichment_type=EnrichmentType.REPUTATION,
            enricher="mitre",
            data={"aka": ["Sofacy"]},
        )

    with db.transaction() as session:
        merged = service.merge_entities(
            session, actor=analyst, survivor_id=bear.id, merged_ids=[apt.id]
        )
        assert merged.moved_sources == 1

    with db.transaction(readonly=True) as session:
        assert session.get(Entity, apt.id) is None
        survivor = session.get(Entity, bear.id)
        assert survivor is not None
        assert (survivor.first_seen, survivor.last_seen) == (MONDAY, MONDAY + timedelta(days=5))
        assert survivor.metadata_["merged_from"] == [{"id": str(apt.id), "name": "APT28"}]
        links = session.scalars(select(EntitySource).where(EntitySource.entity_id == bear.id))
        assert len(list(links)) == 2
        controls = session.scalars(
            select(EntityRelationship).where(EntityRelationship.type == RelationshipType.CONTROLS)
        ).all()
        assert sorted(e.source_id for e in controls) == [str(bear.id), str(bear.id)]
        history = session.scalars(select(RiskScore).where(RiskScore.entity_id == apt.id)).all()
        assert history == []
    with db.transaction(readonly=True) as session:
        shown = service.entity_detail(session, bear.id)
    assert [e["enricher"] for e in shown.enrichments] == ["mitre"]
    assert {a.name for a in shown.aliases} == {"Fancy Bear", "APT28"}
    (entry,) = [a for a in audit_actions(db, bear.id) if a.action == "entity.merge"]
    assert entry.user_id == investigation.user_id
    assert entry.details["merged"] == [{"id": str(apt.id), "name": "APT28"}]

    # The merged name keeps resolving to the survivor.
    investigation.store(org("APT28", key="c"))
    assert investigation.entity(EntityType.ORGANIZATION, "APT28").id == bear.id
    assert len(investigation.entities(EntityType.ORGANIZATION)) == 1


def test_merge_refuses_entities_of_different_types(
    db: Database, investigation: Investigation
) -> None:
    investigation.store(org("Acme", key="a", with_ip="203.0.113.1"))
    acme = investigation.entity(EntityType.ORGANIZATION, "Acme")
    address = investigation.entity(EntityType.IP_ADDRESS, "203.0.113.1")
    with (
        pytest.raises(Invalid, match="only entities of one type merge"),
        db.transaction() as session,
    ):
        service.merge_entities(
            session, actor=Actor.system(), survivor_id=acme.id, merged_ids=[address.id]
        )
    assert audit_actions(db, acme.id) == []


def test_split_moves_chosen_sources_to_a_new_entity_and_is_audited(
    db: Database, investigation: Investigation
) -> None:
    def person(key: str, address: str) -> Collected:
        return Collected(
            item_type="post",
            raw={"k": key},
            entities=[Observed(EntityType.PERSON, "John Smith")],
            relations=[
                ObservedRelation(
                    (EntityType.PERSON, "John Smith"),
                    (EntityType.IP_ADDRESS, address),
                    RelationshipType.COMMUNICATES_WITH,
                )
            ],
        )

    investigation.store(person("writer", "203.0.113.5"), now=MONDAY)
    investigation.store(person("footballer", "198.51.100.5"), now=MONDAY + timedelta(days=2))
    john = investigation.entity(EntityType.PERSON, "John Smith")
    with db.transaction(readonly=True) as session:
        detail = service.entity_detail(session, john.id)
    newest = detail.sources[0]  # newest collected first: the footballer

    with db.transaction() as session:
        result = service.split_entity(
            session,
            actor=Actor(user_id=investigation.user_id, via="api"),
            entity_id=john.id,
            source_link_ids=[newest.id],
            name="John Smith (footballer)",
        )
    assert result.moved_sources == 1
    assert result.created.first_seen == MONDAY + timedelta(days=2)
    assert result.original.last_seen == MONDAY

    # The edge the footballer's item asserted went with him; the other stayed.
    with db.transaction(readonly=True) as session:
        associated = session.scalars(
            select(EntityRelationship).where(
                EntityRelationship.type == RelationshipType.COMMUNICATES_WITH
            )
        ).all()
    ends = {frozenset((e.source_id, e.target_id)) for e in associated}
    kicker = investigation.entity(EntityType.IP_ADDRESS, "198.51.100.5")
    writer = investigation.entity(EntityType.IP_ADDRESS, "203.0.113.5")
    assert frozenset((str(result.created.id), str(kicker.id))) in ends
    assert frozenset((str(john.id), str(writer.id))) in ends
    assert frozenset((str(john.id), str(kicker.id))) not in ends

    (entry,) = [a for a in audit_actions(db, john.id) if a.action == "entity.split"]
    assert entry.details["created"] == str(result.created.id)
    # New mentions of the shared name still go to the original; the new name to the new one.
    assert investigation.entity(EntityType.PERSON, "John Smith").id == john.id
    assert investigation.entity(EntityType.PERSON, "john smith footballer").id == result.created.id


def test_split_must_leave_the_original_a_source_and_take_only_its_own(
    db: Database, investigation: Investigation
) -> None:
    investigation.store(org("Acme", key="a"))
    investigation.store(org("Globex", key="b"))
    acme = investigation.entity(EntityType.ORGANIZATION, "Acme")
    globex = investigation.entity(EntityType.ORGANIZATION, "Globex")
    with db.transaction(readonly=True) as session:
        (acme_link,) = service.entity_detail(session, acme.id).sources
        (globex_link,) = service.entity_detail(session, globex.id).sources
    with pytest.raises(Invalid, match="leave at least one"), db.transaction() as session:
        service.split_entity(
            session, actor=Actor.system(), entity_id=acme.id, source_link_ids=[acme_link.id]
        )
    with (
        pytest.raises(Invalid, match="not source links of this entity"),
        db.transaction() as session,
    ):
        service.split_entity(
            session, actor=Actor.system(), entity_id=acme.id, source_link_ids=[globex_link.id]
        )


def test_split_to_a_name_another_entity_holds_is_a_conflict(
    db: Database, investigation: Investigation
) -> None:
    investigation.store(org("Acme", key="a"))
    investigation.store(org("Acme", key="b"))
    investigation.store(org("Globex", key="c"))
    acme = investigation.entity(EntityType.ORGANIZATION, "Acme")
    with db.transaction(readonly=True) as session:
        link = service.entity_detail(session, acme.id).sources[0]
    with pytest.raises(Conflict, match="merge instead"), db.transaction() as session:
        service.split_entity(
            session,
            actor=Actor.system(),
            entity_id=acme.id,
            source_link_ids=[link.id],
            name="Globex Inc",
        )


def test_a_split_can_take_a_merged_name_back(db: Database, investigation: Investigation) -> None:
    investigation.store(org("Initech", key="a"))
    investigation.store(org("Initrode", key="b"))
    initech = investigation.entity(EntityType.ORGANIZATION, "Initech")
    initrode = investigation.entity(EntityType.ORGANIZATION, "Initrode")
    with db.transaction() as session:
        service.merge_entities(
            session, actor=Actor.system(), survivor_id=initech.id, merged_ids=[initrode.id]
        )
    with db.transaction(readonly=True) as session:
        links = service.entity_detail(session, initech.id).sources
    newest = links[0]

    with db.transaction() as session:
        result = service.split_entity(
            session,
            actor=Actor.system(),
            entity_id=initech.id,
            source_link_ids=[newest.id],
            name="Initrode",
        )

    investigation.store(org("INITRODE", key="c"))
    assert investigation.entity(EntityType.ORGANIZATION, "Initrode").id == result.created.id
    assert investigation.entity(EntityType.ORGANIZATION, "Initech").id == initech.id
