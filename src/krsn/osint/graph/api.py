"""REST routes of the graph.

Everyone signed in reads; analysts and admins (``IntelWriter``) add and remove RELATED_TO
links. A node is written ``kind:id`` (``entity:<uuid>``, ``indicator:<uuid>``,
``technique:T1059``) or, for an entity, ``entity_type:value`` (``domain:example.com``).
Neighbourhoods bound their work and say when a result was capped (``truncated``,
``reason``); paths and centrality use this process's in-memory projection, loaded on first use.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.osint.graph import service
from krsn.osint.graph.expand import Filters
from krsn.osint.graph.labels import label_nodes, resolve_around, resolve_node
from krsn.osint.graph.projection import projection_for
from krsn.osint.graph.schemas import (
    Algorithm,
    CommunityAlgorithm,
    EdgeRead,
    GraphResult,
    GroupsResult,
    LinkCreate,
    LinkRemoved,
    NodeLabel,
    PathResult,
    ProjectionStats,
    RankResult,
)
from krsn.osint.models import EdgeRelation, RelationshipType
from krsn.routing import ApiRoute

router = APIRouter(prefix="/graph", tags=["graph"], route_class=ApiRoute)

NodeParam = Annotated[
    str,
    Query(
        min_length=3,
        max_length=600,
        description="kind:id (entity:<uuid>, technique:T1059) or entity_type:value.",
    ),
]
OptionalNode = Annotated[
    str | None,
    Query(min_length=3, max_length=600, description="Analyse the neighbourhood of this node."),
]
Types = Annotated[
    list[RelationshipType] | None, Query(alias="type", description="Only edges of these types.")
]
Relations = Annotated[
    list[EdgeRelation] | None, Query(alias="relation", description="Only these relations.")
]
Kinds = Annotated[
    list[str] | None, Query(alias="kind", description="Only neighbours of these node kinds.")
]
CollectionParam = Annotated[
    uuid.UUID | None, Query(description="Analyse the entities of this OSINT collection.")
]
Depth = Annotated[int, Query(ge=1, le=service.MAX_DEPTH, description="Hops from the node.")]


def _filters(types: list[RelationshipType] | None, relations: list[EdgeRelation] | None,
             kinds: list[str] | None) -> Filters:  # fmt: skip
    return Filters(
        relations=frozenset(relations or ()),
        types=frozenset(types or ()),
        kinds=service.node_kinds(kinds or ()),
    )


@router.get("/nodes", response_model=list[NodeLabel], summary="Resolve and label nodes")
def nodes(
    principal: Reader,
    session: DbSession,
    node: Annotated[list[str], Query(min_length=1, max_length=500, description="Nodes.")],
) -> list[NodeLabel]:
    """Each node resolved (``domain:example.com`` finds the entity) and labelled."""
    refs = [str(resolve_node(session, n)) for n in node]
    return label_nodes(session, refs)


@router.get("/neighbours", response_model=GraphResult, summary="A node's neighbourhood")
def neighbours(
    principal: Reader,
    session: DbSession,
    node: NodeParam,
    depth: Depth = 2,
    type: Types = None,
    relation: Relations = None,
    kind: Kinds = None,
    per_node: Annotated[
        int, Query(ge=1, le=1000, description="Edges followed at each node at most.")
    ] = service.DEFAULT_PER_NODE,
    max_nodes: Annotated[
        int, Query(ge=1, le=10_000, description="Nodes returned at most.")
    ] = service.DEFAULT_MAX_NODES,
) -> GraphResult:
    """Nodes within ``depth`` hops (either direction) and the edges among them. The work is
    bounded: ``truncated`` with a ``reason`` when a hub's edges or the node limit cut it."""
    return service.neighbours(
        session,
        node=resolve_node(session, node),
        depth=depth,
        filters=_filters(type, relation, kind),
        per_node=per_node,
        max_nodes=max_nodes,
    )


