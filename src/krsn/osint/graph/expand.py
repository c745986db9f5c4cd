"""Reading edges from the database: one node's incident edges with a cap per node, the edges
between two nodes, and every edge for a projection to load.

An edge is a row of ``entity_relationships`` or a link the threat-intel side keeps in its own
tables, read as an edge where it lies rather than copied (see ``docs/graph.md``):

- ``entities.indicator_id``: entity —SAME_AS→ indicator;
- ``campaign_indicators`` and ``actor_indicators``: indicator —INDICATES→ campaign / actor;
- ``indicator_techniques``: indicator —INDICATES→ technique.

Statements are written as text: a frontier of a hundred nodes is one statement of two
hundred small ``LIMIT`` sub-selects, which SQLAlchemy's compiler would take longer to build
than the databases take to answer. They name only this module's constants and validated
enum values; every value a caller gives is a bound parameter.
"""
# ruff: noqa: S608

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from krsn.osint.models import EdgeRelation, NodeKind, RelationshipType

ER = "entity_relationships"
# How many frontier nodes go into one statement (two sub-selects each).
CHUNK = 100


@dataclass(frozen=True, slots=True)
class Link:
    """A link table read as edges: ``left`` —``type``→ ``right``."""

    table: str
    left: str
    left_kind: NodeKind
    right: str
    right_kind: NodeKind
    type: RelationshipType
    left_is_uuid: bool = True
    right_is_uuid: bool = True
    # Extra columns shown as the edge's confidence and properties.
    confidence: str | None = None
    scale: float = 1.0
    extra: str | None = None


LINKS: tuple[Link, ...] = (
    Link("entities", "id", NodeKind.ENTITY, "indicator_id", NodeKind.INDICATOR,
         RelationshipType.SAME_AS),
    Link("campaign_indicators", "indicator_id", NodeKind.INDICATOR, "campaign_id",
         NodeKind.CAMPAIGN, RelationshipType.INDICATES, confidence="confidence_score",
         scale=0.01, extra="relationship_type"),
    Link("actor_indicators", "indicator_id", NodeKind.INDICATOR, "actor_id", NodeKind.ACTOR,
         RelationshipType.INDICATES, confidence="confidence_score", scale=0.01,
         extra="relationship_type"),
    Link("indicator_techniques", "indicator_id", NodeKind.INDICATOR, "technique_id",
         NodeKind.TECHNIQUE, RelationshipType.INDICATES, right_is_uuid=False,
         confidence="confidence_score", scale=0.01),
)  # fmt: skip


_LEFT_KINDS = frozenset(link.left_kind.value for link in LINKS)
_LINK_KINDS = _LEFT_KINDS | {link.right_kind.value for link in LINKS}


@dataclass(frozen=True, slots=True)
class Edge:
    """One edge as read: ends written ``kind:id``; ``id`` is None for a link-table edge."""

    source: str
    target: str
    relation: str
    type: str | None
    id: str | None
    origin: str
    confidence: float | None = None
    asserted_by: str | None = None
    detail: str | None = None

    def other(self, node: str) -> str:
        return self.target if self.source == node else self.source


@dataclass(frozen=True, slots=True)
class Filters:
    """Which edges and neighbours count: by relation, by sub-type, by the neighbour's kind."""

    relations: frozenset[EdgeRelation] = frozenset()
    types: frozenset[RelationshipType] = frozenset()
    kinds: frozenset[NodeKind] = frozenset()

    def allows_link(self, link: Link, neighbour: NodeKind) -> bool:
        if self.relations and EdgeRelation.RELATED_TO not in self.relations:
            return False
        if self.types and link.type not in self.types:
            return False
        return not self.kinds or neighbour in self.kinds

    @property
    def empty(self) -> bool:
        return not (self.relations or self.types or self.kinds)


def split(node: str) -> tuple[str, str]:
    kind, _, ident = node.partition(":")
    return kind, ident


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(_quote(v) for v in sorted(values))})"


