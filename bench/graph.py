"""The graph: 2-hop neighbourhoods, shortest paths and PageRank on a generated graph.

Generates ``--nodes`` entities (1,000,000 by default) joined by about five edges each
(5,000,000) with non-linear preferential attachment (igraph's Barabási–Albert generator,
power 1.1): a few hubs with tens of thousands of edges, as real link graphs have. Loads them
into a SQLite file and a throwaway PostgreSQL database (``executemany`` and ``COPY``, the
secondary indexes built after the rows; filling is not what is measured). ``--keep DIR``
keeps the SQLite file and the PostgreSQL database (named after the size) between runs.

Then measures, through the service functions the API and the CLI call:

- ``neighbours(depth=2)`` from ``--queries`` random nodes (and the ten biggest hubs), with
  the default caps (100 edges per node, 1,000 nodes), labels included, on both engines; each
  uncapped answer is checked against igraph's 2-hop neighbourhood;
- ``shortest_path`` between random pairs through the in-memory projection (after loading
  it: its load time and size are printed) and through the batched bidirectional SQL
  search, on both engines; every length is checked against igraph's;
- PageRank over the whole graph (``rank``, with the top 20 labelled);
- the same 2-hop sets, paths and PageRank through networkx on the same graph, the reference.

Prints a table and one JSON line.

    python bench/graph.py [--nodes 1000000] [--degree 5] [--queries 200] [--keep DIR]
                          [--postgres URL] [--no-postgres] [--no-networkx]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import igraph as ig
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from krsn.db import Database
from krsn.db.migrate import upgrade
from krsn.osint.graph import service
from krsn.osint.graph.edges import NodeRef
from krsn.osint.graph.projection import forget, projection_for

STAMP = "2025-01-01 00:00:00.000000"
# Built after the rows: one sorted build is far cheaper than five million index updates.
SECONDARY = {
    "idx_entity_relationships_source": "(source_kind, source_id)",
    "idx_entity_relationships_target": "(target_kind, target_id)",
    "idx_entity_relationships_target_cover": (
        "(target_kind, target_id, source_kind, source_id, relation, type)"
    ),
    "idx_entity_relationships_relation": "(relation, type)",
    "idx_entity_relationships_collection_id": "(collection_id)",
    "idx_entity_relationships_created_at": "(created_at)",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def generate(nodes: int, degree: int, seed: int) -> tuple[ig.Graph, list[str]]:
    random.seed(seed)
    graph = ig.Graph.Barabasi(nodes, degree, power=1.1, zero_appeal=1)
    graph.simplify()
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(nodes)]
    return graph, ids


def _edge_rows(graph: ig.Graph, ids: list[str], *, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(11)
    for a, b in graph.get_edgelist():
        # Half the edges point each way, so both indexes of a neighbourhood are exercised.
        if rng.random() < 0.5:
            a, b = b, a
        edge_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        yield (
            edge_id.hex if sqlite else str(edge_id),
            "entity", ids[a], "entity", ids[b], "RELATED_TO", "ASSOCIATED_WITH", "{}", STAMP,
        )  # fmt: skip


def _entity_rows(ids: list[str], *, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    for i, ident in enumerate(ids):
        value = uuid.UUID(ident)
        name = f"org-{i}.example.com"
        yield (value.hex if sqlite else ident, "domain", name, name, i % 101, STAMP, STAMP)


EDGE_COLUMNS = (
    "id, source_kind, source_id, target_kind, target_id, relation, type, properties, created_at"
)
ENTITY_COLUMNS = "id, entity_type, name, normalized_name, risk_score, created_at, updated_at"


def load(database: Database, graph: ig.Graph, ids: list[str]) -> float:
    started = time.perf_counter()
    sqlite = database.dialect == "sqlite"
    with database.engine.begin() as connection:
        for name in SECONDARY:
            connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
        raw = connection.connection.driver_connection
        if sqlite:
            raw.executemany(  # type: ignore[union-attr]
                f"INSERT INTO entities ({ENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                _entity_rows(ids, sqlite=True),
            )
            raw.executemany(  # type: ignore[union-attr]
                f"INSERT INTO entity_relationships ({EDGE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _edge_rows(graph, ids, sqlite=True),
            )
        else:
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                for table, columns, rows in (
                    ("entities", ENTITY_COLUMNS, _entity_rows(ids, sqlite=False)),
                    ("entity_relationships", EDGE_COLUMNS, _edge_rows(graph, ids, sqlite=False)),
                ):
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        for name, columns in SECONDARY.items():
            connection.execute(text(f"CREATE INDEX {name} ON entity_relationships {columns}"))
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def count_edges(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(text("SELECT count(*) FROM entity_relationships")).scalar_one()
        )


@contextmanager
def postgres_database(server: str, name: str | None) -> Iterator[tuple[str, bool]]:
    """A PostgreSQL URL, and whether it already holds the graph (kept from a previous run)."""
    import psycopg

    plain = server.replace("postgresql+psycopg://", "postgresql://")
    base = server.rsplit("/", 1)[0]
    keep = name is not None
    name = name or f"krsn_bench_graph_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}", bool(exists)
    finally:
        if not keep:
            with psycopg.connect(plain, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(work: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


def measure_engine(
    label: str,
    database: Database,
    graph: ig.Graph,
    ids: list[str],
    starts: list[int],
    pairs: list[tuple[int, int]],
    sql_pairs: list[tuple[int, int]],
) -> dict[str, Any]:
    node = lambda v: NodeRef.of("entity", ids[v])  # noqa: E731
    out: dict[str, Any] = {"engine": label}
    times, capped, checked, mismatched = [], 0, 0, 0
    with database.transaction(readonly=True) as session:
        for v in starts[:5]:  # warm the caches as a running server's would be
            service.neighbours(session, node=node(v), depth=2)
        for v in starts:
            ms, result = timed(service.neighbours, session, node=node(v), depth=2)
            times.append(ms)
            if result.truncated:
                capped += 1
                continue
            checked += 1
            expected = {ids[u] for u in graph.neighborhood(v, order=2)}
            if {n.id for n in result.nodes} != expected:
                mismatched += 1
    out |= {
        "2hop_p50_ms": percentile(times, 0.5),
        "2hop_p95_ms": percentile(times, 0.95),
        "2hop_capped": capped,
        "2hop_checked": checked,
        "2hop_mismatched": mismatched,
    }
    forget(database.engine)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with database.transaction(readonly=True) as session:
        load_ms, projection = timed(lambda: projection_for(session))
    out["projection_load_s"] = load_ms / 1000
    out["projection_peak_rss_gb"] = (
        max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rss_before) / 1024 / 1024
    )
    for method, how, chosen in (("path", "projection", pairs), ("sql_path", "sql", sql_pairs)):
        times, wrong, notfound = [], 0, 0
        with database.transaction(readonly=True) as session:
            for a, b in chosen:
                ms, result = timed(
                    service.shortest_path, session, source=node(a), target=node(b), method=how
                )
                times.append(ms)
                expected = graph.distances(a, b)[0][0]
                if not result.found:
                    notfound += 1
                elif result.length != expected:
                    wrong += 1
        out[f"{method}_p50_ms"] = percentile(times, 0.5)
        out[f"{method}_p95_ms"] = percentile(times, 0.95)
        out[f"{method}_wrong"] = wrong
        out[f"{method}_not_found"] = notfound
    with database.transaction(readonly=True) as session:
        ms, ranked = timed(lambda: service.rank(session, limit=20))
    out["pagerank_s"] = ms / 1000
    best = max(range(graph.vcount()), key=graph.pagerank(directed=False).__getitem__)
    out["pagerank_top_matches_igraph"] = ranked.items[0].id == ids[best]
    forget(database.engine)
    del projection
    gc.collect()
    return out


def measure_networkx(
    graph: ig.Graph, starts: list[int], pairs: list[tuple[int, int]]
) -> dict[str, Any]:
    import networkx as nx

    started = time.perf_counter()
    reference = nx.Graph()
    reference.add_nodes_from(range(graph.vcount()))
    reference.add_edges_from(graph.get_edgelist())
    out: dict[str, Any] = {"engine": "networkx", "load_s": time.perf_counter() - started}
    times = []
    for v in starts:
        ms, _ = timed(nx.single_source_shortest_path_length, reference, v, cutoff=2)
        times.append(ms)
    out["2hop_p50_ms"], out["2hop_p95_ms"] = percentile(times, 0.5), percentile(times, 0.95)
    times, wrong = [], 0
    for a, b in pairs:
        ms, path = timed(nx.shortest_path, reference, a, b)
        times.append(ms)
        wrong += len(path) - 1 != graph.distances(a, b)[0][0]
    out["path_p50_ms"], out["path_p95_ms"] = percentile(times, 0.5), percentile(times, 0.95)
    out["path_wrong"] = wrong
    try:
        ms, _ = timed(lambda: nx.pagerank(reference))
    except ImportError:
        # nx.pagerank needs SciPy; the pure-Python reference is what remains without it.
        from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

        ms, _ = timed(lambda: _pagerank_python(reference))
        out["pagerank_impl"] = "pure python (no scipy)"
    out["pagerank_s"] = ms / 1000
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--degree", type=int, default=5, help="Edges each new node brings.")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sql-paths", type=int, default=50, help="Pairs for the SQL search.")
    parser.add_argument("--seed", type=int, default=20251126)
    parser.add_argument("--keep", type=Path, help="Keep the stores here (and reuse them).")
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-networkx", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    graph, ids = generate(args.nodes, args.degree, args.seed)
    degrees = graph.degree()
    print(
        f"generated {graph.vcount():,} nodes, {graph.ecount():,} edges in "
        f"{time.perf_counter() - started:.1f}s; top degrees {sorted(degrees)[-5:][::-1]}",
        file=sys.stderr,
    )
    rng = random.Random(args.seed)
    hubs = sorted(range(graph.vcount()), key=degrees.__getitem__)[-10:]
    starts = [rng.randrange(graph.vcount()) for _ in range(args.queries - len(hubs))] + hubs
    rng.shuffle(starts)
    pairs = [tuple(rng.sample(range(graph.vcount()), 2)) for _ in range(args.queries)]
    sql_pairs = pairs[: args.sql_paths]
    size = f"{args.nodes}_{args.degree}_{args.seed}"
    results: list[dict[str, Any]] = []

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="krsn-bench-graph-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sqlite_path = workdir / f"graph_{size}.db"
    engines: list[tuple[str, Any]] = [("sqlite", nullcontext((f"sqlite:///{sqlite_path}", None)))]
    if not args.no_postgres:
        keep_name = f"krsn_bench_graph_{size}" if args.keep else None
        engines.append(("postgresql", postgres_database(args.postgres, keep_name)))
    for label, context in engines:
        with context as (url, _existed):
            fresh = not sqlite_path.exists() if label == "sqlite" else not _existed
            if fresh:
                upgrade(url)
            database = Database(url)
            try:
                if count_edges(database) != graph.ecount():
                    if count_edges(database):
                        raise SystemExit(f"{url} holds another graph; remove it or change --keep")
                    seconds = load(database, graph, ids)
                    print(f"{label}: loaded in {seconds:.0f}s", file=sys.stderr)
                results.append(
                    measure_engine(label, database, graph, ids, starts, pairs, sql_pairs)  # type: ignore[arg-type]
                )
                print(json.dumps(results[-1]), file=sys.stderr)
            finally:
                database.dispose()
    if not args.no_networkx:
        results.append(measure_networkx(graph, starts, pairs))  # type: ignore[arg-type]
    if not args.keep:
        sqlite_path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)

    igraph_started = time.perf_counter()
    graph.pagerank(directed=False)
    igraph_pagerank = time.perf_counter() - igraph_started
    table = io.StringIO()
    columns = ["engine", "2hop_p50_ms", "2hop_p95_ms", "path_p50_ms", "path_p95_ms",
               "sql_path_p50_ms", "sql_path_p95_ms", "pagerank_s"]  # fmt: skip
    table.write(" | ".join(f"{c:>16}" for c in columns) + "\n")
    for row in results:
        table.write(
            " | ".join(
                f"{row.get(c, '-'):>16.2f}"
                if isinstance(row.get(c), float)
                else f"{row.get(c, '-'):>16}"
                for c in columns
            )
            + "\n"
        )
    print(table.getvalue())
    by = {row["engine"]: row for row in results}
    summary: dict[str, Any] = {"bench": "graph", "nodes": graph.vcount(), "edges": graph.ecount(),
                               "max_degree": max(degrees)}  # fmt: skip
    for label in ("sqlite", "postgresql"):
        found = by.get(label)
        short = "postgres" if label == "postgresql" else label
        if found is None:
            continue
        for key in ("2hop_p50_ms", "2hop_p95_ms", "path_p50_ms", "path_p95_ms",
                    "sql_path_p50_ms", "sql_path_p95_ms", "2hop_capped", "2hop_checked",
                    "2hop_mismatched", "path_wrong", "sql_path_wrong", "sql_path_not_found",
                    "projection_load_s", "projection_peak_rss_gb"):  # fmt: skip
            value = found[key]
            summary[f"{short}_{key}"] = round(value, 3) if isinstance(value, float) else value
    if "sqlite" in by:
        summary["pagerank_s"] = round(by["sqlite"]["pagerank_s"], 3)
        summary["pagerank_top_matches_igraph"] = by["sqlite"]["pagerank_top_matches_igraph"]
    summary["igraph_pagerank_s"] = round(igraph_pagerank, 3)
    if "networkx" in by:
        nx_row = by["networkx"]
        for key in ("2hop_p50_ms", "2hop_p95_ms", "path_p50_ms", "path_p95_ms", "pagerank_s",
                    "load_s"):  # fmt: skip
            summary[f"networkx_{key}"] = round(nx_row[key], 3)
        if "pagerank_impl" in nx_row:
            summary["networkx_pagerank_impl"] = nx_row["pagerank_impl"]
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
