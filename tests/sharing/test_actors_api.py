"""Threat actors over HTTP: CRUD, search and paging, permissions, audit, and the profile of an
actor the ATT&CK import brought (its techniques, tools and campaigns)."""

from __future__ import annotations

import gzip
import json
from functools import cache
from typing import Any

from sqlalchemy import select

from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.sharing.attack import import_attack
from support import shared_data

ACTORS = "/api/v1/threat-actors"


def test_an_actor_round_trips_through_create_read_update_and_delete(api, audit_actions, make):
    api.login_as("ana", "analyst")
    created = make.actor(
        "Sandworm Team",
        aliases=["Voodoo Bear", "IRIDIUM"],
        sophistication="expert",
        motivations=["sabotage"],
        target_industries=["energy"],
        target_countries=["UA"],
        known_tools=["Industroyer"],
        first_observed="2014-01-01T00:00:00Z",
        attribution_data={"confidence": "high"},
    )
    assert created["aliases"] == ["Voodoo Bear", "IRIDIUM"]
    assert created["known_tools"] == [
        {
            "name": "Industroyer",
            "attack_id": None,
            "type": None,
            "domain": None,
            "source": "analyst",
        }
    ]
    assert created["indicator_count"] == 0
    assert created["attribution_data"] == {"confidence": "high"}
    actor_id = created["id"]

    shown = api.get(f"{ACTORS}/{actor_id}").json()
    assert shown["sophistication"] == "expert"
    assert shown["first_observed"].startswith("2014-01-01T00:00:00")

    changed = api.patch(
        f"{ACTORS}/{actor_id}", json={"sophistication": "high", "aliases": ["ELECTRUM"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["sophistication"] == "high"
    assert changed.json()["aliases"] == ["ELECTRUM"]
    assert changed.json()["motivations"] == ["sabotage"]

    assert api.delete(f"{ACTORS}/{actor_id}").status_code == 204
    assert api.get(f"{ACTORS}/{actor_id}").status_code == 404
    assert audit_actions("threat_actor") == [
        "threat_actor.create",
        "threat_actor.update",
        "threat_actor.delete",
    ]


def test_an_update_audits_old_and_new_values(api, make):
    api.login_as("ana", "analyst")
    actor_id = make.actor("APT-X", sophistication="low")["id"]
    api.patch(f"{ACTORS}/{actor_id}", json={"sophistication": "medium"})
    with api.database.transaction(readonly=True) as session:
        row = session.scalar(select(AuditLog).where(AuditLog.action == "threat_actor.update"))
        assert row is not None
        assert row.old_values == {"sophistication": "low"}
        assert row.new_values == {"sophistication": "medium"}
        assert row.resource_id == actor_id


def test_a_taken_name_in_any_case_is_a_conflict(api, make):
    api.login_as("ana", "analyst")
    make.actor("Lazarus Group")
    clash = api.post(ACTORS, json={"actor_name": "lazarus group"})
    assert clash.status_code == 409
    assert clash.headers["content-type"].startswith("application/problem+json")
    other = make.actor("Kimsuky")
    renamed = api.patch(f"{ACTORS}/{other['id']}", json={"actor_name": "LAZARUS GROUP"})
    assert renamed.status_code == 409


def test_bad_values_are_problem_details_naming_the_field(api):
    api.login_as("ana", "analyst")
    bad_level = api.post(ACTORS, json={"actor_name": "X", "sophistication": "godlike"})
    assert bad_level.status_code == 422
    assert bad_level.json()["errors"][0]["field"] == "sophistication"
    backwards = api.post(
        ACTORS,
        json={
            "actor_name": "Y",
            "first_observed": "2024-01-02T00:00:00Z",
            "last_observed": "2024-01-01T00:00:00Z",
        },
    )
    assert backwards.status_code == 422
    assert "first_observed" in backwards.json()["detail"]
    unknown_technique = api.post(ACTORS, json={"actor_name": "Z", "techniques": ["T9999"]})
    assert unknown_technique.status_code == 422
    assert unknown_technique.json()["field"] == "techniques"
    reserved = api.post(
        ACTORS, json={"actor_name": "W", "attribution_data": {"mitre_attack": {"x": 1}}}
    )
    assert reserved.status_code == 422
    assert api.post(ACTORS, json={"actor_name": "  "}).status_code == 422
    assert api.post(ACTORS, json={"actor_name": "V", "colour": "red"}).status_code == 422


def test_actors_page_by_name_and_filter_by_alias_sophistication_and_dates(api, make):
    api.login_as("ana", "analyst")
    make.actor("charlie", sophistication="high", last_observed="2024-06-01T00:00:00Z")
    make.actor("alpha", aliases=["Fancy Bear"], sophistication="expert")
    make.actor("bravo", aliases=["Cozy Bear"], last_observed="2023-01-01T00:00:00Z")
    make.actor("delta")
    api.login_as("vic", "viewer")

    first = api.get(ACTORS, params={"limit": 3}).json()
    assert [a["actor_name"] for a in first["items"]] == ["alpha", "bravo", "charlie"]
    assert first["total"] == 4
    rest = api.get(ACTORS, params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [a["actor_name"] for a in rest["items"]] == ["delta"]
    assert rest["next_cursor"] is None

    backwards = api.get(ACTORS, params={"limit": 2, "sort": "-name"}).json()
    assert [a["actor_name"] for a in backwards["items"]] == ["delta", "charlie"]
    wrong_order = api.get(ACTORS, params={"sort": "name", "cursor": backwards["next_cursor"]})
    assert wrong_order.status_code == 422

    bears = api.get(ACTORS, params={"q": "BEAR"}).json()
    assert sorted(a["actor_name"] for a in bears["items"]) == ["alpha", "bravo"]
    by_name = api.get(ACTORS, params={"q": "arli"}).json()
    assert [a["actor_name"] for a in by_name["items"]] == ["charlie"]
    expert = api.get(ACTORS, params={"sophistication": "expert"}).json()
    assert [a["actor_name"] for a in expert["items"]] == ["alpha"]
    recent = api.get(ACTORS, params={"observed_after": "2024-01-01T00:00:00Z"}).json()
    assert [a["actor_name"] for a in recent["items"]] == ["charlie"]
    assert api.get(ACTORS, params={"sophistication": "godlike"}).status_code == 422
    assert api.get(ACTORS, params={"cursor": "not-a-cursor"}).status_code == 422


def test_a_viewer_reads_actors_but_cannot_change_them(api, audit_actions, make):
    writer = api.fresh()
    writer.login_as("ana", "analyst")
    actor_id = make.actor("Turla", client=writer)["id"]
    api.login_as("vic", "viewer")
    assert api.get(f"{ACTORS}/{actor_id}").status_code == 200
    assert api.post(ACTORS, json={"actor_name": "Other"}).status_code == 403
    assert api.patch(f"{ACTORS}/{actor_id}", json={"description": "x"}).status_code == 403
    assert api.delete(f"{ACTORS}/{actor_id}").status_code == 403
    user = api.fresh()
    user.login_as("uma", "user")
    assert user.post(ACTORS, json={"actor_name": "Other"}).status_code == 403
    assert audit_actions("threat_actor") == ["threat_actor.create"]


def test_an_actor_shows_its_linked_indicators_count_techniques_and_campaigns(
    api, seed_indicators, make
):
    ids = seed_indicators("198.51.100.7", "evil.example.org")
    api.login_as("ana", "analyst")
    technique = api.post(
        "/api/v1/mitre-techniques",
        json={"technique_id": "X0001", "technique_name": "Custom phishing", "tactics": ["x"]},
    )
    assert technique.status_code == 201, technique.text
    actor_id = make.actor("FIN7", techniques=["x0001"])["id"]
    for value in ids:
        linked = api.post(f"{ACTORS}/{actor_id}/indicators", json={"indicator": value})
        assert linked.status_code == 201, linked.text
    campaign = api.post(
        "/api/v1/threat-campaigns",
        json={"campaign_name": "Carbanak wave", "attributed_actors": [actor_id]},
    )
    assert campaign.status_code == 201, campaign.text

    shown = api.get(f"{ACTORS}/{actor_id}").json()
    assert shown["indicator_count"] == 2
    assert shown["techniques"] == [
        {"technique_id": "X0001", "name": "Custom phishing", "sources": ["analyst"]}
    ]
    assert shown["campaigns"] == [
        {"id": campaign.json()["id"], "campaign_name": "Carbanak wave", "status": "active"}
    ]
    listed = api.get(ACTORS).json()["items"]
    assert listed[0]["indicator_count"] == 2


@cache
def _ics_bundle() -> dict[str, Any]:
    with gzip.open(shared_data("attack", "ics-attack-18.1.json.gz"), "rb") as stream:
        return json.load(stream)


def _attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references") or ():
        if ref.get("source_name", "").startswith("mitre") and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def test_an_actor_imported_from_attack_shows_the_techniques_and_tools_it_uses(api):
    bundle = _ics_bundle()
    by_id = {o["id"]: o for o in bundle["objects"]}
    groups = [
        o
        for o in bundle["objects"]
        if o["type"] == "intrusion-set" and not o.get("revoked") and _attack_id(o)
    ]
    uses: dict[str, set[str]] = {}
    for rel in bundle["objects"]:
        if rel["type"] == "relationship" and rel["relationship_type"] == "uses":
            if rel.get("revoked") or rel.get("x_mitre_deprecated"):
                continue
            uses.setdefault(rel["source_ref"], set()).add(rel["target_ref"])
    # The group that uses the most, so the check is not satisfied by an empty list.
    group = max(groups, key=lambda g: len(uses.get(g["id"], ())))
    expected_techniques = {
        _attack_id(by_id[t])
        for t in uses[group["id"]]
        if t in by_id and by_id[t]["type"] == "attack-pattern"
    }
    expected_tools = {
        _attack_id(by_id[t])
        for t in uses[group["id"]]
        if t in by_id and by_id[t]["type"] in ("malware", "tool")
    }
    assert expected_techniques
    with api.database.transaction() as session:
        import_attack(session, bundle=bundle, actor=Actor.system())

    api.login_as("vic", "viewer")
    found = api.get(ACTORS, params={"q": group["name"]}).json()["items"]
    actor = next(a for a in found if a["actor_name"] == group["name"])
    assert actor["attack_id"] == _attack_id(group)
    shown = api.get(f"{ACTORS}/{actor['id']}").json()
    attack_techniques = {t["technique_id"] for t in shown["techniques"] if "attack" in t["sources"]}
    assert attack_techniques == expected_techniques
    assert all(t["name"] for t in shown["techniques"])
    tools = {t["attack_id"] for t in shown["known_tools"] if t["source"] == "attack"}
    assert tools == expected_tools

    # An analyst's tool sits beside ATT&CK's, which the edit leaves alone.
    api.login_as("ana", "analyst")
    edited = api.patch(f"{ACTORS}/{actor['id']}", json={"known_tools": ["custom implant"]})
    assert edited.status_code == 200, edited.text
    names = [(t["name"], t["source"]) for t in edited.json()["known_tools"]]
    assert ("custom implant", "analyst") in names
    assert {t["attack_id"] for t in edited.json()["known_tools"] if t["source"] == "attack"} == (
        expected_tools
    )
    assert edited.json()["attribution_data"]["mitre_attack"]["attack_id"] == _attack_id(group)
