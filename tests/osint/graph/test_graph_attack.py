"""ATT&CK's uses and attributed-to relationships become edges between actors, campaigns and
techniques, from a small hand-made bundle imported through the real import."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select

from krsn.db import Database
from krsn.identity.audit import Actor
from krsn.osint.graph import service
from krsn.osint.graph.attack import sync_attack_edges
from krsn.osint.graph.edges import NodeRef
from krsn.sharing.attack import import_attack
from krsn.sharing.models import ThreatActor, ThreatCampaign

DOMAIN = ["enterprise-attack"]


def _ref(attack_id: str) -> list[dict[str, str]]:
    return [{"source_name": "mitre-attack", "external_id": attack_id}]


def _object(kind: str, stix_id: str, attack_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "id": stix_id, "name": name, "external_references": _ref(attack_id),
            "x_mitre_domains": DOMAIN, **extra}  # fmt: skip


def _uses(n: int, source: str, target: str, kind: str = "uses") -> dict[str, Any]:
    return {"type": "relationship", "id": f"relationship--{n:04d}", "relationship_type": kind,
            "source_ref": source, "target_ref": target}  # fmt: skip


BUNDLE: dict[str, Any] = {
    "type": "bundle",
    "id": "bundle--1",
    "objects": [
        _object("attack-pattern", "attack-pattern--1", "T1059", "Command and Scripting Interpreter",
                kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "execution"}]),
        _object("attack-pattern", "attack-pattern--2", "T1566", "Phishing",
                kill_chain_phases=[{"kill_chain_name": "mitre-attack",
                                    "phase_name": "initial-access"}]),
        _object("intrusion-set", "intrusion-set--1", "G0001", "Example Group"),
        _object("campaign", "campaign--1", "C0001", "Operation Example"),
        _uses(1, "intrusion-set--1", "attack-pattern--1"),
        _uses(2, "campaign--1", "attack-pattern--2"),
        _uses(3, "campaign--1", "intrusion-set--1", "attributed-to"),
    ],
}  # fmt: skip


def _import(db: Database, bundle: dict[str, Any]) -> None:
    with db.transaction() as session:
        import_attack(session, bundle=bundle, actor=Actor.system())
        sync_attack_edges(session)


def _nodes(db: Database) -> tuple[NodeRef, NodeRef]:
    with db.transaction(readonly=True) as session:
        actor = session.scalar(select(ThreatActor.id))
        campaign = session.scalar(select(ThreatCampaign.id))
    return NodeRef.of("actor", str(actor)), NodeRef.of("campaign", str(campaign))


def test_the_import_yields_uses_and_attributed_to_edges(db: Database):
    _import(db, BUNDLE)
    actor, campaign = _nodes(db)
    with db.transaction(readonly=True) as session:
        around = service.neighbours(session, node=campaign, depth=2)
    edges = {(e.source, e.type, e.target) for e in around.edges}
    assert edges == {
        (str(campaign), "USES", "technique:T1566"),
        (str(campaign), "ATTRIBUTED_TO", str(actor)),
        (str(actor), "USES", "technique:T1059"),
    }
    labels = {n.node: n.label for n in around.nodes}
    assert labels["technique:T1059"] == "T1059 Command and Scripting Interpreter"
    assert labels[str(actor)] == "Example Group"
    assert all(e.asserted_by == "mitre-attack" for e in around.edges)


def test_a_reimport_without_a_relationship_removes_its_edge(db: Database):
    _import(db, BUNDLE)
    changed = copy.deepcopy(BUNDLE)
    changed["objects"] = [o for o in changed["objects"] if o.get("id") != "relationship--0001"]
    _import(db, changed)
    actor, _ = _nodes(db)
    with db.transaction() as session:
        again = sync_attack_edges(session)
        around = service.neighbours(session, node=actor, depth=1)
    assert (again.added, again.removed) == (0, 0)
    assert {e.type for e in around.edges} == {"ATTRIBUTED_TO"}
