"""What crosses the graph's boundary: nodes with their labels, edges, and query results."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, Field

from krsn.osint.models import NodeKind, RelationshipType


class NodeLabel(BaseModel):
    """A node as shown: what it is called and its score (risk or threat score, 0..100)."""

    node: str = Field(description="The node written kind:id.")
    kind: NodeKind
    id: str
    label: str
    type: str | None = Field(None, description="Entity or indicator type, tactic, status …")
    score: float | None = Field(None, description="Risk score of an entity, threat score of an "
                                "indicator, reliability of a source; none otherwise.")  # fmt: skip
    exists: bool = Field(True, description="False when the node's row is gone or unknown.")


class EdgeRead(BaseModel):
    """One edge; ``id`` is None for links kept in the threat-intel tables (``origin``)."""

    source: str
    target: str
    relation: str
    type: str | None = None
    id: str | None = None
    origin: str = "entity_relationships"
    confidence: float | None = None
    asserted_by: str | None = None
    detail: str | None = None


class GraphResult(BaseModel):
    """A piece of the graph; ``truncated`` says a cap left something out, ``reason`` which."""

    nodes: list[NodeLabel]
    edges: list[EdgeRead]
    truncated: bool = False
    reason: str | None = None


class PathResult(GraphResult):
    """The shortest path from ``source`` to ``target``, nodes in order; none when not found."""

    found: bool
    length: int | None = None
    method: str = Field(description="'projection' (in memory) or 'sql' (bidirectional search).")


class Algorithm(enum.StrEnum):
    PAGERANK = "pagerank"
    DEGREE = "degree"
    BETWEENNESS = "betweenness"


class CommunityAlgorithm(enum.StrEnum):
    LEIDEN = "leiden"
    LOUVAIN = "louvain"
    LABEL_PROPAGATION = "label_propagation"


class RankedNode(NodeLabel):
    rank: int
    value: float


class RankResult(BaseModel):
    """The nodes of a subgraph by centrality, highest first."""

    algorithm: Algorithm
    scope: str = Field(description="'around <node>', 'collection <id>' or 'graph'.")
    nodes_considered: int
    edges_considered: int
    items: list[RankedNode]
    truncated: bool = False
    reason: str | None = None


class Group(BaseModel):
    """A component or community: its size and its first members (by degree)."""

    size: int
    members: list[NodeLabel]


class GroupsResult(BaseModel):
    """Connected components or communities of a subgraph, largest first."""

    scope: str
    algorithm: str
    count: int
    nodes_considered: int
    modularity: float | None = None
    groups: list[Group]
    truncated: bool = False
    reason: str | None = None


class LinkCreate(BaseModel):
    """An analyst's RELATED_TO edge between two nodes."""

    source: str = Field(description="kind:id, or entity_type:value (domain:example.com).")
    target: str = Field(description="kind:id, or entity_type:value.")
    type: RelationshipType
    confidence: float | None = Field(None, ge=0, le=1)
    properties: dict[str, Any] = Field(default_factory=dict)


class LinkRemoved(BaseModel):
    source: str
    target: str
    type: RelationshipType
    removed: int


class ProjectionStats(BaseModel):
    nodes: int
    edges: int
    load_seconds: float
    age_seconds: float | None
