"""Indicator lookup over HTTP: batches of 10,000 observables against a large store.

Builds a store of ``--indicators`` indicators (5,000,000 by default), 1 % of them CIDR
ranges, nested (/12 to /28, and IPv6 /32 to /64), the rest IPv4 and IPv6 addresses, domains,
URLs and hashes; 2 % of the values and 4 % of the ranges are inactive. The rows go in with
one bulk insert in the
engine's storage form (``executemany`` on SQLite, ``COPY`` on PostgreSQL), signatures
computed as ingestion computes them; filling is not what is measured. ``--keep PATH`` keeps
the SQLite file between runs (it is reused when it holds as many indicators).

Then starts the real app as ``krsn serve`` does (uvicorn, in a subprocess) and POSTs
``--batches`` batches of 10,000 observables (known values, defanged forms of known values,
IPs inside stored ranges, unknown values, a few unreadable ones) with httpx and an API key
made through the service layer. Prints the rate, p50 and p95 per batch and the hits, where
the time of a batch goes (measured in this process on the same data), and last one JSON line
with the figures and the floors measured in the same run: the bare SQL lookup of 10,000
signatures through the driver, and ``normalise`` on 10,000 observables.

    python bench/lookup.py [--indicators 5000000] [--batches 40] [--keep PATH]
                           [--workers 1] [--postgres URL] [--profile]

``--workers N`` serves with N worker processes and sends from N connections at once.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import ipaddress
import json
import os
import pstats
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, text

from krsn.db import Database
from krsn.db.migrate import upgrade
from krsn.heap import tune_for_batches
from krsn.identity.api_keys import create_api_key
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.identity.users import create_user
from krsn.indicators import scoring
from krsn.indicators.lookup import lookup
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import Indicator, Kind, hash_signature, normalise
from krsn.indicators.ranges import ranges_of
from krsn.indicators.schemas import LookupRequest
from krsn.indicators.store import INSERT_COLUMNS, StorageForm
from krsn.routing import parse_json

BATCH = 10_000
CHUNK = 100_000
COLUMNS = INSERT_COLUMNS
FAMILIES = ["Emotet", "Qakbot", "Pikabot", "AgentTesla", None, None, None]
WORDS = ["evil", "bad", "c2", "gate", "panel", "drop", "cdn"]
# Kinds by i % 20: 35 % IPv4, 25 % domains, 20 % URLs, 15 % hashes, 5 % IPv6.
KIND_OF = [Kind.IPV4] * 7 + [Kind.DOMAIN] * 5 + [Kind.URL] * 4
KIND_OF += [Kind.SHA256, Kind.SHA256, Kind.MD5, Kind.IPV6]
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


# --- The store: the value of indicator i is a pure function of i ------------------------------


def single(i: int) -> tuple[Kind, str]:
    """Indicator ``i`` (not a range), canonical: the bench can ask for any of them later."""
    kind = KIND_OF[i % 20]
    mixed = (i * 2654435761 + 40503) % 2**32  # a bijection of i, so addresses never repeat
    if kind is Kind.IPV4:
        return kind, str(ipaddress.IPv4Address(mixed))
    if kind is Kind.IPV6:
        return kind, str(ipaddress.IPv6Address((0x2A0B << 112) | (i << 32) | mixed))
    if kind is Kind.DOMAIN:
        return kind, f"h{i:x}.{WORDS[i % 7]}{mixed % 10_000}.com"
    if kind is Kind.URL:
        return kind, f"http://s{i:x}.ex{mixed % 1000}.net/p/{mixed:x}.php?id={i % 97}"
    digest = hashlib.sha256(i.to_bytes(8)).hexdigest()
    return kind, digest[:32] if kind is Kind.MD5 else digest


def active(i: int) -> bool:
    return i % 50 != 49


def ranges(count: int, seed: int = 11) -> list[str]:
    """``count`` distinct CIDR ranges, nested around hot spots; 5 % IPv6."""
    rnd = random.Random(seed)
    hot4 = [rnd.getrandbits(32) & ~0xFFFFF for _ in range(max(count // 40, 1))]
    hot6 = [(0x2A0C << 112) | (rnd.getrandbits(16) << 96) for _ in range(max(count // 400, 1))]
    found: dict[str, None] = {}
    while len(found) < count:
        if rnd.random() < 0.95:
            prefix = rnd.choice([12, 16, 16, 20, 20, 24, 24, 24, 24, 28, 28])
            base = rnd.choice(hot4) | rnd.getrandbits(20)
            network: Any = ipaddress.IPv4Network((base, prefix), strict=False)
        else:
            prefix = rnd.choice([32, 48, 48, 56, 64, 64])
            base = rnd.choice(hot6) | rnd.getrandbits(96)
            network = ipaddress.IPv6Network((base, prefix), strict=False)
        found[str(network)] = None
    return list(found)


class Rows:
    """Rows of ``threat_indicators`` in one engine's storage form."""

    def __init__(self, form: StorageForm) -> None:
        self.form = form
        self.meta: dict[tuple[Kind, str | None], tuple[str, str, float, float]] = {}
        self.times = [form.time(NOW - timedelta(days=d)) for d in range(40)]

    def _scored(self, kind: Kind, family: str | None) -> tuple[str, str, float, float]:
        found = self.meta.get((kind, family))
        if found is None:
            families = [family] if family else []
            score = scoring.explain(kind, {"bench": 56.0}, malware_families=families)
            meta = {
                "kind": kind.value,
                "sources": {"bench": 56.0},
                "tags": ["botnet", "c2"] if family else ["scanner"],
                "malware_families": families,
                "score": score,
            }
            found = self.meta[(kind, family)] = (
                json.dumps(meta),
                str(score["severity"]),
                float(str(score["confidence"])),
                float(str(score["threat_score"])),
            )
        return found

    def of(self, numbers: range, values: list[tuple[Kind, str, bool]]) -> list[tuple[Any, ...]]:
        rows = []
        for i, new_id, (kind, value, is_active) in zip(
            numbers, self.form.new_ids(len(values)), values, strict=True
        ):
            meta, severity, confidence, threat = self._scored(kind, FAMILIES[i % 7])
            seen = self.times[i % 40]
            rows.append(
                (
                    new_id,
                    value,
                    kind.indicator_type.value,
                    severity,
                    confidence,
                    threat,
                    meta,
                    self.times[39],
                    seen,
                    seen,
                    seen,
                    is_active,
                    hash_signature(kind, value),
                )
            )
        return rows


