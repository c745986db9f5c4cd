"""Full-text search on SQLite and PostgreSQL, through the search service, against the floors.

Generates entities (IOC-like names: domains, e-mails, addresses, URLs, organisations) and
documents (~2 KB each of a Zipfian vocabulary with some of those names mixed in), writes
them through the tables' triggers as the platform does, then times each query class
through ``krsn.osint.search.service.search`` (p50/p95 over ``--queries`` queries each):

- entity look-ups (a whole name), prefixes (``abcd*``) and substrings (part of a label);
- selective document queries: a rare word, two words (AND), a prefix;
- a common word (in about 21 % of documents) and a phrase of two common words.

In the same run it times the floors, the obvious approach that ranks every match and
then keeps 20 (FTS5 ``ORDER BY bm25``, PostgreSQL ``ORDER BY ts_rank`` on the same
indices, ``ILIKE '%x%'`` on entity names). Prints a table and, last, one JSON line.

    python bench/search.py [--entities 1000000] [--documents 200000]
        [--postgres URL] [--sqlite PATH] [--keep] [--queries 40] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from scratch_databases import scratch_postgres
from sqlalchemy import insert, text

from krsn.db import Database
from krsn.db.migrate import upgrade
from krsn.osint.models import Entity, EntityType, RawDocument
from krsn.osint.search import service
from krsn.osint.search.schemas import SearchIndex

VOCABULARY = 50_000
WORDS_PER_DOCUMENT = 300
ZIPF_S = 1.07
BATCH = 5_000
TLDS = ["com", "net", "org", "io", "ru", "cn", "info", "biz", "xyz", "top"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
CONSONANTS = "bcdfghklmnprstvz"
VOWELS = "aeiou"


def words(rng: np.random.Generator, count: int) -> list[str]:
    """Pronounceable, distinct made-up words (a Zipfian corpus needs a large vocabulary)."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        size = int(rng.integers(2, 5))
        word = "".join(
            CONSONANTS[int(rng.integers(len(CONSONANTS)))] + VOWELS[int(rng.integers(5))]
            for _ in range(size)
        )
        if rng.random() < 0.3:
            word += CONSONANTS[int(rng.integers(len(CONSONANTS)))]
        seen[word] = None
    return list(seen)


def entity_names(
    rng: np.random.Generator, vocab: list[str], count: int
) -> Iterator[tuple[str, str]]:
    """(type, name) pairs: domains, subdomains, e-mails, IPs, URLs and organisations."""
    pick = lambda: vocab[int(rng.integers(len(vocab)))]  # noqa: E731
    for i in range(count):
        kind = i % 10
        tld = TLDS[i % len(TLDS)]
        if kind < 4:
            yield EntityType.DOMAIN, f"{pick()}-{pick()}{i % 97}.{tld}"
        elif kind < 5:
            yield EntityType.DOMAIN, f"{pick()}.{pick()}{i % 89}.{tld}"
        elif kind < 6:
            yield EntityType.EMAIL, f"{pick()}.{pick()}{i % 83}@{pick()}.{tld}"
        elif kind < 7:
            yield (
                EntityType.IP_ADDRESS,
                f"{10 + i % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
            )
        elif kind < 8:
            yield EntityType.URL, f"https://{pick()}{i % 71}.{tld}/{pick()}/{pick()}.php?id={i}"
        else:
            yield EntityType.ORGANIZATION, f"{pick().title()}{pick()} {pick().title()} Holdings {i}"


