"""Graph queries and analysts' edits: neighbourhoods (bounded SQL on either engine), shortest
paths and centrality (the in-memory projection, or a batched SQL search), components and
communities, and RELATED_TO links made and removed by analysts, audited.

Every query bounds its work, not only its output: a neighbourhood reads at most ``per_node``
edges at each node and stops at ``max_nodes`` nodes; a SQL path search stops after
``max_visited`` nodes. A result cut short says so (``truncated``) and why (``reason``).
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import igraph as ig
from sqlalchemy import select
from sqlalchemy.orm import Session

from krsn.errors import Conflict, Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.osint.graph import expand
from krsn.osint.graph.edges import EdgeSpec, NodeRef, add_edges, remove_edges
from krsn.osint.graph.expand import Edge, Filters
from krsn.osint.graph.labels import label_nodes
from krsn.osint.graph.projection import Projection, projection_for
from krsn.osint.graph.schemas import (
    Algorithm,
    CommunityAlgorithm,
    EdgeRead,
    GraphResult,
    Group,
    GroupsResult,
    LinkRemoved,
    NodeLabel,
    PathResult,
    RankedNode,
    RankResult,
)
from krsn.osint.models import EdgeRelation, EntityRelationship, NodeKind, RelationshipType

MAX_DEPTH = 3
DEFAULT_PER_NODE = 100
DEFAULT_MAX_NODES = 1000
# A whole-graph betweenness is estimated over paths of up to this many hops: the exact
# measure is quadratic in the nodes.
BETWEENNESS_CUTOFF = 3
# Subgraphs larger than this get their betweenness estimated the same way.
EXACT_BETWEENNESS_NODES = 5000


def edge_read(edge: Edge) -> EdgeRead:
    return EdgeRead(
        source=edge.source,
        target=edge.target,
        relation=edge.relation,
        type=edge.type,
        id=edge.id,
        origin=edge.origin,
        confidence=edge.confidence,
        asserted_by=edge.asserted_by,
        detail=edge.detail,
    )


def _edge_key(edge: Edge) -> tuple[Any, ...]:
    return (edge.id,) if edge.id else (edge.source, edge.target, edge.type, edge.origin)


# --- Neighbourhoods -----------------------------------------------------------------------


def explore(
    session: Session,
    *,
    node: NodeRef,
    depth: int = 2,
    filters: Filters = Filters(),
    per_node: int = DEFAULT_PER_NODE,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> tuple[list[str], list[Edge], list[str]]:
    """The nodes within ``depth`` hops (breadth first), the edges among them, and what capped
    it (empty when nothing did)."""
    if not 1 <= depth <= MAX_DEPTH:
        raise Invalid("depth", f"between 1 and {MAX_DEPTH}")
    if per_node < 1 or max_nodes < 1:
        raise Invalid("limit", "per_node and max_nodes must be at least 1")
    start = str(node)
    seen: dict[str, None] = {start: None}
    edges: dict[tuple[Any, ...], Edge] = {}
    frontier = [start]
    capped_nodes: list[str] = []
    full = False
    for _level in range(depth):
        following: list[str] = []
        position = 0
        while position < len(frontier) and not full:
            # Ask for about as many nodes' edges as the node budget can still take, so a
            # frontier of hubs does not read a hundred hubs' edges to keep ten of them.
            room = max_nodes - len(seen)
            size = min(expand.CHUNK, max(4, math.ceil(2 * room / per_node)))
            chunk = frontier[position : position + size]
            position += len(chunk)
            incident = expand.incident_edges(session, chunk, per_node=per_node, filters=filters)
            for here in chunk:
                found, more = incident[here]
                if more:
                    capped_nodes.append(here)
                for edge in found:
                    other = edge.other(here)
                    if other not in seen:
                        if len(seen) >= max_nodes:
                            full = True
                            break
                        seen[other] = None
                        following.append(other)
                    edges.setdefault(_edge_key(edge), edge)
                if full:
                    break
        if full:
            break
        frontier = following
        if not frontier:
            break
    reasons = []
    if capped_nodes:
        reasons.append(
            f"{len(capped_nodes)} node(s) have more than {per_node} edges; "
            f"only {per_node} of each were followed"
        )
    if full:
        reasons.append(f"stopped at {max_nodes} nodes")
    return list(seen), list(edges.values()), reasons


def neighbours(
    session: Session,
    *,
    node: NodeRef,
    depth: int = 2,
    filters: Filters = Filters(),
    per_node: int = DEFAULT_PER_NODE,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> GraphResult:
    """The neighbourhood of ``node`` to ``depth`` hops, labelled, capped as ``explore`` says."""
    nodes, edges, reasons = explore(
        session, node=node, depth=depth, filters=filters, per_node=per_node, max_nodes=max_nodes
    )
    return GraphResult(
        nodes=label_nodes(session, nodes),
        edges=[edge_read(e) for e in edges],
        truncated=bool(reasons),
        reason="; ".join(reasons) or None,
    )


# --- Paths --------------------------------------------------------------------------------


def _path_result(
    session: Session,
    path: Sequence[str] | None,
    *,
    method: str,
    filters: Filters,
    reason: str | None = None,
) -> PathResult:
    if not path:
        return PathResult(
            nodes=[], edges=[], found=False, method=method, truncated=reason is not None,
            reason=reason,
        )  # fmt: skip
    hops: list[EdgeRead] = []
    for a, b in itertools.pairwise(path):
        joining = [e for e in expand.between(session, a, b) if _passes(e, filters)]
        hops.extend(edge_read(e) for e in joining[:1])
    return PathResult(
        nodes=label_nodes(session, path),
        edges=hops,
        found=True,
        length=len(path) - 1,
        method=method,
    )


def _passes(edge: Edge, filters: Filters) -> bool:
    if filters.relations and edge.relation not in {r.value for r in filters.relations}:
        return False
    return not filters.types or edge.type in {t.value for t in filters.types}


def shortest_path(
    session: Session,
    *,
    source: NodeRef,
    target: NodeRef,
    max_length: int | None = None,
    filters: Filters = Filters(),
    method: str = "auto",
    max_visited: int = 200_000,
) -> PathResult:
    """A shortest path between two nodes, ignoring direction.

    ``auto`` uses the in-memory projection (loading it on first use) unless filters ask for
    edge labels, which only the database holds; ``sql`` forces the batched bidirectional
    search, ``projection`` the projection."""
    if method not in ("auto", "projection", "sql"):
        raise Invalid("method", "auto, projection or sql")
    if max_length is not None and max_length < 1:
        raise Invalid("max_length", "at least 1")
    if source == target:
        return _path_result(session, [str(source)], method="trivial", filters=filters)
    use_projection = method == "projection" or (method == "auto" and filters.empty)
    if use_projection:
        if not filters.empty:
            raise Invalid("method", "the projection has no edge labels; filter with method=sql")
        return _projection_path(
            session, projection_for(session), source, target, max_length=max_length
        )
    return _sql_path(
        session, source, target, max_length=max_length, filters=filters, max_visited=max_visited
    )


def _projection_path(
    session: Session,
    projection: Projection,
    source: NodeRef,
    target: NodeRef,
    *,
    max_length: int | None,
) -> PathResult:
    with projection.lock:
        a, b = projection.vertex_of(str(source)), projection.vertex_of(str(target))
        if a is None or b is None:
            return _path_result(session, None, method="projection", filters=Filters())
        vertices = _bidirectional(projection.graph, a, b, max_length)
        path = [projection.name_of(v) for v in vertices]
    if not vertices or any(p is None for p in path):
        return _path_result(session, None, method="projection", filters=Filters())
    if max_length is not None and len(path) - 1 > max_length:
        return _path_result(
            session, None, method="projection", filters=Filters(),
            reason=f"the shortest path has {len(path) - 1} hops, more than {max_length}",
        )  # fmt: skip
    return _path_result(session, [p for p in path if p], method="projection", filters=Filters())


def _bidirectional(graph: ig.Graph, a: int, b: int, max_length: int | None) -> list[int]:
    """Breadth first from both ends, the smaller frontier first, each step one igraph call:
    igraph's own single-pair search explores from one end only, which on a million nodes
    reaches most of the graph before it meets the target."""
    if a == b:
        return [a]
    parents: tuple[dict[int, int], dict[int, int]] = ({a: -1}, {b: -1})
    frontiers = ([a], [b])
    hops = 0
    limit = max_length if max_length is not None else graph.vcount()
    while frontiers[0] and frontiers[1] and hops < limit + 1:
        side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
        mine, theirs = parents[side], parents[1 - side]
        following: list[int] = []
        for here, around in zip(
            frontiers[side], graph.neighborhood(frontiers[side], order=1, mindist=1), strict=True
        ):
            for there in around:
                if there in mine:
                    continue
                mine[there] = here
                if there in theirs:
                    return _walk(there, parents[0], parents[1])
                following.append(there)
        hops += 1
        frontiers = (following, frontiers[1]) if side == 0 else (frontiers[0], following)
    return []


def _walk(meeting: int, forward: dict[int, int], backward: dict[int, int]) -> list[int]:
    path = []
    vertex = meeting
    while vertex != -1:
        path.append(vertex)
        vertex = forward[vertex]
    path.reverse()
    vertex = backward[meeting]
    while vertex != -1:
        path.append(vertex)
        vertex = backward[vertex]
    return path


def _sql_path(
    session: Session,
    source: NodeRef,
    target: NodeRef,
    *,
    max_length: int | None,
    filters: Filters,
    max_visited: int,
) -> PathResult:
    """Bidirectional breadth-first search, one batched query per step, smaller side first."""
    start, goal = str(source), str(target)
    parents: tuple[dict[str, str | None], dict[str, str | None]] = ({start: None}, {goal: None})
    frontiers: tuple[list[str], list[str]] = ([start], [goal])
    depth = [0, 0]
    limit = max_length if max_length is not None else 12
    while frontiers[0] and frontiers[1] and depth[0] + depth[1] < limit:
        side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
        mine, theirs = parents[side], parents[1 - side]
        following: list[str] = []
        meeting: str | None = None
        for edge_node, other in _expansion(session, frontiers[side], filters):
            if other in mine:
                continue
            mine[other] = edge_node
            following.append(other)
            if other in theirs:
                meeting = other
                break
        depth[side] += 1
        if meeting is not None:
            return _path_result(
                session, _join(meeting, parents[0], parents[1]), method="sql", filters=filters
            )
        if len(parents[0]) + len(parents[1]) > max_visited:
            return _path_result(
                session, None, method="sql", filters=filters,
                reason=f"search stopped after visiting {max_visited} nodes",
            )  # fmt: skip
        frontiers = (following, frontiers[1]) if side == 0 else (frontiers[0], following)
    reason = None
    if frontiers[0] and frontiers[1]:
        reason = f"no path of at most {limit} hops"
    return _path_result(session, None, method="sql", filters=filters, reason=reason)


def _expansion(
    session: Session, frontier: list[str], filters: Filters
) -> Iterable[tuple[str, str]]:
    # Batches of a few thousand nodes: a meeting found early spares the rest.
    for start in range(0, len(frontier), 2000):
        yield from expand.neighbour_pairs(session, frontier[start : start + 2000], filters=filters)


def _join(
    meeting: str, forward: dict[str, str | None], backward: dict[str, str | None]
) -> list[str]:
    path: list[str] = []
    node: str | None = meeting
    while node is not None:
        path.append(node)
        node = forward[node]
    path.reverse()
    node = backward[meeting]
    while node is not None:
        path.append(node)
        node = backward[node]
    return path


# --- Subgraphs, centrality, groups --------------------------------------------------------


def _collection_nodes(session: Session, collection_id: uuid.UUID, limit: int) -> list[str]:
    from krsn.osint.models import CollectionItem, EntitySource

    ids = session.scalars(
        select(EntitySource.entity_id)
        .join(CollectionItem, CollectionItem.id == EntitySource.collection_item_id)
        .where(CollectionItem.collection_id == collection_id)
        .distinct()
        .limit(limit + 1)
    ).all()
    return [f"entity:{i}" for i in ids]


def subgraph(
    session: Session,
    *,
    around: NodeRef | None = None,
    collection_id: uuid.UUID | None = None,
    depth: int = 2,
    max_nodes: int = 5000,
) -> tuple[ig.Graph, list[str], str, list[str]]:
    """The graph to analyse, its node names by vertex, a name for it, and what capped it."""
    if around is not None and collection_id is not None:
        raise Invalid("scope", "give a node or a collection, not both")
    if around is not None:
        nodes, edges, reasons = explore(
            session, node=around, depth=depth, max_nodes=max_nodes, per_node=DEFAULT_PER_NODE
        )
        index = {n: i for i, n in enumerate(nodes)}
        pairs = {
            (min(index[e.source], index[e.target]), max(index[e.source], index[e.target]))
            for e in edges
            if e.source in index and e.target in index and e.source != e.target
        }
        return ig.Graph(n=len(nodes), edges=sorted(pairs)), nodes, f"around {around}", reasons
    projection = projection_for(session)
    if collection_id is not None:
        members = _collection_nodes(session, collection_id, max_nodes)
        reasons = [f"the collection has more than {max_nodes} entities"] * (
            len(members) > max_nodes
        )
        members = members[:max_nodes]
        with projection.lock:
            vertices = [v for m in members if (v := projection.vertex_of(m)) is not None]
            graph = projection.graph.induced_subgraph(vertices)
            names = [projection.name_of(v) or "" for v in vertices]
        # Entities of the collection with no edge yet are nodes all the same.
        present = set(names)
        lonely = [m for m in members if m not in present]
        if lonely:
            graph.add_vertices(len(lonely))
            names.extend(lonely)
        return graph, names, f"collection {collection_id}", reasons
    with projection.lock:
        return projection.graph, list(projection.names), "graph", []  # type: ignore[arg-type]


def _scores(graph: ig.Graph, algorithm: Algorithm, whole: bool) -> tuple[list[float], str | None]:
    if algorithm is Algorithm.PAGERANK:
        return list(graph.pagerank(directed=False)), None
    if algorithm is Algorithm.DEGREE:
        return [float(d) for d in graph.degree()], None
    if whole or graph.vcount() > EXACT_BETWEENNESS_NODES:
        values = graph.betweenness(directed=False, cutoff=BETWEENNESS_CUTOFF)
        return list(values), (
            f"betweenness estimated over paths of at most {BETWEENNESS_CUTOFF} hops "
            f"({graph.vcount()} nodes)"
        )
    return list(graph.betweenness(directed=False)), None


def rank(
    session: Session,
    *,
    algorithm: Algorithm = Algorithm.PAGERANK,
    around: NodeRef | None = None,
    collection_id: uuid.UUID | None = None,
    depth: int = 2,
    limit: int = 20,
    max_nodes: int = 5000,
) -> RankResult:
    """The ``limit`` most central nodes of a neighbourhood, a collection or the whole graph."""
    graph, names, scope, reasons = subgraph(
        session, around=around, collection_id=collection_id, depth=depth, max_nodes=max_nodes
    )
    whole = scope == "graph"
    values, note = _scores(graph, algorithm, whole)
    if note:
        reasons.append(note)
    live = [v for v in range(len(values)) if v < len(names) and names[v]]
    top = sorted(live, key=lambda v: (-values[v], names[v]))[:limit]
    labels = label_nodes(session, [names[v] for v in top])
    return RankResult(
        algorithm=algorithm,
        scope=scope,
        nodes_considered=len(live),
        edges_considered=graph.ecount(),
        items=[
            RankedNode(**label.model_dump(), rank=i + 1, value=round(values[v], 8))
            for i, (v, label) in enumerate(zip(top, labels, strict=True))
        ],
        truncated=bool(reasons),
        reason="; ".join(reasons) or None,
    )


def groups(
    session: Session,
    *,
    algorithm: CommunityAlgorithm | None = None,
    around: NodeRef | None = None,
    collection_id: uuid.UUID | None = None,
    depth: int = 2,
    limit: int = 20,
    members: int = 10,
    max_nodes: int = 5000,
) -> GroupsResult:
    """Connected components (no algorithm) or communities of a subgraph, largest first;
    nodes without any edge are not counted as components of their own."""
    graph, names, scope, reasons = subgraph(
        session, around=around, collection_id=collection_id, depth=depth, max_nodes=max_nodes
    )
    modularity = None
    if algorithm is None:
        clustering = graph.connected_components()
        name = "components"
    else:
        if algorithm is CommunityAlgorithm.LEIDEN:
            clustering = graph.community_leiden(objective_function="modularity", n_iterations=-1)
        elif algorithm is CommunityAlgorithm.LOUVAIN:
            clustering = graph.community_multilevel()
        else:
            clustering = graph.community_label_propagation()
        modularity = round(float(graph.modularity(clustering.membership)), 6)
        name = algorithm.value
    degrees = graph.degree()
    found = []
    for cluster in clustering:
        live = [v for v in cluster if v < len(names) and names[v]]
        # An isolated node (or a deleted one) is not a group worth showing.
        if len(live) < 2 and not (len(live) == 1 and degrees[live[0]] > 0):
            continue
        found.append(live)
    found.sort(key=lambda c: -len(c))
    shown = found[:limit]
    wanted = [sorted(c, key=lambda v: (-degrees[v], names[v]))[:members] for c in shown]
    labels = iter(label_nodes(session, [names[v] for c in wanted for v in c]))
    by_name: dict[str, NodeLabel] = {}
    result = []
    for cluster, top in zip(shown, wanted, strict=True):
        picked = []
        for v in top:
            label = by_name.get(names[v]) or next(labels)
            by_name[names[v]] = label
            picked.append(label)
        result.append(Group(size=len(cluster), members=picked))
    if len(found) > limit:
        reasons.append(f"{len(found)} groups; the {limit} largest shown")
    return GroupsResult(
        scope=scope,
        algorithm=name,
        count=len(found),
        nodes_considered=sum(1 for n in names if n),
        modularity=modularity,
        groups=result,
        truncated=bool(reasons),
        reason="; ".join(reasons) or None,
    )


# --- Analysts' links ----------------------------------------------------------------------


def link(
    session: Session,
    *,
    actor: Actor,
    source: NodeRef,
    target: NodeRef,
    type: RelationshipType,
    asserted_by: str | None = None,
    confidence: float | None = None,
    properties: dict[str, Any] | None = None,
) -> EdgeRead:
    """An analyst's RELATED_TO edge of ``type`` from ``source`` to ``target``; audited."""
    if source == target:
        raise Invalid("target", "a node cannot be linked to itself")
    missing = [label.node for label in label_nodes(session, [str(source), str(target)])
               if not label.exists]  # fmt: skip
    if missing:
        raise NotFound(f"No such node: {', '.join(missing)}.")
    spec = EdgeSpec(
        source=source,
        target=target,
        type=type,
        confidence=confidence,
        asserted_by=asserted_by or "analyst",
        properties=properties or {},
    )
    if add_edges(session, [spec]) == 0:
        raise Conflict(f"{source} is already linked to {target} as {type.value}.")
    table = EntityRelationship.__table__
    edge_id = session.scalar(
        select(table.c.id).where(
            table.c.source_kind == source.kind.value,
            table.c.source_id == source.id,
            table.c.target_kind == target.kind.value,
            table.c.target_id == target.id,
            table.c.relation == EdgeRelation.RELATED_TO.value,
            table.c.type == type.value,
        )
    )
    read = EdgeRead(
        source=str(source),
        target=str(target),
        relation=EdgeRelation.RELATED_TO.value,
        type=type.value,
        id=str(edge_id),
        confidence=confidence,
        asserted_by=spec.asserted_by,
    )
    audit.record(
        session,
        actor=actor,
        action="graph.link",
        resource_type="entity_relationship",
        resource_id=edge_id,
        new_values=read.model_dump(mode="json") | {"properties": spec.properties},
    )
    return read