def stored(count: int, range_count: int) -> Iterator[tuple[range, list[tuple[Kind, str, bool]]]]:
    """The store in chunks: the ranges first, then the single values."""
    cidrs = ranges(range_count)
    for start in range(0, range_count, CHUNK):
        part = cidrs[start : start + CHUNK]
        yield (
            range(start, start + len(part)),
            [(Kind.CIDR, v, (start + n) % 25 != 24) for n, v in enumerate(part)],
        )
    for start in range(range_count, count, CHUNK):
        numbers = range(start, min(start + CHUNK, count))
        yield numbers, [(*single(i), active(i)) for i in numbers]


def fill(database: Database, count: int, range_count: int) -> float:
    """Bulk insert the store; the seconds it took."""
    started = time.perf_counter()
    table = ThreatIndicator.__table__
    with database.engine.begin() as connection:
        for index in table.indexes:  # rebuilt once at the end: faster than kept up per row
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
    done = 0
    for numbers, values in stored(count, range_count):
        with database.engine.begin() as connection:
            form = StorageForm(connection)
            rows = Rows(form).of(numbers, values)
            if form.postgresql:
                form.copy(connection, table.name, COLUMNS, rows)
            else:
                connection.exec_driver_sql("PRAGMA cache_size=-1000000")
                marks = ", ".join("?" * len(COLUMNS))
                connection.exec_driver_sql(
                    f"INSERT INTO {table.name} ({', '.join(COLUMNS)}) VALUES ({marks})", rows
                )
        done += len(rows)
        print(f"\r  filled {done:>10,} / {count:,}", end="", flush=True)
    print()
    with database.engine.begin() as connection:
        for index in table.indexes:
            index.create(connection)
        if database.dialect == "postgresql":
            connection.exec_driver_sql("ANALYZE threat_indicators")
    return time.perf_counter() - started


