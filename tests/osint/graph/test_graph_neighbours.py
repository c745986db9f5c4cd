"""Neighbourhoods on both engines: depth, filters, caps on hubs, links kept in other tables."""

from __future__ import annotations

import uuid

import pytest
from graph_factories import link_all, make_entities
from sqlalchemy import insert, select, update

from detection_support import seed_indicators
from krsn.db import Database
from krsn.errors import Conflict, Invalid, NotFound
from krsn.indicators.models import ThreatIndicator
from krsn.osint.graph import service
from krsn.osint.graph.edges import EdgeSpec, NodeRef, add_edges
from krsn.osint.graph.expand import Filters
from krsn.osint.graph.labels import resolve_node
from krsn.osint.models import EdgeRelation, Entity, EntityType, NodeKind, RelationshipType
from krsn.sharing.models import CampaignIndicator, ThreatCampaign

EMPTY = {"tactics": [], "techniques": [], "procedures": [], "attributed_actors": []}


def _ids(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {n.node for n in result.nodes}


def test_depth_counts_hops_in_either_direction(db: Database):
    a, b, c, d = make_entities(db, ["A", "B", "C", "D"])
    # a → b ← c → d: direction does not matter to a neighbourhood.
    link_all(db, [(a, b), (c, b), (c, d)])
    with db.transaction(readonly=True) as session:
        one = service.neighbours(session, node=a, depth=1)
        two = service.neighbours(session, node=a, depth=2)
        three = service.neighbours(session, node=a, depth=3)
    assert _ids(one) == {str(a), str(b)}
    assert _ids(two) == {str(a), str(b), str(c)}
    assert _ids(three) == {str(a), str(b), str(c), str(d)}
    assert not three.truncated and three.reason is None
    assert {(e.source, e.target) for e in three.edges} == {
        (str(a), str(b)),
        (str(c), str(b)),
        (str(c), str(d)),
    }


def test_labels_carry_name_type_and_risk(db: Database):
    a, b = make_entities(db, ["Acme Corp", "Globex"], risk=70)
    link_all(db, [(a, b)], RelationshipType.OWNS)
    with db.transaction(readonly=True) as session:
        result = service.neighbours(session, node=a, depth=1)
    label = next(n for n in result.nodes if n.node == str(b))
    assert (label.label, label.type, label.score, label.exists) == (
        "Globex",
        "organization",
        70.0,
        True,
    )
    assert result.edges[0].type == "OWNS"


def test_type_and_kind_filters_limit_what_is_followed(db: Database):
    a, b, c = make_entities(db, ["A", "B", "C"])
    link_all(db, [(a, b)], RelationshipType.OWNS)
    link_all(db, [(a, c)], RelationshipType.WORKS_FOR)
    with db.transaction() as session:
        add_edges(session, [EdgeSpec(source=a, target=NodeRef.of("technique", "T1059"),
                                     type=RelationshipType.USES)])  # fmt: skip
    with db.transaction(readonly=True) as session:
        owns = service.neighbours(
            session, node=a, depth=1, filters=Filters(types=frozenset({RelationshipType.OWNS}))
        )
        techniques = service.neighbours(
            session, node=a, depth=1, filters=Filters(kinds=frozenset({NodeKind.TECHNIQUE}))
        )
        collected = service.neighbours(
            session, node=a, depth=1,
            filters=Filters(relations=frozenset({EdgeRelation.COLLECTED_FROM})),
        )  # fmt: skip
    assert _ids(owns) == {str(a), str(b)}
    assert _ids(techniques) == {str(a), "technique:T1059"}
    # An unknown technique is still a node, shown as missing rather than dropped.
    assert not next(n for n in techniques.nodes if n.kind is NodeKind.TECHNIQUE).exists
    assert _ids(collected) == {str(a)}


def test_a_hub_is_capped_and_says_so(db: Database):
    hub, *leaves = make_entities(db, ["hub"] + [f"leaf {i}" for i in range(40)])
    link_all(db, [(hub, leaf) for leaf in leaves])
    with db.transaction(readonly=True) as session:
        capped = service.neighbours(session, node=hub, depth=1, per_node=10)
        limited = service.neighbours(session, node=hub, depth=1, max_nodes=5)
        whole = service.neighbours(session, node=hub, depth=1)
    assert len(capped.nodes) == 11
    assert capped.truncated and "more than 10 edges" in (capped.reason or "")
    assert len(limited.nodes) == 5
    assert limited.truncated and "stopped at 5 nodes" in (limited.reason or "")
    assert len(whole.nodes) == 41 and not whole.truncated


def test_a_leaf_next_to_a_hub_reaches_only_part_of_the_hub(db: Database):
    hub, leaf, *others = make_entities(db, ["hub", "leaf"] + [f"o{i}" for i in range(30)])
    link_all(db, [(leaf, hub)] + [(hub, o) for o in others])
    with db.transaction(readonly=True) as session:
        result = service.neighbours(session, node=leaf, depth=2, per_node=8)
    # The leaf, the hub, and what eight of the hub's 31 edges lead to (one may lead back).
    assert 2 + 7 <= len(result.nodes) <= 2 + 8
    assert result.truncated


def test_depth_outside_one_to_three_is_refused(db: Database):
    (a,) = make_entities(db, ["A"])
    with db.transaction(readonly=True) as session, pytest.raises(Invalid):
        service.neighbours(session, node=a, depth=4)


def test_an_entity_shows_its_indicator_and_the_indicators_campaign(db: Database):
    seed_indicators(db, ["evil.example.com"])
    (domain,) = make_entities(db, ["evil.example.com"], entity_type=EntityType.DOMAIN)
    with db.transaction() as session:
        indicator_id = session.scalar(
            select(ThreatIndicator.id).where(ThreatIndicator.indicator_value == "evil.example.com")
        )
        session.execute(
            update(Entity)
            .where(Entity.id == uuid.UUID(domain.id))
            .values(indicator_id=indicator_id)
        )
        campaign_id = uuid.uuid4()
        session.execute(
            insert(ThreatCampaign), [{"id": campaign_id, "campaign_name": "Op Dusk", **EMPTY}]
        )
        session.execute(
            insert(CampaignIndicator),
            [{"id": uuid.uuid4(), "campaign_id": campaign_id, "indicator_id": indicator_id,
              "confidence_score": 80}],
        )  # fmt: skip
    with db.transaction(readonly=True) as session:
        result = service.neighbours(session, node=domain, depth=2)
    by_node = {n.node: n for n in result.nodes}
    indicator = by_node[f"indicator:{indicator_id}"]
    assert indicator.label == "evil.example.com" and indicator.type == "domain"
    assert indicator.score is not None
    assert by_node[f"campaign:{campaign_id}"].label == "Op Dusk"
    kinds = {(e.type, e.origin) for e in result.edges}
    assert kinds == {("SAME_AS", "entities"), ("INDICATES", "campaign_indicators")}
    indicates = next(e for e in result.edges if e.type == "INDICATES")
    assert indicates.confidence == pytest.approx(0.8)


def test_nodes_are_named_by_kind_and_id_or_by_type_and_value(db: Database):
    (domain,) = make_entities(db, ["example.com"], entity_type=EntityType.DOMAIN)
    with db.transaction(readonly=True) as session:
        assert resolve_node(session, f"entity:{domain.id}") == domain
        assert resolve_node(session, "domain:EXAMPLE.com") == domain
        with pytest.raises(NotFound):
            resolve_node(session, "domain:other.example.com")
        with pytest.raises(NotFound):
            resolve_node(session, f"entity:{uuid.uuid4()}")
        with pytest.raises(Invalid):
            resolve_node(session, "planet:mars")
        with pytest.raises(Invalid):
            resolve_node(session, "entity:not-a-uuid")


def test_two_entities_with_one_name_are_ambiguous(db: Database):
    make_entities(db, ["twin.example.com", "twin.example.com"], entity_type=EntityType.DOMAIN)
    with db.transaction(readonly=True) as session, pytest.raises(Conflict):
        resolve_node(session, "domain:twin.example.com")