def load(database: Database, *, entities: int, documents: int, seed: int = 7) -> dict[str, Any]:
    """Write the corpus and return what the query classes draw from."""
    rng = np.random.default_rng(seed)
    vocab = words(rng, VOCABULARY)
    started = time.perf_counter()
    names: list[str] = []
    rows: list[dict[str, Any]] = []
    for kind, name in entity_names(rng, vocab, entities):
        if len(names) < 20_000 and rng.random() < 0.05:
            names.append(name)
        rows.append(
            {
                "id": uuid.uuid4(),
                "entity_type": kind,
                "name": name,
                "normalized_name": name.lower(),
                "risk_score": int(rng.integers(0, 100)),
            }
        )
        if len(rows) == BATCH:
            with database.transaction() as session:
                session.execute(insert(Entity), rows)
            rows = []
    if rows:
        with database.transaction() as session:
            session.execute(insert(Entity), rows)
    entity_seconds = time.perf_counter() - started

    ranks = np.arange(1, VOCABULARY + 1, dtype=np.float64)
    weights = 1.0 / ranks**ZIPF_S
    weights /= weights.sum()
    share = 1.0 - (1.0 - weights) ** WORDS_PER_DOCUMENT
    started = time.perf_counter()
    adjacent: list[tuple[str, str]] = []
    batch: list[dict[str, Any]] = []
    for d in range(documents):
        drawn = rng.choice(VOCABULARY, size=WORDS_PER_DOCUMENT, p=weights)
        tokens = [vocab[i] for i in drawn]
        # IOC-like names in prose, as threat reports have them.
        for slot in rng.integers(0, WORDS_PER_DOCUMENT, size=3):
            tokens[int(slot)] = names[int(rng.integers(len(names)))]
        body = " ".join(tokens)
        if len(adjacent) < 2_000 and d % 37 == 0:
            at = int(rng.integers(0, 50))
            adjacent.append((tokens[at], tokens[at + 1]))
        batch.append(
            {
                "id": uuid.uuid4(),
                "content": body,
                "document_type": ("article", "report", "post")[d % 3],
                "source": f"source-{d % 50}",
                "hash": hashlib.sha256(body.encode()).hexdigest(),
            }
        )
        if len(batch) == 1_000:
            with database.transaction() as session:
                session.execute(insert(RawDocument), batch)
            batch = []
    if batch:
        with database.transaction() as session:
            session.execute(insert(RawDocument), batch)
    document_seconds = time.perf_counter() - started
    if database.dialect == "postgresql":
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return {
        "vocab": vocab,
        "share": share.tolist(),
        "names": names,
        "adjacent": adjacent,
        "entity_rows_per_s": round(entities / entity_seconds),
        "document_rows_per_s": round(documents / document_seconds),
    }


