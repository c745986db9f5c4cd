"""Indicators linked to actors, campaigns and techniques over HTTP (add, list, edit, remove),
and techniques: ATT&CK's listed and filtered, custom ones written."""

from __future__ import annotations

from krsn.sharing.models import MitreTechnique

ACTORS = "/api/v1/threat-actors"
CAMPAIGNS = "/api/v1/threat-campaigns"
TECHNIQUES = "/api/v1/mitre-techniques"


def attack_technique(api, technique_id: str, name: str, tactic: str, platforms: list[str]) -> None:
    """A technique as the ATT&CK import leaves it: a row, and an entry in the domain catalog."""
    from krsn.identity.models import ConfigCategory, SystemConfiguration

    with api.database.transaction() as session:
        session.add(
            MitreTechnique(
                technique_id=technique_id,
                technique_name=name,
                tactic=tactic,
                platforms=platforms,
                data_sources=[],
                defenses_bypassed=[],
            )
        )
        entry = session.get(SystemConfiguration, "attack.enterprise-attack")
        techniques = dict(entry.value["techniques"]) if entry else {}
        techniques[technique_id] = {"status": "active", "subtechnique": "." in technique_id}
        value = {"domain": "enterprise-attack", "techniques": techniques}
        if entry is None:
            session.add(
                SystemConfiguration(
                    key="attack.enterprise-attack", value=value, category=ConfigCategory.INTEGRATION
                )
            )
        else:
            entry.value = value


def test_an_actor_link_is_added_listed_edited_and_removed_with_audit(
    api, seed_indicators, audit_actions, make
):
    ids = seed_indicators("198.51.100.7", "evil.example.org")
    api.login_as("ana", "analyst")
    me = api.get("/api/v1/auth/me").json()["user"]["id"]
    actor_id = make.actor("APT-28")["id"]
    links = f"{ACTORS}/{actor_id}/indicators"

    added = api.post(
        links,
        json={
            "indicator": "198[.]51[.]100[.]7",
            "relationship_type": "infrastructure",
            "confidence_score": 85.5,
            "evidence": "seen in the 2023 report",
        },
    )
    assert added.status_code == 201, added.text
    link = added.json()
    assert link["indicator"] == {"id": ids["198.51.100.7"], "value": "198.51.100.7", "type": "ip"}
    assert link["relationship_type"] == "infrastructure"
    assert link["confidence_score"] == 85.5
    assert link["linked_by"] == me and link["linked_at"]
    assert api.post(links, json={"indicator": ids["evil.example.org"]}).status_code == 201

    listed = api.get(links, params={"limit": 1}).json()
    assert listed["total"] == 2 and len(listed["items"]) == 1
    rest = api.get(links, params={"limit": 1, "cursor": listed["next_cursor"]}).json()
    assert {listed["items"][0]["indicator"]["value"], rest["items"][0]["indicator"]["value"]} == {
        "198.51.100.7",
        "evil.example.org",
    }

    one = f"{links}/{ids['198.51.100.7']}"
    edited = api.patch(one, json={"relationship_type": "tool", "confidence_score": 40})
    assert edited.status_code == 200, edited.text
    assert edited.json()["relationship_type"] == "tool"
    assert edited.json()["confidence_score"] == 40
    assert edited.json()["evidence"] == "seen in the 2023 report"

    assert api.delete(one).status_code == 204
    assert api.delete(one).status_code == 404
    assert api.get(links).json()["total"] == 1
    assert api.get(f"{ACTORS}/{actor_id}").json()["indicator_count"] == 1
    assert sorted(audit_actions("actor_indicator")) == sorted(
        [
            "actor_indicator.create",
            "actor_indicator.create",
            "actor_indicator.update",
            "actor_indicator.delete",
        ]
    )


