"""The TAXII 2.1 server: paging a whole collection with the OASIS ``taxii2-client``, ours
against the OASIS reference server ``medallion`` (memory backend), on the same objects.

For each size (1,000, 10,000 and 100,000 indicators by default) a fresh database is filled
through the ingestion pipeline and served by ``uvicorn`` in a process of its own; a client
pages through the "All indicators" collection with ``as_pages`` (1,000-object pages) and
checks it got every object exactly once (the indicators, and the identity and TLP marking
definitions every collection serves first), ``--repeat`` times against the same server (the
figures are the median run's). The objects it read are then loaded into medallion
and read back the same way. Medallion is installed on first use into a virtual environment of
its own in the user's cache directory (``~/.cache/krsn-bench/medallion``), never into ours;
a medallion run longer than ``--medallion-timeout`` seconds is cut and its rate taken over
the pages it served. Prints a table, then one JSON line with our figures and medallion's,
including our server's peak resident memory (VmHWM) after each run.

    python bench/taxii.py [--sizes 1000,10000,100000] [--postgres URL] [--repeat 3]
                          [--no-medallion]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from scratch_databases import scratch_postgres
from taxii2client.v21 import Collection, as_pages

from krsn.db import Database
from krsn.db.migrate import upgrade
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.api_keys import create_api_key
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.identity.users import create_user
from krsn.sharing.taxii.service import ALL_INDICATORS_ID, FIXED

PAGE = 1000
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "krsn-bench"
SERVE = """
import sys, uvicorn
from krsn.app import create_app
from krsn.config import Settings
from krsn.db import Database
app = create_app(settings=Settings(), database=Database(sys.argv[1]))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", lifespan="off")
"""


class Bearer(requests.auth.AuthBase):
    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.key}"
        return request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def values(count: int) -> list[str]:
    # Addresses for most, a domain every fifth: two pattern shapes, as a real feed mixes them.
    return [
        f"bench-{n}.example-c2.net"
        if n % 5 == 0
        else f"{11 + n // 65536}.{n // 256 % 256}.{n % 256}.7"
        for n in range(count)
    ]


def fill(url: str, count: int) -> str:
    """A migrated database holding ``count`` indicators; returns an admin's API key."""
    upgrade(url)
    database = Database(url)
    with database.transaction() as session:
        user, _ = create_user(
            session,
            actor=Actor.system(),
            username="bench",
            email="bench@example.org",
            role=Role.ADMIN,
            password="Correct-Horse-Battery-42",  # noqa: S106
        )
        session.flush()
        _, key = create_api_key(
            session, actor=Actor.system(), user_id=user.id, name="bench", rate_limit=1_000_000
        )
        source = ensure_source(session, actor=Actor.system(), name="bench", reliability=70)
    rows = (ParsedRow(line=n, value=v) for n, v in enumerate(values(count), 1))
    ingest(database, rows=rows, source=source)
    database.dispose()
    return key


def page_through(collection: Collection, expected: int, timeout: float) -> dict[str, Any]:
    """Every object of the collection, 1,000 a page; the rate over what was read."""
    started = time.perf_counter()
    objects: list[dict[str, Any]] = []
    pages = 0
    finished = True
    try:
        for envelope in as_pages(collection.get_objects, per_request=PAGE):
            pages += 1
            objects.extend(envelope.get("objects", []))
            if time.perf_counter() - started > timeout and envelope.get("more"):
                finished = False
                break
    except requests.RequestException:
        # The server was stopped in the middle of one page that outlived the time allowed.
        finished = False
    seconds = time.perf_counter() - started
    ids = {obj["id"] for obj in objects}
    if finished and (len(ids) != expected or len(objects) != expected):
        raise SystemExit(f"read {len(objects)} objects ({len(ids)} ids), expected {expected}")
    return {
        "objects": len(objects),
        "pages": pages,
        "seconds": round(seconds, 3),
        "objects_per_s": round(len(objects) / seconds) if seconds else 0,
        "finished": finished,
        "served": objects,
    }


def ours(url: str, count: int, repeat: int) -> dict[str, Any]:
    key = fill(url, count)
    port = free_port()
    env = {**os.environ, "KRSN_DATABASE_URL": url}
    env.setdefault("KRSN_SECRET_KEY", uuid.uuid4().hex)
    process = subprocess.Popen([sys.executable, "-c", SERVE, url, str(port)], env=env)  # noqa: S603
    try:
        wait_for(port, process)
        base = f"http://127.0.0.1:{port}/taxii2/krsn/collections/{ALL_INDICATORS_ID}/"
        # The machine may be shared: the median of several runs is steadier than one.
        runs = [
            # The collection serves our identity and the TLP markings ahead of the indicators.
            page_through(Collection(base, auth=Bearer(key)), count + len(FIXED), timeout=3600)
            for _ in range(repeat)
        ]
        rates = [run["objects_per_s"] for run in runs]
        result = runs[rates.index(statistics.median_low(rates))]
        result["runs_objects_per_s"] = rates
        result["peak_rss_mb"] = round(peak_rss_mb(process.pid), 1)
        return result
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- medallion ------------------------------------------------------------------------------


