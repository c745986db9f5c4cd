"""The web UI's speed: the dashboard's first load, the indicators page over a million
indicators, and the size of what the browser downloads.

Serves the production build (``make ui``) with ``krsn serve`` on a scratch SQLite database
holding ``--rows`` indicators (ingested as a feed file, as a user would), then times in
Debian's chromium, each run in a new browser context (an empty cache, as a first visit):

- the floor: loading ``/healthz`` from the same server (a request with nothing to render);
- the dashboard's first load: from navigation until its figures are drawn
  (``data-testid="dashboard-ready"``), and until DOMContentLoaded;
- the indicators page until its first rows are drawn, and then a filter typed into the
  value box until every row shown matches (this includes the box's 300 ms debounce).

It also reports the bundle: what the first page downloads (index.html's scripts and
styles, and the dashboard's own chunk) and the lazily loaded rest, raw and gzipped.
Prints a table and, last, one JSON line.

    python bench/ui.py [--rows 1000000] [--runs 7] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
DIST = WEB / "dist"
TARGET_MS = 1500


def krsn() -> str:
    return str(Path(sys.executable).with_name("krsn"))


def write_feed(path: Path, rows: int) -> None:
    """Distinct public-looking IPv4 addresses, one per line (a plain-text feed)."""
    with path.open("w", encoding="ascii") as out:
        for n in range(rows):
            out.write(f"{45 + (n >> 24) % 50}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}\n")


def bundle() -> dict[str, Any]:
    """Sizes of the initial download (index.html's assets and the dashboard chunk) and the rest."""
    index = (DIST / "index.html").read_text(encoding="utf-8")
    initial = set(re.findall(r'(?:src|href)="/(assets/[^"]+\.(?:js|css))"', index))
    initial |= {f"assets/{p.name}" for p in (DIST / "assets").glob("DashboardPage-*.js")}
    sizes: dict[str, dict[str, int]] = {
        "initial": {"raw": 0, "gzip": 0},
        "lazy": {"raw": 0, "gzip": 0},
    }
    largest: list[tuple[int, str]] = []
    for asset in (DIST / "assets").iterdir():
        if asset.suffix not in (".js", ".css"):
            continue
        data = asset.read_bytes()
        part = "initial" if f"assets/{asset.name}" in initial else "lazy"
        sizes[part]["raw"] += len(data)
        sizes[part]["gzip"] += len(gzip.compress(data, 9))
        largest.append((len(data), asset.name))
    largest.sort(reverse=True)
    return {"sizes": sizes, "largest": largest[:6], "files": len(list((DIST / "assets").iterdir()))}


def serve(folder: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "KRSN_DATABASE_URL": url,
        "KRSN_UI_DIR": str(DIST),
        "KRSN_PORT": str(port),
        "KRSN_HOST": "127.0.0.1",
        "KRSN_SCHEDULER_ENABLED": "false",
    }
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen([krsn(), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not start; see " + str(folder / "server.log"))


def p50(values: list[int]) -> float:
    return float(statistics.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Indicators in the database.")
    parser.add_argument("--runs", type=int, default=7, help="Cold loads to time.")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch folder.")
    args = parser.parse_args()
    if not (DIST / "index.html").exists():
        raise SystemExit("build the UI first: make ui")

    folder = Path(tempfile.mkdtemp(prefix="krsn-bench-ui-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from seed import seed  # the browser tests' accounts

    accounts = seed(url)
    feed = folder / "feed.txt"
    write_feed(feed, args.rows)
    print(f"ingesting {args.rows:,} indicators …", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [krsn(), "ingest", str(feed), "--format", "text", "--source", "Bench feed"],
        env={**os.environ, "KRSN_DATABASE_URL": url},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    ingest_s = time.perf_counter() - started
    server, base = serve(folder, url)
    try:
        admin = accounts["admin"]
        measured = subprocess.run(
            ["node", "bench/first-load.mjs"],
            cwd=WEB,
            check=False,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "BASE": base,
                "USERNAME": admin["username"],
                "PASSWORD": admin["password"],
                "RUNS": str(args.runs),
                "PREFIX": f"45.{((args.rows - 1) >> 16) // 2}.",
            },
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
    if measured.returncode != 0:
        raise SystemExit("the browser run failed:\n" + measured.stdout + measured.stderr)
    times: dict[str, list[int]] = json.loads(measured.stdout.strip().splitlines()[-1])
    sizes = bundle()

    print()
    print(
        f"{'page load, ms (median of ' + str(args.runs) + ' cold runs)':<52} {'p50':>8} {'max':>8}"
    )
    labels = {
        "floor": "floor: /healthz from the same server",
        "dashboard_dom": "dashboard: DOMContentLoaded",
        "dashboard": "dashboard: figures drawn",
        "indicators": f"indicators page, first rows ({args.rows:,} rows)",
        "filter": "indicators: typed filter applied (300 ms debounce)",
    }
    for key, label in labels.items():
        print(f"{label:<52} {p50(times[key]):>8.0f} {max(times[key]):>8}")
    print()
    print(f"{'bundle':<20} {'raw KB':>10} {'gzip KB':>10}")
    for part in ("initial", "lazy"):
        raw, packed = sizes["sizes"][part]["raw"], sizes["sizes"][part]["gzip"]
        print(f"{part:<20} {raw / 1024:>10.1f} {packed / 1024:>10.1f}")
    print(
        "largest files: "
        + ", ".join(f"{name} {size / 1024:.0f} KB" for size, name in sizes["largest"])
    )
    print(f"(ingest of the {args.rows:,} indicators took {ingest_s:.0f} s)")
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "ui",
                "rows": args.rows,
                "runs": args.runs,
                "dashboard_first_load_ms_p50": p50(times["dashboard"]),
                "dashboard_dom_ms_p50": p50(times["dashboard_dom"]),
                "target_ms": TARGET_MS,
                "floor_ms_p50": p50(times["floor"]),
                "indicators_first_rows_ms_p50": p50(times["indicators"]),
                "indicators_filter_ms_p50": p50(times["filter"]),
                "initial_kb_raw": round(sizes["sizes"]["initial"]["raw"] / 1024, 1),
                "initial_kb_gzip": round(sizes["sizes"]["initial"]["gzip"] / 1024, 1),
                "lazy_kb_raw": round(sizes["sizes"]["lazy"]["raw"] / 1024, 1),
                "lazy_kb_gzip": round(sizes["sizes"]["lazy"]["gzip"] / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