def query_classes(corpus: dict[str, Any], count: int, seed: int = 11) -> dict[str, list[str]]:
    """``count`` queries of each class, drawn from the corpus."""
    rng = np.random.default_rng(seed)
    vocab, share, names = corpus["vocab"], corpus["share"], corpus["names"]
    draw = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    rare = [w for w, s in zip(vocab, share, strict=True) if 0.0003 < s < 0.003]
    middle = [w for w, s in zip(vocab, share, strict=True) if 0.02 < s < 0.08]
    common_word = min(zip(vocab, share, strict=True), key=lambda p: abs(p[1] - 0.21))[0]
    commons = [w for w, s in zip(vocab, share, strict=True) if 0.10 < s < 0.40]
    labels = [n for n in names if "." in n and "@" not in n and "/" not in n]
    orgs = [n for n in names if " " in n]
    substrings = []
    for _ in range(count):
        name = draw(orgs).lower()
        start = int(rng.integers(1, max(2, len(name.split()[0]) - 5)))
        substrings.append(name[start : start + 5])
    return {
        "entity_lookup": [draw(names) for _ in range(count)],
        "entity_prefix": [draw(labels).split(".")[0][:4] + "*" for _ in range(count)],
        "entity_substring": substrings,
        "doc_rare": [draw(rare) for _ in range(count)],
        "doc_and": [f"{draw(middle)} {draw(middle)}" for _ in range(count)],
        "doc_prefix": [draw(middle)[:4] + "*" for _ in range(count)],
        "doc_common": [common_word] * (count // 2) + [draw(commons) for _ in range(count // 2)],
        "doc_phrase": [f'"{a} {b}"' for a, b in (draw(corpus["adjacent"]) for _ in range(count))],
    }


INDICES = {
    "entity": (SearchIndex.ENTITIES,),
    "doc": (SearchIndex.DOCUMENTS,),
}


def timed(function: Callable[[], Any], repeat: list[float]) -> None:
    started = time.perf_counter()
    function()
    repeat.append((time.perf_counter() - started) * 1000)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return round(statistics.median(ordered), 2), round(p95, 2)


def run_service(
    database: Database, classes: dict[str, list[str]]
) -> dict[str, tuple[float, float]]:
    results: dict[str, tuple[float, float]] = {}
    with database.transaction(readonly=True) as session:
        for name, queries in classes.items():
            indices = INDICES[name.split("_")[0]]
            for q in queries[:3]:  # warm the caches the way a running server has them
                service.search(session, q=q, indices=indices)
            samples: list[float] = []
            for q in queries:
                timed(lambda q=q, i=indices: service.search(session, q=q, indices=i), samples)
            results[name] = percentiles(samples)
    return results


def run_floors(database: Database, classes: dict[str, list[str]]) -> dict[str, tuple[float, float]]:
    """The obvious approach: every match ranked, then LIMIT 20."""
    from krsn.osint.search.query import parse

    results: dict[str, tuple[float, float]] = {}
    postgresql = database.dialect == "postgresql"
    with database.engine.connect() as connection:
        for name in ("doc_common", "doc_phrase", "entity_substring"):
            samples: list[float] = []
            for q in classes[name]:
                if name == "entity_substring":
                    if not postgresql:
                        continue
                    sql = "SELECT id FROM entities WHERE name ILIKE :p LIMIT 20"
                    params: dict[str, Any] = {"p": f"%{q}%"}
                elif postgresql:
                    sql = (
                        "SELECT id FROM fts_raw_documents WHERE vector @@ to_tsquery('simple', :q) "
                        "ORDER BY ts_rank(vector, to_tsquery('simple', :q)) DESC LIMIT 20"
                    )
                    params = {"q": parse(q).tsquery()}
                else:
                    sql = (
                        "SELECT rowid FROM fts_raw_documents WHERE fts_raw_documents MATCH :q "
                        "ORDER BY bm25(fts_raw_documents) LIMIT 20"
                    )
                    params = {"q": parse(q).fts5()}
                timed(
                    lambda sql=sql, params=params: connection.execute(text(sql), params).all(),
                    samples,
                )
            if samples:
                results[f"floor_{name}"] = percentiles(samples)
    return results


@contextmanager
def sqlite_database(path: str | None, keep: bool) -> Iterator[tuple[str, bool]]:
    if path:
        yield f"sqlite:///{path}", Path(path).exists() and keep
        return
    with tempfile.TemporaryDirectory(prefix="krsn-bench-search-") as folder:
        yield f"sqlite:///{Path(folder) / 'search.db'}", False


@contextmanager
def postgres_database(server: str, keep: bool) -> Iterator[tuple[str, bool]]:
    if keep:
        import psycopg

        name = "krsn_bench_search"
        plain = server.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{name}"')
        yield server.rsplit("/", 1)[0] + f"/{name}", bool(exists)
        return
    with scratch_postgres(server) as url:
        yield url, False


def bench_engine(url: str, reuse: bool, args: argparse.Namespace) -> dict[str, Any]:
    upgrade(url)
    database = Database(url)
    try:
        if reuse:
            print(f"reusing {database.dialect} corpus", file=sys.stderr)
            corpus = load_corpus_facts(args)
        else:
            print(f"loading {database.dialect} corpus…", file=sys.stderr)
            corpus = load(database, entities=args.entities, documents=args.documents)
            save_corpus_facts(args, corpus)
        classes = query_classes(corpus, args.queries)
        figures: dict[str, Any] = {"service": run_service(database, classes)}
        figures["floors"] = run_floors(database, classes)
        figures["load"] = {k: corpus.get(k) for k in ("entity_rows_per_s", "document_rows_per_s")}
        return figures
    finally:
        database.dispose()


def _facts_path(args: argparse.Namespace) -> Path:
    return Path(tempfile.gettempdir()) / f"krsn-bench-search-{args.entities}-{args.documents}.json"


def save_corpus_facts(args: argparse.Namespace, corpus: dict[str, Any]) -> None:
    if args.keep:
        _facts_path(args).write_text(json.dumps(corpus))


def load_corpus_facts(args: argparse.Namespace) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_facts_path(args).read_text())
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--sqlite", default=None, help="A SQLite file to use (kept).")
    parser.add_argument("--keep", action="store_true", help="Reuse the corpus of a kept run.")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = parser.parse_args()

    engines: dict[str, dict[str, Any]] = {}
    if args.only in (None, "sqlite"):
        with sqlite_database(args.sqlite, args.keep) as (url, reuse):
            engines["sqlite"] = bench_engine(url, reuse, args)
    if args.only in (None, "postgresql"):
        with postgres_database(args.postgres, args.keep) as (url, reuse):
            engines["postgresql"] = bench_engine(url, reuse, args)

    print(f"{args.entities:,} entities, {args.documents:,} documents; ms")
    print(f"{'query class':<24}" + "".join(f"{e + ' p50':>16}{e + ' p95':>16}" for e in engines))
    names = [
        *list(next(iter(engines.values()))["service"]),
        "floor_doc_common",
        "floor_doc_phrase",
        "floor_entity_substring",
    ]
    line: dict[str, Any] = {
        "bench": "search",
        "entities": args.entities,
        "documents": args.documents,
    }
    for name in names:
        cells = ""
        for engine, figures in engines.items():
            p50, p95 = figures["service"].get(name) or figures["floors"].get(name) or ("-", "-")
            cells += f"{p50!s:>16}{p95!s:>16}"
            if p95 != "-":
                line[f"{engine}_{name}_p50_ms"] = p50
                line[f"{engine}_{name}_p95_ms"] = p95
        print(f"{name:<24}{cells}")
    for engine, figures in engines.items():
        for key, value in figures["load"].items():
            line[f"{engine}_{key}"] = value
    print(json.dumps(line))


if __name__ == "__main__":
    main()
