"""Rows for graph tests: entities (real rows, so nodes have labels) and edges between them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import igraph as ig
from sqlalchemy import insert

from krsn.db import Database
from krsn.osint.graph.edges import EdgeSpec, NodeRef, add_edges
from krsn.osint.models import Entity, EntityType, RelationshipType


def make_entities(
    database: Database,
    names: Sequence[str],
    *,
    entity_type: EntityType = EntityType.ORGANIZATION,
    risk: int = 0,
) -> list[NodeRef]:
    """One entity per name (normalised name = the name in lower case); their nodes."""
    rows = [
        {
            "id": uuid.uuid4(),
            "entity_type": entity_type,
            "name": name,
            "normalized_name": name.lower(),
            "risk_score": risk,
        }
        for name in names
    ]
    with database.transaction() as session:
        session.execute(insert(Entity), rows)
    return [NodeRef.of("entity", row["id"]) for row in rows]


def link_all(
    database: Database,
    pairs: Sequence[tuple[NodeRef, NodeRef]],
    type: RelationshipType = RelationshipType.ASSOCIATED_WITH,
) -> int:
    with database.transaction() as session:
        return add_edges(session, [EdgeSpec(source=a, target=b, type=type) for a, b in pairs])


def generated(
    database: Database, n: int = 60, m: int = 2, seed: int = 7
) -> tuple[ig.Graph, list[NodeRef]]:
    """A preferential-attachment graph stored as entities and edges, and the same in igraph."""
    import random

    random.seed(seed)
    graph = ig.Graph.Barabasi(n, m)
    nodes = make_entities(database, [f"node {i}" for i in range(n)])
    link_all(database, [(nodes[a], nodes[b]) for a, b in graph.get_edgelist()])
    return graph, nodes