def medallion_command() -> list[str]:
    """medallion's command in its own virtual environment, installed on first use."""
    home = CACHE / "medallion"
    program = home / "bin" / "medallion"
    if not program.exists():
        print(f"installing medallion into {home} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(home / "bin" / "python"), "-m", "pip", "install", "-q", "medallion"], check=True
        )
    return [str(program)]


def medallion(objects: list[dict[str, Any]], timeout: float, work: Path) -> dict[str, Any]:
    collection_id = str(uuid.uuid4())
    # A marking definition is never modified: its version is when it was created.
    versions = [obj.get("modified", obj["created"]) for obj in objects]
    manifest = [
        {
            "id": obj["id"],
            "date_added": version,
            "version": version,
            "media_type": "application/stix+json;version=2.1",
        }
        for obj, version in zip(objects, versions, strict=True)
    ]
    data = {
        "/discovery": {
            "title": "bench",
            "default": "http://127.0.0.1/api1/",
            "api_roots": ["http://127.0.0.1/api1/"],
        },
        "api1": {
            "information": {
                "title": "bench",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 1_000_000_000,
            },
            "status": [],
            "collections": [
                {
                    "id": collection_id,
                    "title": "bench",
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [
                        {**obj, "_date_added": version}
                        for obj, version in zip(objects, versions, strict=True)
                    ],
                    "manifest": manifest,
                }
            ],
        },
    }
    (work / "medallion-data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module_class": "MemoryBackend",
            "module": "medallion.backends.memory_backend",
            "filename": str(work / "medallion-data.json"),
        },
        "users": {"bench": "bench"},
        "taxii": {"max_page_size": PAGE},
    }
    (work / "medallion.json").write_text(json.dumps(config))
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [*medallion_command(), "--port", str(port), str(work / "medallion.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port, process)
        url = f"http://127.0.0.1:{port}/api1/collections/{collection_id}/"
        client = Collection(url, user="bench", password="bench")  # noqa: S106
        # One of medallion's pages can take longer than the whole time allowed: it is cut
        # by stopping the server, since the client cannot be interrupted mid-request.
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            result = page_through(client, len(objects), timeout)
        finally:
            watchdog.cancel()
        result["peak_rss_mb"] = round(peak_rss_mb(process.pid), 1)
        return result
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--postgres", help="Also serve from PostgreSQL (a server URL).")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per size on our server.")
    parser.add_argument("--no-medallion", action="store_true")
    parser.add_argument("--medallion-timeout", type=float, default=300.0)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    figures: dict[str, Any] = {
        "bench": "taxii",
        "page": PAGE,
        "sizes": sizes,
        "ours": {},
        "medallion": {},
    }
    rows: list[tuple[str, int, dict[str, Any]]] = []
    medallion_on = not args.no_medallion
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            engines = [("sqlite", f"sqlite:///{work / 'krsn.db'}")]
            if args.postgres:
                engines.append(("postgresql", args.postgres))
            served: list[dict[str, Any]] = []
            for engine, url in engines:
                with contextlib.ExitStack() as stack:
                    if engine == "postgresql":
                        url = stack.enter_context(scratch_postgres(url))
                    result = ours(url, size, max(1, args.repeat))
                served = result.pop("served")
                figures["ours"].setdefault(engine, {})[str(size)] = result
                rows.append((f"ours ({engine})", size, result))
            if medallion_on:
                result = medallion(served, args.medallion_timeout, work)
                result.pop("served")
                figures["medallion"][str(size)] = result
                rows.append(("medallion (memory)", size, result))
                # Its paging is quadratic: a size that ran out of time rules out larger ones.
                medallion_on = result["finished"]
            elif not args.no_medallion:
                figures["medallion"][str(size)] = None
    header = f"{'server':<20} {'objects':>9} {'read':>9} {'pages':>6} {'s':>8} {'obj/s':>9}"
    print(f"{header} {'RSS MB':>8}")
    for label, size, result in rows:
        note = "" if result["finished"] else f"  (cut after {args.medallion_timeout:.0f} s)"
        print(
            f"{label:<20} {size:>9,} {result['objects']:>9,} {result['pages']:>6} "
            f"{result['seconds']:>8.2f} {result['objects_per_s']:>9,} "
            f"{result['peak_rss_mb']:>8.1f}{note}"
        )
    skipped = [size for size, found in figures["medallion"].items() if found is None]
    if skipped:
        print(f"medallion not run at {', '.join(skipped)}: a smaller size ran out of time")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