def _uuid_param(value: str, dialect: str) -> str | None:
    """A node id as the engine stores a UUID column: 32 hex digits on SQLite."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return parsed.hex if dialect == "sqlite" else str(parsed)


def _uuid_text(value: Any) -> str:
    if isinstance(value, str) and len(value) == 32:
        # SQLite's storage form; slicing is several times cheaper than parsing.
        h = value.lower()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def _fraction(value: Any, scale: float = 1.0) -> float | None:
    if value is None:
        return None
    return round(float(Decimal(str(value))) * scale, 4)


def _er_filter(filters: Filters, neighbour_kind_column: str) -> str:
    parts = []
    if filters.relations:
        parts.append(_in("relation", (r.value for r in filters.relations)))
    if filters.types:
        parts.append(_in("type", (t.value for t in filters.types)))
    if filters.kinds:
        parts.append(_in(neighbour_kind_column, (k.value for k in filters.kinds)))
    return "".join(f" AND {p}" for p in parts)


def incident_edges(
    session: Session, nodes: Sequence[str], *, per_node: int, filters: Filters = Filters()
) -> dict[str, tuple[list[Edge], bool]]:
    """Up to ``per_node`` edges at each node, both directions, and whether more were there.

    Each node's rows are read through an index with a ``LIMIT``, so a hub with fifty
    thousand edges costs as much as any node: the work is bounded, not only the output.
    """
    found: dict[str, list[Edge]] = {node: [] for node in nodes}
    more: dict[str, bool] = dict.fromkeys(nodes, False)
    take = per_node + 1
    dialect = session.get_bind().dialect.name
    out_filter = _er_filter(filters, "target_kind")
    in_filter = _er_filter(filters, "source_kind")
    for start in range(0, len(nodes), CHUNK):
        chunk = nodes[start : start + CHUNK]
        if dialect == "postgresql":
            rows = _lateral(session, chunk, take, out_filter, in_filter)
        else:
            rows = _compound(session, chunk, take, out_filter, in_filter)
        for f, outgoing, nk, ni, relation, type_, ident, confidence, asserted in rows:
            node = chunk[f]
            other = f"{nk}:{ni}"
            found[node].append(
                Edge(
                    source=node if outgoing else other,
                    target=other if outgoing else node,
                    relation=relation,
                    type=type_,
                    id=_uuid_text(ident),
                    origin=ER,
                    confidence=_fraction(confidence),
                    asserted_by=asserted,
                )
            )
    _link_edges(session, nodes, take=take, filters=filters, dialect=dialect, into=found)
    result = {}
    for node, edges in found.items():
        # Each direction and each link table was read up to per_node + 1: more than
        # per_node in all means something was left out.
        result[node] = (edges[:per_node], more[node] or len(edges) > per_node)
    return result


_COLUMNS = "relation, type, id, confidence, source"


def _compound(
    session: Session, chunk: Sequence[str], take: int, out_filter: str, in_filter: str
) -> Any:
    """SQLite: one statement of a LIMIT sub-select per node and direction."""
    parts, params = [], {}
    for j, node in enumerate(chunk):
        kind, ident = split(node)
        params[f"k{j}"], params[f"i{j}"] = kind, ident
        parts.append(
            f"SELECT * FROM (SELECT {j} AS f, 1 AS o, target_kind AS nk, target_id AS ni, "
            f"{_COLUMNS} FROM {ER} WHERE source_kind = :k{j} AND source_id = :i{j}"
            f"{out_filter} LIMIT {take}) AS s{j}"
        )
        parts.append(
            f"SELECT * FROM (SELECT {j} AS f, 0 AS o, source_kind AS nk, source_id AS ni, "
            f"{_COLUMNS} FROM {ER} WHERE target_kind = :k{j} AND target_id = :i{j}"
            f"{in_filter} LIMIT {take}) AS t{j}"
        )
    return session.execute(text(" UNION ALL ".join(parts)), params)


def _lateral(
    session: Session, chunk: Sequence[str], take: int, out_filter: str, in_filter: str
) -> Any:
    """PostgreSQL: the nodes as two arrays and a LATERAL join, so the statement's text stays
    the same whatever the frontier and the server plans it once."""
    kinds, ids = zip(*(split(node) for node in chunk), strict=True)
    statement = (
        "SELECT f.n - 1, e.* FROM unnest(CAST(:kinds AS text[]), CAST(:ids AS text[])) "
        "WITH ORDINALITY AS f(k, i, n) CROSS JOIN LATERAL ("
        f"(SELECT 1 AS o, target_kind, target_id, {_COLUMNS} FROM {ER} "
        f"WHERE source_kind = f.k AND source_id = f.i{out_filter} LIMIT {take}) UNION ALL "
        f"(SELECT 0 AS o, source_kind, source_id, {_COLUMNS} FROM {ER} "
        f"WHERE target_kind = f.k AND target_id = f.i{in_filter} LIMIT {take})) AS e"
    )
    return session.execute(text(statement), {"kinds": list(kinds), "ids": list(ids)})


def _link_edges(
    session: Session,
    nodes: Sequence[str],
    *,
    take: int,
    filters: Filters,
    dialect: str,
    into: dict[str, list[Edge]],
) -> None:
    by_kind: dict[str, list[str]] = {}
    for node in nodes:
        by_kind.setdefault(split(node)[0], []).append(node)
    for link in LINKS:
        for side in ("left", "right"):
            kind = link.left_kind if side == "left" else link.right_kind
            neighbour = link.right_kind if side == "left" else link.left_kind
            members = by_kind.get(kind.value)
            if not members or not filters.allows_link(link, neighbour):
                continue
            here, there = (link.left, link.right) if side == "left" else (link.right, link.left)
            is_uuid = link.left_is_uuid if side == "left" else link.right_is_uuid
            there_uuid = link.right_is_uuid if side == "left" else link.left_is_uuid
            extra = ", ".join(c if c else "NULL" for c in (link.confidence, link.extra))
            parts: list[str] = []
            params: dict[str, str] = {}
            owners: list[str] = []
            for node in members:
                ident = split(node)[1]
                value = _uuid_param(ident, dialect) if is_uuid else ident
                if value is None:
                    continue
                j = len(owners)
                owners.append(node)
                params[f"v{j}"] = value
                parts.append(
                    f"SELECT * FROM (SELECT {j} AS f, {there} AS ni, {extra} FROM {link.table} "
                    f"WHERE {here} = :v{j} AND {there} IS NOT NULL LIMIT {take}) AS l{j}"
                )
            for start in range(0, len(parts), 2 * CHUNK):
                statement = " UNION ALL ".join(parts[start : start + 2 * CHUNK])
                for f, ni, confidence, detail in session.execute(text(statement), params):
                    node = owners[f]
                    other = f"{neighbour.value}:{_uuid_text(ni) if there_uuid else ni}"
                    left, right = (node, other) if side == "left" else (other, node)
                    into[node].append(
                        Edge(
                            source=left,
                            target=right,
                            relation=EdgeRelation.RELATED_TO.value,
                            type=link.type.value,
                            id=None,
                            origin=link.table,
                            confidence=_fraction(confidence, link.scale),
                            detail=None if detail is None else str(detail),
                        )
                    )


def all_neighbours(session: Session, nodes: Sequence[str], *, filters: Filters) -> list[Edge]:
    """Every edge at these nodes, without a cap (the caller caps how many nodes it asks for)."""
    if not nodes:
        return []
    # A cap far above any real degree reads everything through the same statement.
    capped = incident_edges(session, nodes, per_node=10**9, filters=filters)
    return [edge for edges, _ in capped.values() for edge in edges]


def degree_at_least(session: Session, node: str, count: int) -> bool:
    """Whether ``node`` has at least ``count`` edges: a bounded probe, not a count."""
    edges = incident_edges(session, [node], per_node=count)[node]
    return len(edges[0]) >= count


def all_pairs(session: Session, *, batch: int = 50_000) -> Iterator[list[tuple[str, str]]]:
    """Every edge's two ends, in batches, through the driver's cursor (a projection's load)."""
    connection = session.connection()
    for statement in (
        f"SELECT source_kind || ':' || source_id, target_kind || ':' || target_id FROM {ER}",
        *(_link_pairs(link, connection.dialect.name) for link in LINKS),
    ):
        cursor = connection.exec_driver_sql(statement)
        while chunk := cursor.fetchmany(batch):
            yield [(a, b) for a, b in chunk]


def _link_pairs(link: Link, dialect: str) -> str:
    def end(column: str, kind: NodeKind, is_uuid: bool) -> str:
        if is_uuid and dialect == "sqlite":
            # 32 hex digits stored; the graph names a node by the hyphenated form.
            value = (
                f"lower(substr({column},1,8) || '-' || substr({column},9,4) || '-' || "
                f"substr({column},13,4) || '-' || substr({column},17,4) || '-' || "
                f"substr({column},21))"
            )
        elif is_uuid:
            value = f"CAST({column} AS TEXT)"
        else:
            value = column
        return f"'{kind.value}:' || {value}"

    return (
        f"SELECT {end(link.left, link.left_kind, link.left_is_uuid)}, "
        f"{end(link.right, link.right_kind, link.right_is_uuid)} FROM {link.table} "
        f"WHERE {link.left} IS NOT NULL AND {link.right} IS NOT NULL"
    )


def connected(session: Session, a: str, b: str) -> bool:
    """Whether any edge, of any table, joins ``a`` and ``b``."""
    kind_a, id_a = split(a)
    kind_b, id_b = split(b)
    row = session.execute(
        text(
            f"SELECT 1 FROM {ER} WHERE source_kind = :ka AND source_id = :ia "
            f"AND target_kind = :kb AND target_id = :ib "
            f"UNION ALL SELECT 1 FROM {ER} WHERE source_kind = :kb AND source_id = :ib "
            f"AND target_kind = :ka AND target_id = :ia LIMIT 1"
        ),
        {"ka": kind_a, "ia": id_a, "kb": kind_b, "ib": id_b},
    ).first()
    if row is not None:
        return True
    dialect = session.get_bind().dialect.name
    for link in LINKS:
        for left, right in ((a, b), (b, a)):
            (lk, li), (rk, ri) = split(left), split(right)
            if lk != link.left_kind.value or rk != link.right_kind.value:
                continue
            lv = _uuid_param(li, dialect) if link.left_is_uuid else li
            rv = _uuid_param(ri, dialect) if link.right_is_uuid else ri
            if lv is None or rv is None:
                continue
            hit = session.execute(
                text(
                    f"SELECT 1 FROM {link.table} WHERE {link.left} = :l AND {link.right} = :r "
                    "LIMIT 1"
                ),
                {"l": lv, "r": rv},
            ).first()
            if hit is not None:
                return True
    return False


def between(session: Session, a: str, b: str) -> list[Edge]:
    """The edges joining ``a`` and ``b``, either way, of any table (a path's hops)."""
    kind_a, id_a = split(a)
    kind_b, id_b = split(b)
    found = []
    for sk, si, tk, ti, relation, type_, ident, confidence, asserted in session.execute(
        text(
            f"SELECT source_kind, source_id, target_kind, target_id, relation, type, id, "
            f"confidence, source FROM {ER} WHERE (source_kind = :ka AND source_id = :ia "
            f"AND target_kind = :kb AND target_id = :ib) OR (source_kind = :kb "
            f"AND source_id = :ib AND target_kind = :ka AND target_id = :ia)"
        ),
        {"ka": kind_a, "ia": id_a, "kb": kind_b, "ib": id_b},
    ):
        found.append(
            Edge(
                source=f"{sk}:{si}",
                target=f"{tk}:{ti}",
                relation=relation,
                type=type_,
                id=_uuid_text(ident),
                origin=ER,
                confidence=_fraction(confidence),
                asserted_by=asserted,
            )
        )
    if len(found) < 1:
        # A pair joined only through a link table: read that node's links (few per node).
        # The link tables' left ends (entities, indicators) have few links; start there.
        order = sorted(((a, b), (b, a)), key=lambda p: split(p[0])[0] not in _LEFT_KINDS)
        for node, other in order:
            edges, _ = incident_edges(
                session,
                [node],
                per_node=10_000,
                filters=Filters(
                    relations=frozenset({EdgeRelation.RELATED_TO}),
                    types=frozenset(link.type for link in LINKS),
                    kinds=frozenset({NodeKind(split(other)[0])}),
                ),
            )[node]
            found.extend(e for e in edges if e.origin != ER and e.other(node) == other)
            if found:
                break
    return found


def neighbour_pairs(
    session: Session, nodes: Sequence[str], *, filters: Filters = Filters()
) -> list[tuple[str, str]]:
    """Every (node, neighbour) pair at these nodes: only the ends, for searches that need no
    more (a path search reads hubs whole, so each row must cost as little as it can)."""
    pairs: list[tuple[str, str]] = []
    by_kind: dict[str, list[str]] = {}
    for node in nodes:
        kind, ident = split(node)
        by_kind.setdefault(kind, []).append(ident)
    dialect = session.get_bind().dialect.name
    out_filter = _er_filter(filters, "target_kind")
    in_filter = _er_filter(filters, "source_kind")
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            if dialect == "postgresql":
                where, params = "= ANY(CAST(:ids AS text[]))", {"k": kind, "ids": chunk}
            else:
                marks = ", ".join(f":i{j}" for j in range(len(chunk)))
                where = f"IN ({marks})"
                params = {"k": kind, **{f"i{j}": v for j, v in enumerate(chunk)}}
            rows = session.execute(
                text(
                    f"SELECT source_id, target_kind || ':' || target_id FROM {ER} "
                    f"WHERE source_kind = :k AND source_id {where}{out_filter} UNION ALL "
                    f"SELECT target_id, source_kind || ':' || source_id FROM {ER} "
                    f"WHERE target_kind = :k AND target_id {where}{in_filter}"
                ),
                params,
            )
            prefix = f"{kind}:"
            pairs.extend((prefix + here, there) for here, there in rows)
    linked = [node for node in nodes if split(node)[0] in _LINK_KINDS]
    if linked:
        found: dict[str, list[Edge]] = {node: [] for node in linked}
        _link_edges(session, linked, take=10**9, filters=filters, dialect=dialect, into=found)
        pairs.extend((node, edge.other(node)) for node, edges in found.items() for edge in edges)
    return pairs