def check_signatures(sample: int = 2000) -> None:
    """The generated values are canonical: ingestion would store the same signatures."""
    rnd = random.Random(3)
    for i in (rnd.randrange(1_000_000_000) for _ in range(sample)):
        kind, value = single(i)
        result = normalise(value)
        assert isinstance(result, Indicator), (value, result)
        assert result.signature == hash_signature(kind, value), value
    for value in ranges(200):
        result = normalise(value)
        assert isinstance(result, Indicator) and result.value == value, value


def count_of(database: Database) -> int:
    with database.engine.connect() as connection:
        try:
            return int(connection.scalar(text("SELECT count(*) FROM threat_indicators")) or 0)
        except Exception:  # not migrated yet
            return 0


# --- Batches ----------------------------------------------------------------------------------


def defang(value: str) -> str:
    return value.replace("http", "hxxp", 1).replace(".", "[.]")


def inside(network: str, rnd: random.Random) -> str:
    parsed = ipaddress.ip_network(network)
    return str(parsed.network_address + rnd.randrange(parsed.num_addresses))


def batches(count: int, range_count: int, number: int, seed: int = 5) -> list[list[str]]:
    """Batches of 10,000: 40 % known, 10 % defanged known, 25 % IPs inside stored ranges,
    24.5 % unknown, 0.5 % unreadable."""
    rnd = random.Random(seed)
    cidrs = ranges(range_count)
    made = []
    for _ in range(number):
        batch = []
        for _ in range(BATCH):
            roll = rnd.random()
            if roll < 0.40:
                batch.append(single(rnd.randrange(range_count, count))[1])
            elif roll < 0.50:
                batch.append(defang(single(rnd.randrange(range_count, count))[1]))
            elif roll < 0.75:
                batch.append(inside(rnd.choice(cidrs), rnd))
            elif roll < 0.995:
                batch.append(single(rnd.randrange(count, 2**31))[1])
            else:
                batch.append(f"not a value {rnd.random()}")
        made.append(batch)
    return made


# --- The server ---------------------------------------------------------------------------------


