"""ATT&CK import on both engines, checked against counts read from the bundles themselves."""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.attack import get_technique, import_attack, list_techniques
from krsn.sharing.models import (
    ActorIndicator,
    CampaignIndicator,
    IndicatorTechnique,
    MitreTechnique,
    ThreatActor,
    ThreatCampaign,
)
from krsn.sharing.schemas import ImportSummary
from support import shared_data

ATTACK_SOURCES = {"mitre-attack", "mitre-ics-attack", "mitre-mobile-attack"}


@cache
def _read(name: str) -> dict[str, Any]:
    with gzip.open(shared_data("attack", name), "rb") as stream:
        return json.load(stream)  # type: ignore[no-any-return]


def bundle(name: str = "enterprise-attack-18.1.json.gz") -> dict[str, Any]:
    """The bundle as published; each test gets its own copy to change."""
    return copy.deepcopy(_read(name))


def attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references") or ():
        if ref.get("source_name") in ATTACK_SOURCES and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def of_type(data: dict[str, Any], *types: str) -> list[dict[str, Any]]:
    return [o for o in data["objects"] if o["type"] in types and attack_id(o)]


def flagged(obj: dict[str, Any]) -> bool:
    return bool(obj.get("revoked") or obj.get("x_mitre_deprecated"))


def run(db: Database, data: dict[str, Any] | Path) -> ImportSummary:
    with db.transaction() as session:
        return import_attack(session, bundle=data, actor=Actor.system())


