"""Time ``normalise_many`` on 200,000 generated mixed values (10 % defanged, 2 % invalid).

Each run normalises a different generated set, so caches start cold for its values.

Run from the repository root with the project's Python: ``python bench/normalise.py``.
Prints a table of the runs and their median, then one JSON line for scripts.
"""

from __future__ import annotations

import json
import random
import statistics
import string
import sys
import time

from krsn.indicators.normalise import normalise_many

COUNT = 200_000
RUNS = 5
SUFFIXES = ["com", "net", "org", "ru", "cn", "co.uk", "info", "xyz", "top", "de", "io", "com.br"]


def _label(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(4, 14)))


def _plain(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.30:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    if roll < 0.55:
        labels = [_label(rng) for _ in range(rng.randint(1, 3))]
        return ".".join([*labels, rng.choice(SUFFIXES)])
    if roll < 0.75:
        host = f"{_label(rng)}.{rng.choice(SUFFIXES)}"
        path = "/".join(_label(rng) for _ in range(rng.randint(0, 3)))
        query = f"?id={rng.randint(1, 9999)}" if rng.random() < 0.3 else ""
        return f"{rng.choice(['http', 'https'])}://{host}/{path}{query}"
    if roll < 0.92:
        return "".join(rng.choices("0123456789abcdef", k=rng.choice([32, 40, 64])))
    if roll < 0.95:
        return ":".join(f"{rng.randint(0, 0xFFFF):x}" for _ in range(8))
    if roll < 0.98:
        return f"{_label(rng)}@{_label(rng)}.{rng.choice(SUFFIXES)}"
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24"


def _defang(value: str) -> str:
    return value.replace("http", "hxxp", 1).replace(".", "[.]").replace("@", "[at]")


def _invalid(rng: random.Random) -> str:
    return rng.choice(
        ["999.1.1.1", "example.invalid", "abc123", "gopher://x.com/", "a@b", "xyz" * 20]
    )


def values(seed: int = 7) -> list[str]:
    """The benchmark's input, the same on every run."""
    rng = random.Random(seed)
    out = []
    for _ in range(COUNT):
        roll = rng.random()
        if roll < 0.02:
            out.append(_invalid(rng))
        elif roll < 0.12:
            out.append(_defang(_plain(rng)))
        else:
            out.append(_plain(rng))
    return out


def main() -> None:
    timings = []
    for run in range(RUNS):
        # A fresh data set per run, so that no run profits from the previous run's caches.
        data = values(seed=run)
        start = time.perf_counter()
        accepted, rejected = normalise_many(data)
        timings.append(time.perf_counter() - start)
    median = statistics.median(timings)
    rate = COUNT / median
    out = sys.stdout
    out.write(f"normalise_many on {COUNT:,} mixed values ({RUNS} runs)\n")
    out.write(f"{'run':>5} {'seconds':>9} {'values/s':>12}\n")
    for number, seconds in enumerate(timings, 1):
        out.write(f"{number:>5} {seconds:>9.3f} {COUNT / seconds:>12,.0f}\n")
    out.write(f"{'median':>5} {median:>9.3f} {rate:>12,.0f}\n")
    out.write(f"accepted {len(accepted):,}, rejected {len(rejected):,}\n")
    out.write(json.dumps({"bench": "normalise", "values_per_s": round(rate)}) + "\n")


if __name__ == "__main__":
    main()
