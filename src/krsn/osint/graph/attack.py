"""ATT&CK's links as graph edges: an actor or a campaign USES a technique, a campaign is
ATTRIBUTED_TO an actor.

The ATT&CK import keeps these in JSON lists (``threat_actors.attribution_data`` per domain,
``threat_campaigns.techniques`` and ``attributed_actors``), which no index can search from
the technique's side; so they are materialised as ``entity_relationships`` rows asserted by
``mitre-attack``. :func:`sync_attack_edges` makes those rows match the tables: it adds what
is missing and removes what the tables no longer say. ``krsn attack import`` calls it after
each import; it is idempotent and cheap (hundreds of actors and campaigns).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from krsn.osint.graph.edges import EdgeSpec, NodeRef, add_edges, remove_edges
from krsn.osint.models import EdgeRelation, EntityRelationship, NodeKind, RelationshipType
from krsn.sharing.models import MitreTechnique, ThreatActor, ThreatCampaign

ASSERTED_BY = "mitre-attack"
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


@dataclass(frozen=True, slots=True)
class AttackEdges:
    """What a sync changed."""

    added: int
    removed: int
    kept: int


def _technique_ids(items: Any) -> Iterator[str]:
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            value = item.get("attack_id") or item.get("technique_id")
        else:
            value = item
        if isinstance(value, str) and _TECHNIQUE.match(value.strip().upper()):
            yield value.strip().upper()


def _actor_ids(items: Any) -> Iterator[str]:
    for item in items if isinstance(items, list) else ():
        value = item.get("actor_id") if isinstance(item, dict) else None
        try:
            yield str(uuid.UUID(str(value)))
        except ValueError:
            continue


def wanted_edges(session: Session) -> set[tuple[NodeRef, NodeRef, RelationshipType]]:
    """The USES and ATTRIBUTED_TO edges the actor and campaign tables hold."""
    known_techniques = set(session.scalars(select(MitreTechnique.technique_id)))
    known_actors = {str(i) for i in session.scalars(select(ThreatActor.id))}
    wanted: set[tuple[NodeRef, NodeRef, RelationshipType]] = set()
    for actor_id, data in session.execute(select(ThreatActor.id, ThreatActor.attribution_data)):
        owner = data.get("mitre_attack") if isinstance(data, dict) else None
        domains = owner.get("domains") if isinstance(owner, dict) else None
        actor = NodeRef(NodeKind.ACTOR, str(actor_id))
        for block in (domains or {}).values():
            if not isinstance(block, dict):
                continue
            for technique in _technique_ids(block.get("techniques")):
                if technique in known_techniques:
                    used = NodeRef(NodeKind.TECHNIQUE, technique)
                    wanted.add((actor, used, RelationshipType.USES))
    for campaign_id, techniques, attributed in session.execute(
        select(ThreatCampaign.id, ThreatCampaign.techniques, ThreatCampaign.attributed_actors)
    ):
        campaign = NodeRef(NodeKind.CAMPAIGN, str(campaign_id))
        for technique in _technique_ids(techniques):
            if technique in known_techniques:
                wanted.add(
                    (campaign, NodeRef(NodeKind.TECHNIQUE, technique), RelationshipType.USES)
                )
        for actor_id in _actor_ids(attributed):
            if actor_id in known_actors:
                wanted.add(
                    (campaign, NodeRef(NodeKind.ACTOR, actor_id), RelationshipType.ATTRIBUTED_TO)
                )
    return wanted


def sync_attack_edges(session: Session) -> AttackEdges:
    """Make the ``mitre-attack`` edges match the actor and campaign tables; never commits."""
    wanted = wanted_edges(session)
    table = cast(Table, EntityRelationship.__table__)
    present: set[tuple[NodeRef, NodeRef, RelationshipType]] = set()
    for sk, si, tk, ti, type_ in session.execute(
        select(
            table.c.source_kind, table.c.source_id, table.c.target_kind, table.c.target_id,
            table.c.type,
        ).where(
            table.c.source == ASSERTED_BY,
            table.c.relation == EdgeRelation.RELATED_TO.value,
            table.c.type.in_([RelationshipType.USES.value, RelationshipType.ATTRIBUTED_TO.value]),
        )
    ):  # fmt: skip
        present.add((NodeRef.of(sk, si), NodeRef.of(tk, ti), RelationshipType(type_)))
    stale = present - wanted
    removed = remove_edges(
        session, [EdgeSpec(source=s, target=t, type=k) for s, t, k in sorted(stale, key=str)]
    )
    added = add_edges(
        session,
        [
            EdgeSpec(source=s, target=t, type=k, asserted_by=ASSERTED_BY, confidence=1.0)
            for s, t, k in sorted(wanted - present, key=str)
        ],
    )
    return AttackEdges(added=added, removed=removed, kept=len(wanted & present))
