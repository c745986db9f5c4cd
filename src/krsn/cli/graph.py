"""``krsn graph``: The link graph: neighbours, paths, rankings.

A NODE is written ``kind:id`` — ``entity:<uuid>``, ``indicator:<uuid>``, ``actor:<uuid>``,
``campaign:<uuid>``, ``source:<uuid>``, ``technique:T1059`` — or, for an entity,
``entity_type:value`` (``domain:example.com``, ``email:ops@example.com``), found by its
normalised name; ``indicator:<value>`` finds an indicator by its value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from krsn.cli.output import JsonOption, console, handled, print_json
from krsn.db import get_database
from krsn.identity.audit import Actor
from krsn.osint.graph import service
from krsn.osint.graph.expand import Filters
from krsn.osint.graph.labels import resolve_around, resolve_node
from krsn.osint.graph.projection import projection_for
from krsn.osint.graph.schemas import (
    Algorithm,
    CommunityAlgorithm,
    GraphResult,
    GroupsResult,
    NodeLabel,
    PathResult,
    RankResult,
)
from krsn.osint.models import RelationshipType

app = typer.Typer(help="The link graph: neighbours, paths, rankings.", no_args_is_help=True)

CLI = Actor(user_id=None, via="cli")
T = TypeVar("T")

NodeArgument = typer.Argument(
    ..., help="kind:id (entity:<uuid>, technique:T1059) or entity_type:value (domain:x.com)."
)
TypeOption = typer.Option(None, "--type", help="Only edges of this type (repeatable).")
KindOption = typer.Option(None, "--kind", help="Only neighbours of this node kind (repeatable).")
AroundOption = typer.Option(None, "--around", help="The neighbourhood of this node.")
CollectionOption = typer.Option(None, "--collection", help="The entities of this collection.")
DepthOption = typer.Option(2, "--depth", min=1, max=service.MAX_DEPTH, help="Hops.")


@contextmanager
def _working(label: str, *, quiet: bool) -> Iterator[None]:
    """A spinner with elapsed time while the projection loads or an algorithm runs."""
    with Progress(
        SpinnerColumn(),
        TextColumn(f"[bold]{escape(label)}[/]"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    ) as progress:
        progress.add_task(label, total=None)
        yield


def _with_projection(label: str, quiet: bool, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` after loading the projection, showing progress for both."""
    with handled(), get_database().transaction(readonly=True) as session:
        with _working("loading the graph", quiet=quiet):
            projection_for(session)
        with _working(label, quiet=quiet):
            return work(session)


def _node_line(label: NodeLabel) -> str:
    score = f" score {label.score:g}" if label.score is not None else ""
    kind = f"{label.kind.value}/{label.type}" if label.type else label.kind.value
    return f"{label.label} [{kind}]{score}  {label.node}"


def _show_graph(result: GraphResult, title: str) -> None:
    table = Table(title=title)
    for column in ("node", "kind", "type", "label", "score"):
        table.add_column(column)
    for n in result.nodes:
        table.add_row(
            escape(n.node), n.kind.value, escape(n.type or "-"), escape(n.label),
            "-" if n.score is None else f"{n.score:g}",
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(result.nodes)} nodes, {len(result.edges)} edges")
    if result.truncated:
        console.print(f"[yellow]Truncated:[/] {escape(result.reason or '')}")


@app.command()
def neighbours(
    node: str = NodeArgument,
    depth: int = DepthOption,
    types: list[RelationshipType] | None = TypeOption,
    kinds: list[str] | None = KindOption,
    per_node: int = typer.Option(service.DEFAULT_PER_NODE, "--per-node", min=1, max=1000),
    max_nodes: int = typer.Option(service.DEFAULT_MAX_NODES, "--max-nodes", min=1, max=10_000),
    as_json: bool = JsonOption,
) -> None:
    """The nodes within --depth hops of NODE, and the edges among them (bounded work)."""
    with handled(), get_database().transaction(readonly=True) as session:
        ref = resolve_node(session, node)
        result = service.neighbours(
            session,
            node=ref,
            depth=depth,
            filters=Filters(types=frozenset(types or ()), kinds=service.node_kinds(kinds or ())),
            per_node=per_node,
            max_nodes=max_nodes,
        )
    if as_json:
        print_json(result)
        return
    _show_graph(result, f"{depth}-hop neighbourhood of {ref}")


@app.command()
def path(
    source: str = NodeArgument,
    target: str = NodeArgument,
    max_length: int | None = typer.Option(None, "--max-length", min=1, max=20),
    types: list[RelationshipType] | None = TypeOption,
    method: str = typer.Option("auto", "--method", help="auto, projection or sql."),
    as_json: bool = JsonOption,
) -> None:
    """A shortest path between two nodes, ignoring edge direction."""
    filters = Filters(types=frozenset(types or ()))

    def work(session: Session) -> PathResult:
        return service.shortest_path(
            session,
            source=resolve_node(session, source, field="source"),
            target=resolve_node(session, target, field="target"),
            max_length=max_length,
            filters=filters,
            method=method,
        )

    if method == "sql" or not filters.empty:
        with handled(), get_database().transaction(readonly=True) as session:
            result = work(session)
    else:
        result = _with_projection("searching", as_json, work)
    if as_json:
        print_json(result)
        return
    if not result.found:
        console.print(f"No path. {escape(result.reason or '')}".strip())
        return
    console.print(f"{result.length} hop(s), via {result.method}:")
    for i, label in enumerate(result.nodes):
        console.print(f"  {escape(_node_line(label))}", highlight=False)
        if i < len(result.edges):
            edge = result.edges[i]
            console.print(f"    —{edge.type or edge.relation}—", highlight=False)


