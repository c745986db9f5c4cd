"""Nodes for people: a node named ``kind:id`` (or ``entity_type:value``) found, and any number
of nodes labelled with one query per kind."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from krsn.db.base import Base
from krsn.errors import Conflict, Invalid, NotFound
from krsn.indicators.models import ThreatIndicator
from krsn.osint.graph.edges import NodeRef
from krsn.osint.graph.schemas import NodeLabel
from krsn.osint.models import Entity, EntityType, NodeKind, Source
from krsn.sharing.models import MitreTechnique, ThreatActor, ThreatCampaign

_BATCH = 500


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _score(value: Any) -> float | None:
    return None if value is None else float(value)


def _columns(model: type[Base], *names: str) -> list[Any]:
    table = cast(Table, model.__table__)
    return [table.c[name] for name in names]


def _rows(session: Session, kind: NodeKind, ids: list[str]) -> dict[str, NodeLabel]:
    found: dict[str, NodeLabel] = {}

    def put(ident: str, label: str, type_: Any = None, score: Any = None) -> None:
        found[ident] = NodeLabel(
            node=f"{kind.value}:{ident}",
            kind=kind,
            id=ident,
            label=label,
            type=None if type_ is None else str(getattr(type_, "value", type_)),
            score=_score(score),
        )

    if kind is NodeKind.TECHNIQUE:
        for start in range(0, len(ids), _BATCH):
            for tid, name, tactic in session.execute(
                select(
                    MitreTechnique.technique_id,
                    MitreTechnique.technique_name,
                    MitreTechnique.tactic,
                ).where(MitreTechnique.technique_id.in_(ids[start : start + _BATCH]))
            ):
                put(tid, f"{tid} {name}", tactic)
        return found
    keyed = {u: i for i in ids if (u := _uuid(i)) is not None}
    # Core columns, not the ORM's: a thousand labels are a hot path, and the ORM's per-row
    # work there costs more than the query.
    columns = {
        NodeKind.ENTITY: _columns(Entity, "id", "name", "entity_type", "risk_score"),
        NodeKind.INDICATOR: _columns(
            ThreatIndicator, "id", "indicator_value", "indicator_type", "threat_score"
        ),
        NodeKind.ACTOR: _columns(ThreatActor, "id", "actor_name", "sophistication"),
        NodeKind.CAMPAIGN: _columns(ThreatCampaign, "id", "campaign_name", "status"),
        NodeKind.SOURCE: _columns(Source, "id", "name", "source_type", "reliability_score"),
    }[kind]
    wanted = list(keyed)
    for start in range(0, len(wanted), _BATCH):
        for row in session.execute(
            select(*columns).where(columns[0].in_(wanted[start : start + _BATCH]))
        ):
            values: tuple[Any, ...] = tuple(row)
            ident = keyed.get(values[0]) or str(values[0])
            score = values[3] if len(values) > 3 else None
            if kind is NodeKind.SOURCE and score is not None:
                score = float(score) * 100  # reliability 0..1 on the graph's 0..100 scale
            put(ident, str(values[1]), values[2], score)
    return found


def label_nodes(session: Session, nodes: Iterable[str]) -> list[NodeLabel]:
    """Labels of these ``kind:id`` nodes, in the order given, one query per kind and 500."""
    order = list(dict.fromkeys(nodes))
    by_kind: dict[str, list[str]] = defaultdict(list)
    for node in order:
        kind, _, ident = node.partition(":")
        by_kind[kind].append(ident)
    known: dict[str, NodeLabel] = {}
    for kind, ids in by_kind.items():
        try:
            node_kind = NodeKind(kind)
        except ValueError:
            continue
        for ident, label in _rows(session, node_kind, ids).items():
            known[f"{kind}:{ident}"] = label
    labels: list[NodeLabel] = []
    for node in order:
        found = known.get(node)
        if found is not None:
            labels.append(found)
            continue
        kind, _, ident = node.partition(":")
        labels.append(
            NodeLabel(
                node=node,
                kind=NodeKind(kind) if kind in NodeKind._value2member_map_ else NodeKind.ENTITY,
                id=ident,
                label=ident,
                exists=False,
            )
        )
    return labels


def resolve_around(session: Session, text: str | None) -> NodeRef | None:
    """The node a subgraph is centred on (``around``), or None for no centre."""
    return resolve_node(session, text, field="around") if text else None


def resolve_node(session: Session, text: str, *, field: str = "node") -> NodeRef:
    """A node from ``kind:id`` or ``entity_type:value``; NotFound when nothing is there."""
    kind, sep, value = text.strip().partition(":")
    if not sep or not value.strip():
        raise Invalid(field, f"{text!r}: write a node as kind:id or entity_type:value")
    kind = kind.strip().lower()
    value = value.strip()
    if kind in NodeKind._value2member_map_:
        node_kind = NodeKind(kind)
        if node_kind is NodeKind.TECHNIQUE:
            node = NodeRef(node_kind, value.upper())
        elif (parsed := _uuid(value)) is not None:
            node = NodeRef(node_kind, str(parsed))
        elif node_kind is NodeKind.INDICATOR:
            node = _indicator_by_value(session, value, field=field)
        else:
            raise Invalid(field, f"{text!r}: a {kind} is named by its UUID")
        if not label_nodes(session, [str(node)])[0].exists:
            raise NotFound(f"No {node_kind.value} {node.id} in the graph's tables.")
        return node
    if kind in EntityType._value2member_map_:
        return _entity_by_value(session, EntityType(kind), value, field=field)
    kinds = ", ".join([k.value for k in NodeKind] + [t.value for t in EntityType])
    raise Invalid(field, f"{text!r}: unknown kind {kind!r}; one of {kinds}")


def _indicator_by_value(session: Session, value: str, *, field: str) -> NodeRef:
    from krsn.indicators.normalise import Indicator, normalise

    result = normalise(value)
    canonical = result.value if isinstance(result, Indicator) else value
    found = session.scalar(
        select(ThreatIndicator.id).where(ThreatIndicator.indicator_value == canonical)
    )
    if found is None:
        raise NotFound(f"No indicator {canonical!r}.")
    return NodeRef(NodeKind.INDICATOR, str(found))


def _entity_by_value(
    session: Session, entity_type: EntityType, value: str, *, field: str
) -> NodeRef:
    from krsn.osint.entities.names import resolution_key

    key = resolution_key(entity_type, value)
    if key is None:
        raise Invalid(field, f"{value!r} is not a valid {entity_type.value}")
    # The alias table, when present, says which of several same-named entities (after a
    # split) is the one a name resolves to.
    aliases = Base.metadata.tables.get("entity_aliases")
    if isinstance(aliases, Table):
        found = session.scalar(
            select(aliases.c.entity_id).where(
                aliases.c.entity_type == entity_type.value, aliases.c.normalized_name == key.key
            )
        )
        if found is not None:
            return NodeRef(NodeKind.ENTITY, str(found))
    ids = session.scalars(
        select(Entity.id)
        .where(Entity.entity_type == entity_type, Entity.normalized_name == key.key)
        .order_by(Entity.created_at)
        .limit(3)
    ).all()
    if not ids:
        raise NotFound(f"No {entity_type.value} entity {key.key!r}.")
    if len(ids) > 1:
        raise Conflict(
            f"Several {entity_type.value} entities are called {key.key!r}; name one as "
            f"entity:<id> ({', '.join(str(i) for i in ids)})."
        )
    return NodeRef(NodeKind.ENTITY, str(ids[0]))