def unlink(
    session: Session,
    *,
    actor: Actor,
    source: NodeRef,
    target: NodeRef,
    type: RelationshipType,
) -> LinkRemoved:
    """Remove the RELATED_TO edges of ``type`` between two nodes (either way); audited."""
    specs = [
        EdgeSpec(source=a, target=b, type=type) for a, b in ((source, target), (target, source))
    ]
    removed = remove_edges(session, specs)
    if removed == 0:
        raise NotFound(f"{source} and {target} are not linked as {type.value}.")
    result = LinkRemoved(source=str(source), target=str(target), type=type, removed=removed)
    audit.record(
        session,
        actor=actor,
        action="graph.unlink",
        resource_type="entity_relationship",
        resource_id=f"{source}|{target}",
        old_values=result.model_dump(mode="json"),
    )
    return result


def node_kinds(values: Iterable[str]) -> frozenset[NodeKind]:
    """Node kinds named by a caller, checked."""
    try:
        return frozenset(NodeKind(v.strip().lower()) for v in values if v.strip())
    except ValueError as exc:
        raise Invalid("kind", f"{exc}; one of {', '.join(k.value for k in NodeKind)}") from exc


def relationship_types(values: Iterable[str]) -> frozenset[RelationshipType]:
    """Relationship types named by a caller, checked."""
    try:
        return frozenset(RelationshipType(v.strip().upper()) for v in values if v.strip())
    except ValueError as exc:
        choices = ", ".join(t.value for t in RelationshipType)
        raise Invalid("type", f"{exc}; one of {choices}") from exc