def test_link_mistakes_are_clear_problems(api, seed_indicators, make):
    ids = seed_indicators("198.51.100.7")
    api.login_as("ana", "analyst")
    campaign_id = make.campaign("Op")["id"]
    links = f"{CAMPAIGNS}/{campaign_id}/indicators"
    assert api.post(links, json={"indicator": ids["198.51.100.7"]}).status_code == 201
    again = api.post(links, json={"indicator": "198.51.100.7"})
    assert again.status_code == 409
    unknown = api.post(links, json={"indicator": "192.0.2.55"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "indicator"
    unreadable = api.post(links, json={"indicator": "not an indicator"})
    assert unreadable.status_code == 422
    wrong_type = api.post(links, json={"indicator": "198.51.100.7", "relationship_type": "tool"})
    assert wrong_type.status_code == 422
    too_sure = api.post(links, json={"indicator": "198.51.100.7", "confidence_score": 101})
    assert too_sure.status_code == 422
    nowhere = api.post(
        f"{CAMPAIGNS}/00000000-0000-0000-0000-000000000001/indicators",
        json={"indicator": "198.51.100.7"},
    )
    assert nowhere.status_code == 404
    api.login_as("vic", "viewer")
    assert api.get(links).json()["total"] == 1
    assert api.post(links, json={"indicator": "198.51.100.7"}).status_code == 403
    assert api.delete(f"{links}/{ids['198.51.100.7']}").status_code == 403


def test_a_campaign_link_keeps_notes(api, seed_indicators, make):
    ids = seed_indicators("evil.example.org")
    api.login_as("ana", "analyst")
    campaign_id = make.campaign("Op")["id"]
    links = f"{CAMPAIGNS}/{campaign_id}/indicators"
    added = api.post(
        links, json={"indicator": "evil.example.org", "relationship_type": "payload", "notes": "n"}
    ).json()
    assert added["notes"] == "n" and added["campaign_id"] == campaign_id
    edited = api.patch(f"{links}/{ids['evil.example.org']}", json={"notes": "m"}).json()
    assert edited["notes"] == "m" and edited["relationship_type"] == "payload"


def test_an_indicator_is_mapped_to_an_attack_technique(api, seed_indicators, make):
    ids = seed_indicators("evil.example.org")
    attack_technique(api, "T1059.001", "PowerShell", "execution", ["Windows"])
    api.login_as("ana", "analyst")
    mapped = api.post(
        f"{TECHNIQUES}/t1059.001/indicators",
        json={"indicator": "evil.example.org", "confidence_score": 70, "evidence": "stager"},
    )
    assert mapped.status_code == 201, mapped.text
    assert mapped.json()["technique_id"] == "T1059.001"
    shown = api.get(f"{TECHNIQUES}/T1059.001").json()
    assert shown["analyst_links"] == 1 and shown["indicator_count"] == 1
    # The list carries each technique's coverage, which the matrix is coloured by.
    listed_all = api.get(TECHNIQUES, params={"q": "T1059"}).json()["items"]
    assert {t["technique_id"]: t["indicator_count"] for t in listed_all}["T1059.001"] == 1
    assert shown["technique_name"] == "PowerShell"
    listed = api.get(f"{TECHNIQUES}/T1059.001/indicators").json()
    assert [m["indicator"]["id"] for m in listed["items"]] == [ids["evil.example.org"]]

    # An actor linked to the indicator now uses the technique, by way of its indicators.
    actor_id = make.actor("APT-X")["id"]
    api.post(f"{ACTORS}/{actor_id}/indicators", json={"indicator": "evil.example.org"})
    techniques = api.get(f"{ACTORS}/{actor_id}").json()["techniques"]
    assert techniques == [
        {"technique_id": "T1059.001", "name": "PowerShell", "sources": ["indicators"]}
    ]
    assert api.delete(
        f"{TECHNIQUES}/T1059.001/indicators/{ids['evil.example.org']}"
    ).status_code == (204)
    assert api.get(f"{TECHNIQUES}/T1059.001").json()["analyst_links"] == 0


def test_techniques_list_with_filters_and_an_analyst_adds_a_custom_one(api, audit_actions):
    attack_technique(api, "T1059", "Command and Scripting Interpreter", "execution", ["Linux"])
    attack_technique(api, "T1566", "Phishing", "initial-access", ["Windows", "Linux"])
    api.login_as("ana", "analyst")
    custom = api.post(
        TECHNIQUES,
        json={
            "technique_id": "x-0001",
            "technique_name": "Fax phishing",
            "tactics": ["initial-access"],
            "platforms": ["Fax"],
        },
    )
    assert custom.status_code == 201, custom.text
    assert custom.json()["technique_id"] == "X-0001"
    assert custom.json()["domain"] is None
    assert (
        api.post(TECHNIQUES, json={"technique_id": "X-0001", "technique_name": "again"}).status_code
        == 409
    )

    everything = api.get(TECHNIQUES).json()
    assert [t["technique_id"] for t in everything["items"]] == ["T1059", "T1566", "X-0001"]
    first = api.get(TECHNIQUES, params={"limit": 2, "sort": "-id"}).json()
    assert [t["technique_id"] for t in first["items"]] == ["X-0001", "T1566"]
    rest = api.get(TECHNIQUES, params={"limit": 2, "sort": "-id", "cursor": first["next_cursor"]})
    assert [t["technique_id"] for t in rest.json()["items"]] == ["T1059"]
    phishing = api.get(TECHNIQUES, params={"q": "PHISH"}).json()
    assert [t["technique_id"] for t in phishing["items"]] == ["T1566", "X-0001"]
    initial = api.get(TECHNIQUES, params={"tactic": "initial-access"}).json()
    assert [t["technique_id"] for t in initial["items"]] == ["T1566", "X-0001"]
    linux = api.get(TECHNIQUES, params={"platform": "Linux"}).json()
    assert [t["technique_id"] for t in linux["items"]] == ["T1059", "T1566"]

    assert audit_actions("mitre_technique") == ["mitre_technique.create"]
    api.login_as("vic", "viewer")
    assert api.post(TECHNIQUES, json={"technique_id": "X2", "technique_name": "n"}).status_code == (
        403
    )