def api_key(database: Database, role: Role = Role.VIEWER) -> str:
    """An API key of a new user of ``role``, made through the service layer."""
    with database.transaction() as session:
        user, _ = create_user(
            session,
            actor=Actor.system(),
            username=f"bench-{uuid.uuid4().hex[:8]}",
            email=f"bench-{uuid.uuid4().hex[:8]}@example.org",
            role=role,
            password=uuid.uuid4().hex + "-Aa1",
        )
        session.flush()
        _, plaintext = create_api_key(
            session, actor=Actor.system(), user_id=user.id, name="bench", rate_limit=100_000
        )
    return plaintext


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(url: str, data_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "KRSN_DATABASE_URL": url,
        "KRSN_DATA_DIR": str(data_dir),
        "KRSN_LOG_LEVEL": "WARNING",
        "KRSN_SCHEDULER_ENABLED": "false",
    }
    command = [sys.executable, "-m", "krsn.cli.main", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    server = subprocess.Popen(command, env=env)  # noqa: S603 (our own interpreter and CLI)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.2)


def over_http(base: str, key: str, work: list[list[str]], clients: int) -> dict[str, Any]:
    """Send every batch, from ``clients`` connections at once (one per server worker)."""
    bodies = [orjson.dumps({"values": batch}) for batch in work]
    biggest = max(map(len, bodies))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    times: list[float] = []
    found: list[list[dict[str, Any]]] = []
    first_s = 0.0

    def send(share: list[bytes]) -> None:
        nonlocal first_s
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            started = time.perf_counter()
            client.post("/api/v1/indicators/lookup", content=share[0]).raise_for_status()
            first_s = max(first_s, time.perf_counter() - started)
            for body in share:
                started = time.perf_counter()
                answer = client.post("/api/v1/indicators/lookup", content=body)
                times.append(time.perf_counter() - started)
                answer.raise_for_status()
                found.append(orjson.loads(answer.content)["matches"])

    shares = [bodies[n::clients] for n in range(clients)]
    # Every worker answers a first request (it builds its range index) before the clock runs.
    warm = [threading.Thread(target=send, args=([share[0]],)) for share in shares]
    for thread in warm:
        thread.start()
    for thread in warm:
        thread.join()
    times.clear()
    found.clear()
    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - started
    hits = sum(len(matches) for matches in found)
    matched = sum(len({m["value"] for m in matches}) for matches in found)
    return {
        "first_s": first_s,
        "rate": len(work) * BATCH / total,
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": statistics.quantiles(times, n=20)[-1] * 1000,
        "hits_per_batch": hits / len(work),
        "matched_per_batch": matched / len(work),
        "biggest_body": biggest,
    }


# --- Where the time goes, and the floors ---------------------------------------------------


def request_steps(database: Database, bodies: list[bytes]) -> None:
    """What the lookup route does with each body, minus HTTP, auth and the framework."""
    for body in bodies:
        request = LookupRequest.model_validate(parse_json(body))
        with database.transaction(readonly=True) as session:
            hits, unreadable = lookup(session, values=request.values)
        orjson.dumps({"matches": hits, "unreadable": unreadable}, option=orjson.OPT_UTC_Z)


def stages(database: Database, work: list[list[str]]) -> tuple[float, dict[str, float]]:
    """Milliseconds per batch of the request's steps run here, and where that time goes
    (shares from a cProfile run of the same steps)."""
    bodies = [orjson.dumps({"values": batch}) for batch in work]
    started = time.perf_counter()
    request_steps(database, bodies)
    per_batch = (time.perf_counter() - started) * 1000 / len(bodies)
    profiler = cProfile.Profile()
    profiler.runcall(request_steps, database, bodies)
    found: dict[str, float] = {}
    for (path, _, name), row in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        key = f"{Path(path).name}:{name}"
        found[key] = max(found.get(key, 0.0), row[3])  # cumulative; the outer of namesakes
    whole = found["lookup.py:request_steps"]
    sql = found["store.py:fetch"]
    normalising = found["normalise.py:normalise"]
    refresh = found["ranges.py:current"]
    holding = found.get("ranges.py:holding", 0.0)
    rows = found["lookup.py:_active"] - sql
    steps = {
        "JSON decode of the body": found["routing.py:parse_json"],
        "body validation": found["main.py:model_validate"],
        "normalise": normalising,
        "range index: refresh": refresh,
        "range index: addresses": holding,
        "SQL through the driver": sql,
        "rows to results": rows,
        "lookup's own loops": found["lookup.py:lookup"]
        - normalising
        - refresh
        - holding
        - sql
        - rows,
        "encode the answer": found.get("~:<orjson.dumps>", 0.0),
    }
    steps["other"] = whole - sum(steps.values())
    return per_batch, {name: share / whole for name, share in steps.items()}


def floor_sql(database: Database, work: list[list[str]]) -> float:
    """Observables per second of the bare exact-match query: 10,000 known signatures, one
    parameter, through the driver, no range index, no normalising, no HTTP."""
    signatures = [
        [r.signature for r in map(normalise, batch) if isinstance(r, Indicator)] for batch in work
    ]
    with database.engine.connect() as connection:
        form = StorageForm(connection)
        sql = (
            "SELECT hash_signature, is_active, id, indicator_value, severity, threat_score "
            f"FROM threat_indicators WHERE {form.in_list('hash_signature')}"
        )
        started = time.perf_counter()
        for batch in signatures:
            form.fetch(connection, sql, (form.id_list(batch),))
        elapsed = time.perf_counter() - started
    return len(work) * BATCH / elapsed


def floor_normalise(work: list[list[str]]) -> float:
    started = time.perf_counter()
    for batch in work:
        for value in batch:
            normalise(value)
    return len(work) * BATCH / (time.perf_counter() - started)


def index_build(connection: Connection) -> tuple[float, int]:
    """Seconds to read every active range and build the index, and how many there are."""
    index = ranges_of(connection.engine)
    started = time.perf_counter()
    view = index.current(connection)
    return time.perf_counter() - started, view.count


def profile(database: Database, work: list[list[str]]) -> None:
    bodies = [orjson.dumps({"values": batch}) for batch in work]
    profiler = cProfile.Profile()
    profiler.enable()
    for body in bodies:
        request = LookupRequest.model_validate(parse_json(body))
        with database.transaction(readonly=True) as session:
            hits, unreadable = lookup(session, values=request.values)
        orjson.dumps({"matches": hits, "unreadable": unreadable}, option=orjson.OPT_UTC_Z)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue())


def bench_database(server: str, args: argparse.Namespace) -> str:
    """The URL of this run's PostgreSQL database, created on first use."""
    import psycopg

    name = f"krsn_bench_lookup_{args.indicators}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"