@app.command()
def rank(
    algorithm: Algorithm = typer.Option(Algorithm.PAGERANK, "--algorithm"),
    around: str | None = AroundOption,
    collection: uuid.UUID | None = CollectionOption,
    depth: int = DepthOption,
    limit: int = typer.Option(20, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """The most central nodes of a neighbourhood, a collection, or the whole graph."""

    def work(session: Session) -> RankResult:
        return service.rank(
            session,
            algorithm=algorithm,
            around=resolve_around(session, around),
            collection_id=collection,
            depth=depth,
            limit=limit,
        )

    result = _with_projection(f"ranking by {algorithm.value}", as_json, work)
    if as_json:
        print_json(result)
        return
    table = Table(
        title=f"{algorithm.value} over {result.scope} "
        f"({result.nodes_considered} nodes, {result.edges_considered} edges)"
    )
    for column in ("rank", "value", "node", "label", "kind", "score"):
        table.add_column(column)
    for item in result.items:
        table.add_row(
            str(item.rank), f"{item.value:.6g}", escape(item.node), escape(item.label),
            item.kind.value, "-" if item.score is None else f"{item.score:g}",
        )  # fmt: skip
    console.print(table)
    if result.truncated:
        console.print(f"[yellow]Note:[/] {escape(result.reason or '')}")


def _show_groups(result: GroupsResult) -> None:
    console.print(
        f"{result.count} {result.algorithm} over {result.scope} ({result.nodes_considered} nodes)"
        + (f", modularity {result.modularity:.4f}" if result.modularity is not None else "")
    )
    for i, group in enumerate(result.groups, 1):
        console.print(f"[bold]{i}.[/] {group.size} nodes")
        for member in group.members:
            console.print(f"    {escape(_node_line(member))}", highlight=False)
    if result.truncated:
        console.print(f"[yellow]Note:[/] {escape(result.reason or '')}")


def _groups(
    doing: str,
    algorithm: CommunityAlgorithm | None,
    around: str | None,
    collection: uuid.UUID | None,
    depth: int,
    limit: int,
    as_json: bool,
) -> None:
    """Components (no algorithm) or communities, over the scope the options name."""

    def work(session: Session) -> GroupsResult:
        return service.groups(
            session,
            algorithm=algorithm,
            around=resolve_around(session, around),
            collection_id=collection,
            depth=depth,
            limit=limit,
        )

    result = _with_projection(doing, as_json, work)
    if as_json:
        print_json(result)
        return
    _show_groups(result)


@app.command()
def components(
    around: str | None = AroundOption,
    collection: uuid.UUID | None = CollectionOption,
    depth: int = DepthOption,
    limit: int = typer.Option(20, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """Connected components, largest first, with their best-connected members."""
    _groups("finding components", None, around, collection, depth, limit, as_json)


@app.command()
def communities(
    algorithm: CommunityAlgorithm = typer.Option(CommunityAlgorithm.LEIDEN, "--algorithm"),
    around: str | None = AroundOption,
    collection: uuid.UUID | None = CollectionOption,
    depth: int = DepthOption,
    limit: int = typer.Option(20, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """Communities (Leiden, Louvain or label propagation), largest first."""
    doing = f"finding communities ({algorithm.value})"
    _groups(doing, algorithm, around, collection, depth, limit, as_json)


@app.command()
def link(
    source: str = NodeArgument,
    target: str = NodeArgument,
    type: RelationshipType = typer.Option(..., "--type", help="The RELATED_TO sub-type."),
    confidence: float | None = typer.Option(None, "--confidence", min=0, max=1),
    as_json: bool = JsonOption,
) -> None:
    """Link SOURCE to TARGET with a RELATED_TO edge of --type (audited)."""
    with handled(), get_database().transaction() as session:
        edge = service.link(
            session,
            actor=CLI,
            source=resolve_node(session, source, field="source"),
            target=resolve_node(session, target, field="target"),
            type=type,
            asserted_by="cli",
            confidence=confidence,
        )
    if as_json:
        print_json(edge)
        return
    console.print(f"Linked {edge.source} —{edge.type}→ {edge.target}", highlight=False)


@app.command()
def unlink(
    source: str = NodeArgument,
    target: str = NodeArgument,
    type: RelationshipType = typer.Option(..., "--type", help="The RELATED_TO sub-type."),
    as_json: bool = JsonOption,
) -> None:
    """Remove the RELATED_TO edges of --type between SOURCE and TARGET, either way (audited)."""
    with handled(), get_database().transaction() as session:
        result = service.unlink(
            session,
            actor=CLI,
            source=resolve_node(session, source, field="source"),
            target=resolve_node(session, target, field="target"),
            type=type,
        )
    if as_json:
        print_json(result)
        return
    console.print(f"Removed {result.removed} edge(s) of type {result.type.value}", highlight=False)
