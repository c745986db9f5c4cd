"""STIX 2.1 bundle import end to end, on SQLite and PostgreSQL, against the references.

Generates a bundle of ``--objects`` objects (100,000 by default): indicators with simple
patterns (IPv4, domain, URL, SHA-256; 40 %), observables (IPv4, domain, URL; 30 %),
relationships from indicators to malware, intrusion sets, campaigns and ATT&CK techniques
(the rest), and a few of those knowledge objects. Imports it as ``krsn stix import`` does
(read the file, check every object, run the indicator pipeline with warninglists, map
actors, campaigns, techniques and links, store every object, commit), into a fresh database
per engine; then imports it again (every object known, nothing written). Prints a table and,
last, one JSON line with the figures and the references measured in the same run on the same
bundle: ``stix2.parse`` (the OASIS object model) and plain ``json.loads``.

    python bench/stix.py [--objects 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from scratch_databases import scratch_postgres

from krsn.config import Settings
from krsn.db import Database
from krsn.db.migrate import upgrade
from krsn.feeds.sources import ensure_source
from krsn.heap import tune_for_batches
from krsn.identity.audit import Actor
from krsn.indicators.warninglists import default_index
from krsn.sharing.stix.service import import_bundle

STAMP = "2026-11-01T10:00:00.000Z"


def _id(kind: str, rnd: random.Random) -> str:
    return f"{kind}--{uuid.UUID(int=rnd.getrandbits(128), version=4)}"


def _sdo(kind: str, rnd: random.Random, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": _id(kind, rnd),
        "created": STAMP,
        "modified": STAMP,
        **fields,
    }


def _value(i: int, rnd: random.Random) -> tuple[str, str, str]:
    """A pattern path, an observable type and a value."""
    roll = rnd.random()
    if roll < 0.35:
        octets = (
            rnd.randint(1, 223),
            rnd.randint(0, 255),
            rnd.randint(0, 255),
            rnd.randint(1, 254),
        )
        address = ".".join(map(str, octets))
        return "ipv4-addr:value", "ipv4-addr", address
    if roll < 0.6:
        return "domain-name:value", "domain-name", f"host{i}.evil{rnd.randint(0, 9999)}.com"
    if roll < 0.85:
        return "url:value", "url", f"http://site{i}.example{rnd.randint(0, 999)}.net/p/{i:x}"
    return "file:hashes.'SHA-256'", "", f"{rnd.getrandbits(256):064x}"


def generate(path: Path, total: int, seed: int = 7) -> dict[str, int]:
    rnd = random.Random(seed)
    malware = [_sdo("malware", rnd, name=f"Family{n}", is_family=True) for n in range(10)]
    actors = [_sdo("intrusion-set", rnd, name=f"Group {n}") for n in range(10)]
    campaigns = [_sdo("campaign", rnd, name=f"Operation {n}") for n in range(5)]
    techniques = [
        _sdo(
            "attack-pattern",
            rnd,
            name=f"Technique {n}",
            external_references=[{"source_name": "mitre-attack", "external_id": f"T{1000 + n}"}],
        )
        for n in range(10)
    ]
    objects: list[dict[str, Any]] = [*malware, *actors, *campaigns, *techniques]
    targets = malware + actors + campaigns + techniques
    indicators = int(total * 0.4)
    observables = int(total * 0.3)
    indicator_ids = []
    for i in range(indicators):
        path_name, _, value = _value(i, rnd)
        indicator = _sdo(
            "indicator",
            rnd,
            pattern=f"[{path_name} = '{value}']",
            pattern_type="stix",
            valid_from=STAMP,
            indicator_types=["malicious-activity"],
        )
        indicator_ids.append(indicator["id"])
        objects.append(indicator)
    made = 0
    while made < observables:
        _, kind, value = _value(indicators + made, rnd)
        if not kind:
            continue
        objects.append({"type": kind, "spec_version": "2.1", "id": _id(kind, rnd), "value": value})
        made += 1
    while len(objects) < total:
        target = rnd.choice(targets)
        objects.append(
            _sdo(
                "relationship",
                rnd,
                relationship_type="indicates",
                source_ref=rnd.choice(indicator_ids),
                target_ref=target["id"],
            )
        )
    bundle = {"type": "bundle", "id": _id("bundle", rnd), "objects": objects}
    path.write_text(json.dumps(bundle))
    return {"indicators": indicators, "observables": observables}


def reference_json(path: Path, objects: int) -> float:
    started = time.perf_counter()
    json.loads(path.read_bytes())
    return objects / (time.perf_counter() - started)


def reference_stix2(path: Path, objects: int) -> float:
    import stix2

    text = path.read_text()
    started = time.perf_counter()
    stix2.parse(text, allow_custom=True)
    return objects / (time.perf_counter() - started)


def run_engine(url: str, path: Path, objects: int, settings: Settings) -> tuple[float, float]:
    upgrade(url)
    database = Database(url, cache_mb=settings.sqlite_cache_mb)
    suppressor = default_index(settings)
    rates = []
    for _ in range(2):
        started = time.perf_counter()
        with database.transaction() as session:
            source = ensure_source(session, actor=Actor.system(), name="bench")
            summary = import_bundle(
                session, bundle=path, source=source, actor=Actor.system(), suppressor=suppressor
            )
        rates.append(objects / (time.perf_counter() - started))
        total = summary.total
        print(
            f"  {url.split(':')[0]:<10} created {total.created:>7,} kept {total.kept:>7,} "
            f"unchanged {total.unchanged:>7,} values {summary.indicators.new:>7,} new  "
            f"links {summary.links.actor_indicators + summary.links.campaign_indicators:>6,}  "
            f"{rates[-1]:>9,.0f} objects/s"
        )
    database.dispose()
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("KRSN_BENCH_POSTGRES") or os.environ.get("KRSN_TEST_DATABASE_URL"),
    )
    args = parser.parse_args()
    tune_for_batches()  # as the command line does
    figures: dict[str, object] = {"bench": "stix", "objects": args.objects}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / "bundle.json"
        figures.update(generate(path, args.objects))
        settings = Settings(data_dir=root / "var")
        print(f"Importing {args.objects:,} STIX objects ({path.stat().st_size / 1e6:.0f} MB)")
        first, second = run_engine(f"sqlite:///{root / 'bench.db'}", path, args.objects, settings)
        figures.update(sqlite_objects_per_s=round(first), sqlite_rerun_objects_per_s=round(second))
        if args.postgres:
            with scratch_postgres(args.postgres) as url:
                first, second = run_engine(url, path, args.objects, settings)
            figures.update(
                postgres_objects_per_s=round(first), postgres_rerun_objects_per_s=round(second)
            )
        figures["reference_json_loads_objects_per_s"] = round(reference_json(path, args.objects))
        stix2_rate = reference_stix2(path, args.objects)
        figures["reference_stix2_parse_objects_per_s"] = round(stix2_rate)
    for key in ("sqlite_objects_per_s", "postgres_objects_per_s"):
        if key in figures:
            rate = figures[key]
            assert isinstance(rate, int)
            figures[key.replace("_objects_per_s", "_vs_stix2_parse")] = round(rate / stix2_rate, 1)
    print()
    print(f"{'figure':<40}{'value':>14}")
    for key, value in figures.items():
        if key.endswith(("per_s", "stix2_parse")):
            shown = f"{value:,}" if isinstance(value, int) else f"{value}×"
            print(f"{key:<40}{shown:>14}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