# --- The run ------------------------------------------------------------------------------------


def prepare(url: str, count: int, range_count: int) -> Database:
    upgrade(url)
    database = Database(url)
    have = count_of(database)
    if have == count:
        print(f"  reusing the store of {have:,} indicators")
        return database
    if have:
        raise SystemExit(f"the database holds {have:,} indicators, not {count:,}: use another")
    print(f"  filling {count:,} indicators ({range_count:,} ranges)")
    print(f"  filled in {fill(database, count, range_count):.0f} s")
    return database


def run(label: str, url: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    database = prepare(url, args.indicators, args.ranges)
    work = batches(args.indicators, args.ranges, args.batches)
    with database.engine.connect() as connection:
        build_s, range_count = index_build(connection)
    key = api_key(database)
    server, base = serve(url, root / f"var-{label}", args.workers)
    try:
        http = over_http(base, key, work, args.workers)
    finally:
        server.terminate()
        server.wait(timeout=30)
    in_process_ms, shares = stages(database, work[: min(10, len(work))])
    figures = {
        f"{label}_observables_per_s": round(http["rate"]),
        f"{label}_p50_ms": round(http["p50_ms"], 1),
        f"{label}_p95_ms": round(http["p95_ms"], 1),
        f"{label}_first_request_s": round(http["first_s"], 2),
        f"{label}_range_index_build_s": round(build_s, 2),
        f"{label}_hits_per_batch": round(http["hits_per_batch"]),
        f"{label}_in_process_ms_per_batch": round(in_process_ms, 1),
        f"{label}_floor_sql_observables_per_s": round(floor_sql(database, work[:10])),
    }
    print(
        f"  {label:<10} {http['rate']:>10,.0f} obs/s  p50 {http['p50_ms']:>6.1f} ms  "
        f"p95 {http['p95_ms']:>6.1f} ms  {http['hits_per_batch']:>6,.0f} hits and "
        f"{http['matched_per_batch']:>6,.0f} observables matched per batch"
    )
    print(
        f"  {label:<10} first request {http['first_s']:.2f} s; range index of "
        f"{range_count:,} ranges built in {build_s:.2f} s; largest body "
        f"{http['biggest_body'] / 1e6:.2f} MB"
    )
    print(
        f"  {label:<10} where a batch goes: {http['p50_ms']:.0f} ms over HTTP (p50), of which "
        f"{in_process_ms:.0f} ms for the route's own steps run in-process, shared as:"
    )
    for name, share in shares.items():
        print(f"    {name:<28}{share:>7.1%}{share * in_process_ms:>9.1f} ms")
    print(f"    {'HTTP, auth, framework':<28}{'':>7}{http['p50_ms'] - in_process_ms:>9.1f} ms")
    if args.profile:
        profile(database, work[:5])
    database.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=5_000_000)
    parser.add_argument("--ranges", type=int, help="CIDR ranges among them (default 1 %%)")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="SQLite file kept and reused between runs")
    parser.add_argument(
        "--postgres",
        help="also run on this PostgreSQL server, in a database krsn_bench_lookup_<N> that is "
        "kept for the next run (drop it when done)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server worker processes, and as many clients"
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the lookup")
    args = parser.parse_args()
    args.ranges = args.ranges if args.ranges is not None else args.indicators // 100
    check_signatures()
    tune_for_batches()  # as the server does, so the in-process steps compare
    figures: dict[str, Any] = {
        "bench": "lookup",
        "indicators": args.indicators,
        "ranges": args.ranges,
        "batch": BATCH,
        "batches": args.batches,
        "workers": args.workers,
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = args.keep or root / "lookup.db"
        print(f"Lookup of {args.batches} batches of {BATCH:,} observables")
        figures.update(run("sqlite", f"sqlite:///{path}", args, root))
        if args.postgres:
            figures.update(run("postgres", bench_database(args.postgres, args), args, root))
    work = batches(args.indicators, args.ranges, 5, seed=9)
    figures["floor_normalise_observables_per_s"] = round(floor_normalise(work))
    print()
    print(f"{'figure':<44}{'value':>14}")
    for name, value in figures.items():
        if name != "bench":
            print(f"{name:<44}{value:>14,}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