def count(db: Database, model: type) -> int:
    with db.transaction(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def uses(data: dict[str, Any], source: str, *target_types: str) -> set[str]:
    by_id = {o["id"]: o for o in data["objects"]}
    return {
        attack_id(by_id[r["target_ref"]]) or ""
        for r in data["objects"]
        if r["type"] == "relationship"
        and r["relationship_type"] == "uses"
        and r["source_ref"] == source
        and not flagged(r)
        and by_id.get(r["target_ref"], {}).get("type") in target_types
    }


def test_the_enterprise_bundle_lands_whole_with_its_own_counts(db: Database):
    data = bundle()
    techniques = of_type(data, "attack-pattern")
    summary = run(db, data)

    main = [t for t in techniques if not t.get("x_mitre_is_subtechnique")]
    subs = [t for t in techniques if t.get("x_mitre_is_subtechnique")]
    assert summary.techniques.created == len(main)
    assert summary.subtechniques.created == len(subs)
    assert summary.techniques.revoked + summary.subtechniques.revoked == sum(
        map(flagged, techniques)
    )
    assert summary.groups.created == len(of_type(data, "intrusion-set"))
    assert summary.campaigns.created == len(of_type(data, "campaign"))
    assert summary.software.created == len(of_type(data, "malware", "tool"))
    assert summary.tactics.created == len(of_type(data, "x-mitre-tactic"))
    assert count(db, MitreTechnique) == len(techniques)
    assert count(db, ThreatActor) == len(of_type(data, "intrusion-set"))
    assert count(db, ThreatCampaign) == len(of_type(data, "campaign"))
    with db.transaction(readonly=True) as session:
        listed = list_techniques(session)
        everything = list_techniques(session, include_flagged=True)
        audits = session.scalars(select(AuditLog).where(AuditLog.action == "attack.import")).all()
    assert len(listed) == sum(not flagged(t) for t in techniques)
    assert len(everything) == len(techniques)
    assert [a.resource_id for a in audits] == ["enterprise-attack"]
    assert audits[0].details["groups"]["created"] == summary.groups.created  # type: ignore[index]


def test_a_technique_keeps_its_tactics_platforms_and_link(db: Database):
    data = bundle()
    technique = next(
        t
        for t in of_type(data, "attack-pattern")
        if not flagged(t) and len(t["kill_chain_phases"]) >= 2
    )
    run(db, data)
    with db.transaction(readonly=True) as session:
        shown = get_technique(session, attack_id(technique) or "")
    assert shown.technique_name == technique["name"]
    assert set(shown.tactics) == {p["phase_name"] for p in technique["kill_chain_phases"]}
    assert shown.platforms == technique["x_mitre_platforms"]
    assert shown.stix_id == technique["id"]
    assert shown.url and shown.url.startswith("https://attack.mitre.org/techniques/")
    assert shown.status == "active"


def test_a_subtechnique_is_linked_to_its_parent(db: Database):
    data = bundle()
    by_id = {o["id"]: o for o in data["objects"]}
    link = next(
        r
        for r in data["objects"]
        if r["type"] == "relationship" and r["relationship_type"] == "subtechnique-of"
    )
    child, parent = attack_id(by_id[link["source_ref"]]), attack_id(by_id[link["target_ref"]])
    assert child and parent
    run(db, data)
    with db.transaction(readonly=True) as session:
        shown_child = get_technique(session, child.lower())
        shown_parent = get_technique(session, parent)
    assert shown_child.is_subtechnique
    assert shown_child.parent is not None and shown_child.parent.attack_id == parent
    assert child in [s.attack_id for s in shown_parent.subtechniques]
    assert not shown_parent.is_subtechnique


def test_a_group_shows_the_techniques_and_software_it_uses(db: Database):
    data = bundle()
    groups = [g for g in of_type(data, "intrusion-set") if not flagged(g)]
    group = max(groups, key=lambda g: len(uses(data, g["id"], "malware", "tool")))
    techniques = uses(data, group["id"], "attack-pattern")
    software = uses(data, group["id"], "malware", "tool")
    assert techniques and software
    run(db, data)
    with db.transaction(readonly=True) as session:
        actor = session.scalars(
            select(ThreatActor).where(ThreatActor.actor_name == group["name"])
        ).one()
        one = get_technique(session, sorted(techniques)[0])
    block = actor.attribution_data["mitre_attack"]["domains"]["enterprise-attack"]
    assert {t["attack_id"] for t in block["techniques"]} == techniques
    assert {s["attack_id"] for s in block["software"]} == software
    assert {t["attack_id"] for t in actor.known_tools} == software
    assert actor.attribution_data["mitre_attack"]["attack_id"] == attack_id(group)
    assert set(group["aliases"]) <= set(actor.aliases or ())
    assert attack_id(group) in [g.attack_id for g in one.groups]


def test_a_campaign_keeps_its_dates_techniques_and_group(db: Database):
    data = bundle()
    attributions = {
        r["source_ref"]: r["target_ref"]
        for r in data["objects"]
        if r["type"] == "relationship" and r["relationship_type"] == "attributed-to"
    }
    campaign = next(c for c in of_type(data, "campaign") if c["id"] in attributions)
    group = next(o for o in data["objects"] if o["id"] == attributions[campaign["id"]])
    run(db, data)
    with db.transaction(readonly=True) as session:
        row = session.scalars(
            select(ThreatCampaign).where(ThreatCampaign.campaign_name == campaign["name"])
        ).one()
    assert row.first_observed is not None
    assert row.first_observed.isoformat()[:10] == campaign["first_seen"][:10]
    assert {t["attack_id"] for t in row.techniques} == uses(data, campaign["id"], "attack-pattern")
    assert [a["attack_id"] for a in row.attributed_actors] == [attack_id(group)]


def test_importing_the_same_bundle_again_changes_nothing(db: Database):
    data = bundle()
    first = run(db, data)
    with db.transaction(readonly=True) as session:
        before = dict(
            session.execute(select(MitreTechnique.technique_id, MitreTechnique.updated_at)).all()
        )
    again = run(db, data)
    for kind, counts in again.counts().items():
        assert (counts.created, counts.updated) == (0, 0), kind
        assert counts.unchanged == getattr(first, kind).created, kind
    with db.transaction(readonly=True) as session:
        after = dict(
            session.execute(select(MitreTechnique.technique_id, MitreTechnique.updated_at)).all()
        )
    assert after == before
    assert count(db, ThreatActor) == first.groups.created
    assert count(db, ThreatCampaign) == first.campaigns.created


def _newer(data: dict[str, Any], tmp_path: Path) -> tuple[Path, str, str]:
    """A copy of the bundle with one technique renamed and another revoked, saved gzipped."""
    live = [t for t in of_type(data, "attack-pattern") if not flagged(t)]
    renamed, revoked = live[0], live[1]
    renamed["name"] = renamed["name"] + " (renamed)"
    revoked["revoked"] = True
    path = tmp_path / "newer.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        json.dump(data, stream)
    return path, attack_id(renamed) or "", attack_id(revoked) or ""


def test_a_newer_bundle_updates_in_place_and_flags_what_it_revokes(db: Database, tmp_path: Path):
    data = bundle()
    first = run(db, data)
    path, renamed, revoked = _newer(data, tmp_path)
    second = run(db, path)
    assert second.techniques.updated + second.subtechniques.updated == 2
    assert second.techniques.created + second.subtechniques.created == 0
    assert (
        second.techniques.revoked + second.subtechniques.revoked
        == first.techniques.revoked + first.subtechniques.revoked + 1
    )
    assert count(db, MitreTechnique) == first.techniques.created + first.subtechniques.created
    with db.transaction(readonly=True) as session:
        assert get_technique(session, renamed).technique_name.endswith(" (renamed)")
        assert get_technique(session, revoked).status == "revoked"
        assert revoked not in [t.technique_id for t in list_techniques(session)]
        assert revoked in [t.technique_id for t in list_techniques(session, include_flagged=True)]


def test_analyst_links_and_notes_survive_a_reimport(db: Database, tmp_path: Path):
    data = bundle()
    run(db, data)
    with db.transaction() as session:
        ref = ensure_source(session, actor=Actor.system(), name="feed-a", reliability=80)
    ingest(db, rows=[ParsedRow(line=1, value="evil.example.com")], source=ref)
    path, _, revoked = _newer(data, tmp_path)
    group = next(g for g in of_type(data, "intrusion-set") if not flagged(g))
    campaign = of_type(data, "campaign")[0]
    with db.transaction() as session:
        indicator = session.scalars(
            select(ThreatIndicator.id).where(ThreatIndicator.indicator_value == "evil.example.com")
        ).one()
        actor = session.scalars(
            select(ThreatActor).where(ThreatActor.actor_name == group["name"])
        ).one()
        actor.aliases = [*(actor.aliases or []), "Analyst Alias"]
        actor.known_tools = [*actor.known_tools, "analyst's own tool"]
        actor.attribution_data = {**actor.attribution_data, "analyst_note": "seen in case 42"}
        row = session.scalars(
            select(ThreatCampaign).where(ThreatCampaign.campaign_name == campaign["name"])
        ).one()
        session.add_all(
            [
                IndicatorTechnique(indicator_id=indicator, technique_id=revoked, evidence="pcap"),
                ActorIndicator(actor_id=actor.id, indicator_id=indicator),
                CampaignIndicator(campaign_id=row.id, indicator_id=indicator),
            ]
        )
    run(db, path)
    run(db, path)
    assert count(db, IndicatorTechnique) == 1
    assert count(db, ActorIndicator) == 1
    assert count(db, CampaignIndicator) == 1
    with db.transaction(readonly=True) as session:
        shown = get_technique(session, revoked)
        actor = session.scalars(
            select(ThreatActor).where(ThreatActor.actor_name == group["name"])
        ).one()
    assert shown.analyst_links == 1 and shown.status == "revoked"
    assert "Analyst Alias" in (actor.aliases or [])
    assert "analyst's own tool" in actor.known_tools
    assert actor.attribution_data["analyst_note"] == "seen in case 42"


def test_the_ics_bundle_imports_beside_enterprise(db: Database):
    enterprise, ics = bundle(), bundle("ics-attack-18.1.json.gz")
    run(db, enterprise)
    summary = run(db, ics)
    ics_techniques = of_type(ics, "attack-pattern")
    assert summary.domain == "ics-attack"
    assert summary.spec_version == "2.1"
    assert summary.techniques.created + summary.subtechniques.created == len(ics_techniques)
    assert count(db, MitreTechnique) == len(of_type(enterprise, "attack-pattern")) + len(
        ics_techniques
    )
    shared = {g["id"] for g in of_type(enterprise, "intrusion-set")}
    both = next(
        g
        for g in of_type(ics, "intrusion-set")
        if g["id"] in shared and uses(ics, g["id"], "attack-pattern")
    )
    groups = Counter(g["id"] in shared for g in of_type(ics, "intrusion-set"))
    assert summary.groups.created == groups[False]
    with db.transaction(readonly=True) as session:
        actor = session.scalars(
            select(ThreatActor).where(ThreatActor.actor_name == both["name"])
        ).one()
        tactic = next(iter(of_type(ics, "x-mitre-tactic")))
        of_tactic = list_techniques(session, tactic=tactic["name"])
    domains = actor.attribution_data["mitre_attack"]["domains"]
    assert {t["attack_id"] for t in domains["ics-attack"]["techniques"]} == uses(
        ics, both["id"], "attack-pattern"
    )
    assert {t["attack_id"] for t in domains["enterprise-attack"]["techniques"]} == uses(
        enterprise, both["id"], "attack-pattern"
    )
    assert len(of_tactic) == sum(
        not flagged(t)
        and tactic["x_mitre_shortname"] in {p["phase_name"] for p in t["kill_chain_phases"]}
        for t in ics_techniques
    )


@pytest.mark.parametrize(
    "content",
    [b"not json", b'{"type": "bundle", "objects": [{"type": "indicator", "id": "x"}]}', b"[]"],
)
def test_what_is_not_an_attack_bundle_is_refused(db: Database, tmp_path: Path, content: bytes):
    path = tmp_path / "bundle.json"
    path.write_bytes(content)
    with pytest.raises(Invalid), db.transaction() as session:
        import_attack(session, bundle=path, actor=Actor.system())
    assert count(db, MitreTechnique) == 0
