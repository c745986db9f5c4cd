"""``krsn attack``: import a bundle, list techniques by tactic, show one with its groups."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from support import shared_data

ENTERPRISE = "enterprise-attack-18.1.json.gz"
ICS = "ics-attack-18.1.json.gz"


def read(name: str) -> tuple[Path, dict[str, Any]]:
    path = shared_data("attack", name)
    with gzip.open(path, "rb") as stream:
        return path, json.load(stream)


def techniques(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in data["objects"] if o["type"] == "attack-pattern"]


def live(obj: dict[str, Any]) -> bool:
    return not (obj.get("revoked") or obj.get("x_mitre_deprecated"))


def attack_id(obj: dict[str, Any]) -> str:
    return next(
        r["external_id"]
        for r in obj["external_references"]
        if r.get("source_name", "").startswith("mitre-") and r.get("external_id")
    )


def test_import_prints_a_summary_and_audits_once(cli: Any):
    path, data = read(ENTERPRISE)
    result = cli.ok("attack", "import", str(path))
    assert "subtechniques" in result.stdout and "relationships" in result.stdout
    main = sum(not t.get("x_mitre_is_subtechnique") for t in techniques(data))
    assert f"{main:,}" in result.stdout
    again = cli.json("attack", "import", str(path))
    assert again["techniques"]["unchanged"] == main
    assert again["techniques"]["created"] == again["techniques"]["updated"] == 0
    assert [a.resource_id for a in cli.audit("attack.import")] == ["enterprise-attack"] * 2


def test_show_gives_tactics_platforms_and_the_groups_using_it(cli: Any):
    path, data = read(ENTERPRISE)
    cli.ok("attack", "import", str(path), "--json")
    by_id = {o["id"]: o for o in data["objects"]}
    used = [
        r
        for r in data["objects"]
        if r["type"] == "relationship"
        and r["relationship_type"] == "uses"
        and r["source_ref"].startswith("intrusion-set--")
        and r["target_ref"].startswith("attack-pattern--")
    ]
    technique = by_id[used[0]["target_ref"]]
    groups = {attack_id(by_id[r["source_ref"]]) for r in used if r["target_ref"] == technique["id"]}
    shown = cli.json("attack", "show", attack_id(technique))
    assert {g["attack_id"] for g in shown["groups"]} == groups
    assert set(shown["tactics"]) == {p["phase_name"] for p in technique["kill_chain_phases"]}
    assert shown["platforms"] == technique["x_mitre_platforms"]
    table = cli.ok("attack", "show", attack_id(technique)).stdout
    assert technique["name"] in table and sorted(groups)[0] in table


def test_techniques_filters_by_tactic_name_or_id(cli: Any):
    path, data = read(ICS)
    cli.ok("attack", "import", str(path), "--json")
    tactic = next(o for o in data["objects"] if o["type"] == "x-mitre-tactic")
    expected = sorted(
        attack_id(t)
        for t in techniques(data)
        if live(t)
        and tactic["x_mitre_shortname"] in {p["phase_name"] for p in t["kill_chain_phases"]}
    )
    by_name = cli.json("attack", "techniques", "--tactic", tactic["name"])
    by_id = cli.json("attack", "techniques", "-t", attack_id(tactic))
    assert [t["technique_id"] for t in by_name] == expected
    assert by_id == by_name
    everything = cli.json("attack", "techniques", "--all")
    assert len(everything) == len(techniques(data))


def test_mistakes_fail_with_a_message(cli: Any, tmp_path: Path):
    cli.failed("attack", "show", "T9999")
    not_a_bundle = tmp_path / "x.json"
    not_a_bundle.write_text("{}")
    assert "STIX bundle" in cli.failed("attack", "import", str(not_a_bundle)).stderr
    path, _ = read(ICS)
    cli.ok("attack", "import", str(path), "--json")
    assert "unknown tactic" in cli.failed("attack", "techniques", "--tactic", "nope").stderr
