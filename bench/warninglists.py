"""Time warninglist checks: 1,000,000 mixed canonical values against every list.

The lists are the built-in ones plus every MISP list of ``../shared/data/misp-warninglists``
(or of the folder given as the first argument). The values are canonical indicators as
ingestion hands them over: about 12 % are taken from the lists (so they are stopped), the rest
are random, and each run draws a fresh set so no run profits from the previous one's caches.

Run from the repository root with the project's Python: ``python bench/warninglists.py``.
Prints a table of the runs (wall clock and CPU time: on a shared machine the CPU time is the
steadier figure) and of the cost per kind, then one JSON line for scripts.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import random
import statistics
import string
import sys
import time
from collections import Counter
from pathlib import Path

from krsn.indicators.builtin_warninglists import BUILTIN_WARNINGLISTS
from krsn.indicators.normalise import Indicator, Kind
from krsn.indicators.warninglists import Warninglist, WarninglistIndex, load_directory

COUNT = 1_000_000
BATCH = 10_000  # ingestion checks one feed batch at a time
RUNS = 5
DEFAULT_LISTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "misp-warninglists"
SUFFIXES = ["com", "net", "org", "ru", "cn", "co.uk", "info", "xyz", "top", "de", "io", "com.br"]
MIX = [  # kind, share of the values
    (Kind.IPV4, 0.28),
    (Kind.DOMAIN, 0.25),
    (Kind.URL, 0.20),
    (Kind.SHA256, 0.08),
    (Kind.MD5, 0.06),
    (Kind.SHA1, 0.03),
    (Kind.IPV6, 0.04),
    (Kind.EMAIL, 0.04),
    (Kind.CIDR, 0.02),
]


def _label(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(4, 14)))


class Values:
    """Generates canonical values, some of them drawn from the lists."""

    def __init__(self, lists: list[Warninglist]) -> None:
        self.hosts = [
            e.strip(".").lower() for w in lists if w.type == "hostname" for e in w.entries
        ]
        self.networks = [
            ipaddress.ip_network(e, strict=False)
            for w in lists
            if w.type == "cidr"
            for e in w.entries
        ]
        self.v4 = [n for n in self.networks if n.version == 4]
        self.v6 = [n for n in self.networks if n.version == 6]
        self.hashes = [e for w in lists if w.type == "string" for e in w.entries if len(e) == 32]

    def _listed_ipv4(self, rng: random.Random) -> str:
        net = rng.choice(self.v4)
        return str(net.network_address + rng.randrange(net.num_addresses))

    def _host(self, rng: random.Random, listed: bool) -> str:
        if listed:
            return (
                f"{_label(rng)}.{rng.choice(self.hosts)}"
                if rng.random() < 0.7
                else rng.choice(self.hosts)
            )
        labels = [_label(rng) for _ in range(rng.randint(1, 3))]
        return ".".join([*labels, rng.choice(SUFFIXES)])

    def one(self, kind: Kind, rng: random.Random) -> str:
        listed = rng.random() < 0.12
        if kind is Kind.IPV4:
            if listed:
                return self._listed_ipv4(rng)
            return ".".join(str(rng.randint(1, 254)) for _ in range(4))
        if kind is Kind.IPV6:
            if listed:
                net = rng.choice(self.v6)
                return (
                    net.network_address + rng.randrange(min(net.num_addresses, 1 << 64))
                ).compressed
            return ipaddress.IPv6Address(rng.getrandbits(128)).compressed
        if kind is Kind.CIDR:
            base = (
                self._listed_ipv4(rng)
                if listed
                else f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.0.0"
            )
            return str(ipaddress.ip_network(f"{base}/{rng.choice([16, 20, 24, 28])}", strict=False))
        if kind is Kind.DOMAIN:
            return self._host(rng, listed)
        if kind is Kind.URL:
            host = self._host(rng, listed)
            path = "/".join(_label(rng) for _ in range(rng.randint(0, 3)))
            query = f"?id={rng.randint(1, 9999)}" if rng.random() < 0.3 else ""
            return f"{rng.choice(['http', 'https'])}://{host}/{path}{query}"
        if kind is Kind.EMAIL:
            return f"{_label(rng)}@{self._host(rng, listed)}"
        if kind is Kind.MD5 and listed:
            return rng.choice(self.hashes)
        digits = {Kind.MD5: 32, Kind.SHA1: 40, Kind.SHA256: 64}[kind]
        return "".join(rng.choices("0123456789abcdef", k=digits))

    def batch(self, seed: int) -> list[Indicator]:
        rng = random.Random(seed)
        kinds = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX], k=COUNT)
        return [Indicator(kind, self.one(kind, rng), "") for kind in kinds]


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_LISTS
    start = time.perf_counter()
    lists = [*BUILTIN_WARNINGLISTS, *load_directory(folder)]
    loaded = time.perf_counter()
    index = WarninglistIndex.build(lists)
    built = time.perf_counter()
    entries = sum(len(w.entries) for w in lists)
    print(
        f"{len(lists)} lists, {entries:,} entries: load {loaded - start:.2f} s, "
        f"build {built - loaded:.2f} s"
    )

    values = Values(lists)
    walls: list[float] = []
    cpus: list[float] = []
    per_kind: dict[Kind, list[float]] = {}
    header = ["run", "values", "wall s", "cpu s", "values/s", "µs/value", "stopped"]
    widths = [4, 10, 7, 7, 10, 9, 8]
    print("\n" + " ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for run in range(RUNS):
        data = values.batch(seed=run)
        gc.collect()  # the generation's garbage is not the check's to collect
        wall, cpu = time.perf_counter(), time.process_time()
        results: list[str | None] = []
        for offset in range(0, COUNT, BATCH):
            results += index.match_many(data[offset : offset + BATCH])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        walls.append(wall)
        cpus.append(cpu)
        stopped = sum(r is not None for r in results)
        print(
            f"{run:>4} {COUNT:>10,} {wall:>7.3f} {cpu:>7.3f} {COUNT / wall:>10,.0f} "
            f"{wall / COUNT * 1e6:>9.3f} {stopped / COUNT:>8.1%}"
        )
        # Per kind, batch by batch as ingestion would send them (a feed is mostly one kind).
        by_kind: dict[Kind, list[Indicator]] = {}
        for indicator in data:
            by_kind.setdefault(indicator.kind, []).append(indicator)
        for kind, group in by_kind.items():
            started = time.perf_counter()
            for offset in range(0, len(group), BATCH):
                index.match_many(group[offset : offset + BATCH])
            per_kind.setdefault(kind, []).append((time.perf_counter() - started) / len(group))
        if run == 0:
            reasons = Counter(r for r in results if r is not None)
    median, median_cpu = statistics.median(walls), statistics.median(cpus)
    print(
        f"{'med':>4} {COUNT:>10,} {median:>7.3f} {median_cpu:>7.3f} {COUNT / median:>10,.0f} "
        f"{median / COUNT * 1e6:>9.3f}"
    )

    print(f"\n{'kind':<8} {'share':>6} {'µs/value':>9}  (median of the runs, wall clock)")
    for kind, share in MIX:
        print(f"{kind.value:<8} {share:>6.0%} {statistics.median(per_kind[kind]) * 1e6:>9.3f}")
    print("\nstopped by (run 0):")
    for name, count in reasons.most_common():
        print(f"  {count:>8,}  {name}")
    print(
        json.dumps(
            {
                "bench": "warninglists",
                "values": COUNT,
                "lists": len(lists),
                "entries": entries,
                "values_per_s": round(COUNT / median),
                "us_per_value": round(median / COUNT * 1e6, 3),
                "cpu_values_per_s": round(COUNT / median_cpu),
                "build_s": round(built - loaded, 3),
                "load_s": round(loaded - start, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
