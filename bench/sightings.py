"""Sightings over HTTP: the real-time path, sustained, into a store of 1,000,000 indicators.

Builds the store as ``bench/lookup.py`` does (``--indicators``, 1 % of them nested CIDR
ranges; filled with one bulk insert, which is not measured), arms detection as a real
deployment is armed — a domain blacklist and an IP blacklist of ``--watchlist-items`` items
each, and an active pattern rule — then starts the real app as ``krsn serve`` does and POSTs
``--batches`` NDJSON batches of ``--batch`` sightings (value, time, host, sensor, log
source) from ``--workers`` connections, with an API key of the user role.

A batch is what a SIEM forwards: mostly values no feed knows, ``--known`` of them (5 % by
default) known indicators, defanged known values or addresses inside stored ranges, and a
few watchlisted values. Every known one is matched, stored as a sighting and raises or
updates an alert, so alerts deduplicate as they would in production.

Prints the rate, p50 and p95 per batch, what the batches raised, where the time of a batch
goes in this process, and one JSON line with the figures and, from the same run, the
lookup of the same observables (``POST /indicators/lookup``, the floor of matching without
detection) and the bare SQL floor.

    python bench/sightings.py [--indicators 1000000] [--batches 60] [--batch 5000]
                              [--workers 1] [--postgres URL] [--keep PATH] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from lookup import (
    api_key,
    bench_database,
    defang,
    floor_sql,
    inside,
    prepare,
    ranges,
    serve,
    single,
)
from sqlalchemy import func, select, text

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.models import Alert, Sighting
from krsn.detection.sightings.service import record_sightings
from krsn.heap import tune_for_batches
from krsn.identity.audit import Actor
from krsn.identity.models import Role

HOSTS = [f"ws-{n:03d}" for n in range(400)]
SOURCES = [("dns", "resolver-1"), ("proxy", "proxy-2"), ("firewall", "fw-edge"), ("edr", "edr")]
WATCHED = "watch{n}.example-bad.com"


def observables(args: argparse.Namespace, seed: int) -> list[list[dict[str, Any]]]:
    """The batches: ``known`` of them known values (plain, defanged, inside ranges), a
    few watchlisted domains, the rest values no feed reported."""
    rnd = random.Random(seed)
    cidrs = ranges(args.ranges)
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    made = []
    for _ in range(args.batches):
        batch = []
        for _ in range(args.batch):
            roll = rnd.random()
            if roll < args.known * 0.6:
                value = single(rnd.randrange(args.ranges, args.indicators))[1]
            elif roll < args.known * 0.8:
                value = defang(single(rnd.randrange(args.ranges, args.indicators))[1])
            elif roll < args.known:
                value = inside(rnd.choice(cidrs), rnd)
            elif roll < args.known + 0.001:
                value = WATCHED.format(n=rnd.randrange(args.watchlist_items))
            else:
                value = single(rnd.randrange(args.indicators, 2**31))[1]
            log_source, sensor = rnd.choice(SOURCES)
            batch.append(
                {
                    "value": value,
                    "observed_at": stamp,
                    "host": rnd.choice(HOSTS),
                    "sensor": sensor,
                    "log_source": log_source,
                }
            )
        made.append(batch)
    return made


# What an earlier run of this bench left in a kept store: every run starts from none.
DETECTION_TABLES = [
    "notifications",
    "incident_alerts",
    "sightings",
    "alert_suppressions",
    "alerts",
    "rule_matches",
    "notification_channels",
    "correlation_rules",
    "watchlist_items",
    "watchlists",
]


def arm(database: Database, watchlist_items: int) -> None:
    """A domain and an IP blacklist, and one active pattern rule, as a deployment has."""
    from krsn.detection.rules import service as rules
    from krsn.detection.watchlists import service as watchlists

    actor = Actor.system()
    with database.transaction() as session:
        for table in DETECTION_TABLES:
            session.execute(text(f"DELETE FROM {table}"))
    with database.transaction() as session:
        domains = watchlists.create_watchlist(
            session,
            actor=actor,
            values={
                "name": f"bench domains {uuid.uuid4().hex[:6]}",
                "list_type": "domain_blacklist",
            },
        )
        addresses = watchlists.create_watchlist(
            session,
            actor=actor,
            values={"name": f"bench addresses {uuid.uuid4().hex[:6]}", "list_type": "ip_blacklist"},
        )
        watchlists.add_items(
            session,
            actor=actor,
            watchlist_id=domains.id,
            items=[WATCHED.format(n=n) for n in range(watchlist_items)],
        )
        watchlists.add_items(
            session,
            actor=actor,
            watchlist_id=addresses.id,
            items=[f"100.{n // 250 % 250}.{n % 250}.0/28" for n in range(watchlist_items)],
        )
        rules.create_rule(
            session,
            actor=actor,
            values={
                "name": f"bench proxy c2 {uuid.uuid4().hex[:6]}",
                "rule_type": "pattern",
                "rule_definition": {
                    "condition": {
                        "all": [
                            {"field": "log_source", "op": "eq", "value": "proxy"},
                            {"field": "indicator.type", "op": "in", "value": ["domain", "url"]},
                        ]
                    },
                    "severity": "high",
                },
            },
        )


def ndjson(batch: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(item) for item in batch)


def post_all(
    base: str, key: str, path: str, bodies: list[bytes], clients: int, content_type: str
) -> dict[str, Any]:
    """Send every body from ``clients`` connections at once; per-request times."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    times: list[float] = []
    answers: list[dict[str, Any]] = []

    def send(share: list[bytes]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            for body in share:
                started = time.perf_counter()
                answer = client.post(path, content=body)
                times.append(time.perf_counter() - started)
                answer.raise_for_status()
                answers.append(orjson.loads(answer.content))

    shares = [bodies[n::clients] for n in range(clients)]
    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - started
    return {
        "seconds": total,
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": statistics.quantiles(times, n=20)[-1] * 1000 if len(times) > 1 else 0.0,
        "answers": answers,
    }


def in_process(database: Database, work: list[list[dict[str, Any]]]) -> float:
    """Milliseconds per batch of the route's own work (read, match, detect, store) here."""
    started = time.perf_counter()
    for batch in work:
        with database.transaction() as session:
            record_sightings(session, items=batch, reported_by=None, now=utcnow())
    return (time.perf_counter() - started) * 1000 / len(work)


def profile(database: Database, work: list[list[dict[str, Any]]]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    in_process(database, work)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    print(out.getvalue())


def run(label: str, url: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    database = prepare(url, args.indicators, args.ranges)
    arm(database, args.watchlist_items)
    work = observables(args, seed=5)
    key = api_key(database, Role.USER)  # posting sightings needs the user role
    sightings_bodies = [ndjson(batch) for batch in work]
    lookup_bodies = [orjson.dumps({"values": [s["value"] for s in b]}) for b in work]
    server, base = serve(url, root / f"var-{label}", args.workers)
    try:
        # Every worker answers once (it builds its range and watchlist indexes) first.
        warm = observables(argparse.Namespace(**{**vars(args), "batches": args.workers}), 7)
        post_all(
            base,
            key,
            "/api/v1/sightings",
            [ndjson(b) for b in warm],
            args.workers,
            "application/x-ndjson",
        )
        sent = post_all(
            base, key, "/api/v1/sightings", sightings_bodies, args.workers, "application/x-ndjson"
        )
        looked = post_all(
            base,
            key,
            "/api/v1/indicators/lookup",
            lookup_bodies,
            args.workers,
            "application/json",
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    count = args.batches * args.batch
    answers = sent["answers"]
    matched = sum(a["matched"] for a in answers)
    created = sum(a["alerts_created"] for a in answers)
    updated = sum(a["alerts_updated"] for a in answers)
    hits = sum(a["watchlist_hits"] for a in answers)
    with database.transaction(readonly=True) as session:
        alerts = session.scalar(select(func.count()).select_from(Alert))
        stored = session.scalar(select(func.count()).select_from(Sighting))
    rate = count / sent["seconds"]
    lookup_rate = count / looked["seconds"]
    per_batch_ms = in_process(database, work[: min(5, len(work))])
    print(
        f"  {label:<10} {rate:>10,.0f} sightings/s  p50 {sent['p50_ms']:>7.1f} ms  "
        f"p95 {sent['p95_ms']:>7.1f} ms per batch of {args.batch:,}"
    )
    print(
        f"  {label:<10} matched {matched:,} ({matched / count:.1%}), watchlist hits {hits:,}; "
        f"alerts raised {created:,}, updated {updated:,}; {alerts:,} alerts and {stored:,} "
        "sightings stored in all"
    )
    print(
        f"  {label:<10} lookup of the same values {lookup_rate:>10,.0f} obs/s; in-process "
        f"{per_batch_ms:.0f} ms per batch ({args.batch * 1000 / per_batch_ms:,.0f} sightings/s)"
    )
    if args.profile:
        profile(database, work[:3])
    figures = {
        f"{label}_sightings_per_s": round(rate),
        f"{label}_p50_ms": round(sent["p50_ms"], 1),
        f"{label}_p95_ms": round(sent["p95_ms"], 1),
        f"{label}_matched_share": round(matched / count, 4),
        f"{label}_alerts_created": created,
        f"{label}_in_process_sightings_per_s": round(args.batch * 1000 / per_batch_ms),
        f"{label}_lookup_observables_per_s": round(lookup_rate),
        f"{label}_floor_sql_observables_per_s": round(
            floor_sql(database, [[s["value"] for s in b] for b in work[:10]])
        ),
    }
    database.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--ranges", type=int, help="CIDR ranges among them (default 1 %%)")
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--batch", type=int, default=5_000, help="sightings per request")
    parser.add_argument("--known", type=float, default=0.05, help="share of known values")
    parser.add_argument("--watchlist-items", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=1, help="server workers and clients")
    parser.add_argument("--keep", type=Path, help="SQLite file kept and reused between runs")
    parser.add_argument(
        "--postgres", help="also run on this PostgreSQL server (database kept for reuse)"
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    args.ranges = args.ranges if args.ranges is not None else args.indicators // 100
    tune_for_batches()
    figures: dict[str, Any] = {
        "bench": "sightings",
        "indicators": args.indicators,
        "batch": args.batch,
        "batches": args.batches,
        "known_share": args.known,
        "workers": args.workers,
        "target_sightings_per_s": 50_000,
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = args.keep or root / "sightings.db"
        print(f"Sightings: {args.batches} batches of {args.batch:,} into {args.indicators:,}")
        figures.update(run("sqlite", f"sqlite:///{path}", args, root))
        if args.postgres:
            figures.update(run("postgres", bench_database(args.postgres, args), args, root))
    print()
    print(f"{'figure':<44}{'value':>14}")
    for name, value in figures.items():
        if name != "bench":
            print(f"{name:<44}{value:>14,}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
