"""The README's investigation tour, end to end through the real app and the real command line:
a domain_intel collection (offline, against the shipped recordings), its entities, the 2-hop
graph where a feed's indicator is a linked node, full-text search, and why the risk is high."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import krsn.osint.collectors
from cli_support import Cli
from krsn.config import get_settings

RECORDINGS = Path(krsn.osint.collectors.__file__).parent / "recordings" / "domain_intel"


def test_a_new_investigator_follows_the_tour(
    api: Any, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.login_as("ivy", "analyst")

    # 1. A domain_intel collection for the domain, run against the recorded answers.
    created = api.post(
        "/api/v1/collections",
        json={
            "name": "example.com",
            "collector_type": "domain_intel",
            "config": {"domain": "example.com"},
        },
    )
    assert created.status_code == 201, created.text
    collection = created.json()
    assert collection["status"] == "pending"
    cli.ok("collections", "run", "example.com", "--replay", str(RECORDINGS))

    status = api.get(f"/api/v1/collections/{collection['id']}").json()
    assert status["status"] == "completed"
    assert float(status["progress"]) == 100
    assert status["items_collected"] > 0

    # 2. The extracted addresses, e-mails and subdomains are entities.
    names = {
        (e["entity_type"], e["name"])
        for e in api.get("/api/v1/entities", params={"limit": 200}).json()["items"]
    }
    assert ("ip_address", "203.0.113.7") in names
    assert ("domain", "vpn.example.com") in names
    assert any(kind == "email" for kind, _ in names)

    # 3. A feed names the domain (the warninglists keep its score low: example.com is
    #    reserved), the SOC's watchlist lists it, and a sanctions list names its registrant.
    feed = tmp_path / "feed.txt"
    feed.write_text("example.com\n")
    cli.ok("ingest", str(feed), "--format", "text", "--source", "Partner feed")
    (tmp_path / "sanctions.csv").write_text(
        "id,schema,name,aliases,birth_date,countries,addresses,identifiers,sanctions,phones,"
        "emails,dataset,first_seen,last_seen,last_change\n"
        "tour-0001,Company,Example Holdings,,,us,,,Tour Sanctions List 2026,,,Tour list,"
        "2026-01-05,2026-11-01,2026-11-01\n"
    )
    monkeypatch.setenv("KRSN_OSINT_IMPORT_DIR", str(tmp_path))
    get_settings.cache_clear()
    cli.ok(
        "collections",
        "create",
        "sanctions",
        "--type",
        "public_db",
        "--set",
        "path=sanctions.csv",
        "--owner",
        "ivy",
    )
    cli.ok("collections", "run", "sanctions")
    cli.ok("watchlists", "create", "c2-watch", "--type", "domain_blacklist")
    cli.ok("watchlists", "add", "c2-watch", "example.com")

    # 4. The 2-hop graph around the domain: the feed's indicator is a linked node with its
    #    score, the sanctioned owner is there too.
    domain = cli.json("entities", "show", "domain:example.com")
    hood = api.get(
        "/api/v1/graph/neighbours", params={"node": f"entity:{domain['id']}", "depth": 2}
    ).json()
    indicators = [n for n in hood["nodes"] if n["kind"] == "indicator"]
    assert [n["label"] for n in indicators] == ["example.com"]
    assert indicators[0]["score"] is not None
    labels = {n["label"] for n in hood["nodes"]}
    assert {"Example Holdings", "vpn.example.com", "203.0.113.7"} <= labels

    # 5. Full-text search finds the domain by one of its labels.
    found = api.get("/api/v1/search", params={"q": "vpn", "index": "entities"}).json()
    assert found["items"][0]["title"] == "vpn.example.com", found

    # 6. Why its risk is high: each factor with its evidence.
    latest = api.get(f"/api/v1/entities/{domain['id']}/risk").json()[0]
    factors = {f["factor"]: f for f in latest["factors"] if f["contribution"]}
    assert set(factors) >= {"indicator", "watchlist", "proximity"}
    assert factors["watchlist"]["evidence"][0]["watchlist"] == "c2-watch"
    assert factors["indicator"]["evidence"]["value"] == "example.com"
    owner = cli.json("entities", "show", "organization:Example Holdings")
    assert factors["proximity"]["evidence"][0]["id"] == owner["id"]
    assert latest["score"] == min(100, round(sum(f["contribution"] for f in factors.values())))
    assert latest["level"] == "high"