@router.get("/path", response_model=PathResult, summary="Shortest path between two nodes")
def path(
    principal: Reader,
    session: DbSession,
    source: NodeParam,
    target: NodeParam,
    max_length: Annotated[int | None, Query(ge=1, le=20, description="Hops at most.")] = None,
    type: Types = None,
    relation: Relations = None,
    method: Annotated[
        str, Query(pattern="^(auto|projection|sql)$", description="auto, projection or sql.")
    ] = "auto",
) -> PathResult:
    """A shortest path ignoring direction; with type filters it is searched in the database."""
    return service.shortest_path(
        session,
        source=resolve_node(session, source, field="source"),
        target=resolve_node(session, target, field="target"),
        max_length=max_length,
        filters=_filters(type, relation, None),
        method=method,
    )


@router.get("/rank", response_model=RankResult, summary="Most central nodes")
def rank(
    principal: Reader,
    session: DbSession,
    algorithm: Algorithm = Algorithm.PAGERANK,
    around: OptionalNode = None,
    collection_id: CollectionParam = None,
    depth: Depth = 2,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> RankResult:
    """PageRank, degree or betweenness over a node's neighbourhood, a collection's entities,
    or the whole graph (betweenness there is estimated over short paths, and says so)."""
    return service.rank(
        session,
        algorithm=algorithm,
        around=resolve_around(session, around),
        collection_id=collection_id,
        depth=depth,
        limit=limit,
    )


@router.get("/components", response_model=GroupsResult, summary="Connected components")
def components(
    principal: Reader,
    session: DbSession,
    around: OptionalNode = None,
    collection_id: CollectionParam = None,
    depth: Depth = 2,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> GroupsResult:
    """Connected components, largest first, each with its best-connected members."""
    return service.groups(
        session,
        around=resolve_around(session, around),
        collection_id=collection_id,
        depth=depth,
        limit=limit,
    )


@router.get("/communities", response_model=GroupsResult, summary="Communities")
def communities(
    principal: Reader,
    session: DbSession,
    algorithm: CommunityAlgorithm = CommunityAlgorithm.LEIDEN,
    around: OptionalNode = None,
    collection_id: CollectionParam = None,
    depth: Depth = 2,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> GroupsResult:
    """Communities (Leiden, Louvain or label propagation) with the partition's modularity."""
    return service.groups(
        session,
        algorithm=algorithm,
        around=resolve_around(session, around),
        collection_id=collection_id,
        depth=depth,
        limit=limit,
    )


@router.post("/links", response_model=EdgeRead, status_code=201, summary="Link two nodes")
def create_link(body: LinkCreate, principal: IntelWriter, session: DbSession) -> EdgeRead:
    """An analyst's RELATED_TO edge of a type; the same link twice is 409. Audited."""
    return service.link(
        session,
        actor=principal.actor,
        source=resolve_node(session, body.source, field="source"),
        target=resolve_node(session, body.target, field="target"),
        type=body.type,
        asserted_by=principal.username,
        confidence=body.confidence,
        properties=body.properties,
    )


@router.delete("/links", response_model=LinkRemoved, summary="Unlink two nodes")
def delete_link(
    principal: IntelWriter,
    session: DbSession,
    source: NodeParam,
    target: NodeParam,
    type: Annotated[RelationshipType, Query(description="The link's type.")],
) -> LinkRemoved:
    """Remove the RELATED_TO edges of this type between the two nodes, either way. Audited."""
    return service.unlink(
        session,
        actor=principal.actor,
        source=resolve_node(session, source, field="source"),
        target=resolve_node(session, target, field="target"),
        type=type,
    )


@router.get("/projection", response_model=ProjectionStats, summary="The in-memory projection")
def projection(principal: Reader, session: DbSession) -> ProjectionStats:
    """Size and age of this process's projection (loading it if it was not)."""
    return ProjectionStats(**projection_for(session).stats())
