"""The sharing tour, end to end on both engines, through the public interfaces only.

A new team imports MITRE ATT&CK, a CIRCL MISP event whose galaxies name APT1, and a partner's
STIX bundle on APT1 (the OASIS example) with the ``krsn`` command line. An analyst of Blue
team then finds, over the REST API, APT1 with its ATT&CK techniques and the hashes the event
links to it, and Ugly Gorilla (an APT1 persona) with the domains the partner says point to
him; puts all of them into a public IOC collection, and writes a confidential (TLP:RED)
report on one domain, marking that indicator TLP:RED too. A colleague of another
organization pages the collection with the OASIS ``taxii2-client``: every indicator arrives
but the RED one, and the report is nowhere in what they can pull or export.

ATT&CK is the Enterprise bundle: the sample events name no group the ICS bundle knows, so with
ICS alone the actor would have no ATT&CK techniques to show.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import pytest
import requests
from taxii2client.v21 import Collection, Server, as_pages
from typer.testing import CliRunner

from krsn.cli.main import app as cli_app
from krsn.config import get_settings
from krsn.db import get_database, set_database
from support import shared_data

ATTACK = ("attack", "enterprise-attack-18.1.json.gz")
MISP_EVENT = ("misp", "pymisp", "galaxy_1.json")
PARTNER_BUNDLE = ("stix", "oasis-docs", "apt1.json")
HASH_TYPES = ("md5", "sha1", "sha256", "sha512")

ACTOR_TAG = re.compile(r'misp-galaxy:mitre-intrusion-set="(?P<name>.+) - (?P<id>G\d{4})"')
TECHNIQUE_TAG = re.compile(r'misp-galaxy:mitre-(?:[a-z]+-)*attack-pattern=".+ - (?P<id>T[\d.]+)"')
DOMAIN_PATTERN = re.compile(r"\[domain-name:value = '(?P<value>[^']+)'\]")

# The APT1 persona the partner's domain indicators point to ("indicates" in the bundle).
PARTNER_ACTOR = "Ugly Gorilla"
PACK = "APT1 hunt pack"
REPORT = "Ugly Gorilla's next domain, from a source we must protect"
STIX_EXPORT = "/api/v1/stix/export"


# --- What the samples say -------------------------------------------------------------------


@cache
def attack_bundle() -> dict[str, Any]:
    with gzip.open(shared_data(*ATTACK), "rb") as stream:
        return json.load(stream)


def partner_bundle() -> dict[str, Any]:
    return json.loads(shared_data(*PARTNER_BUNDLE).read_bytes())


def misp_event() -> dict[str, Any]:
    return json.loads(shared_data(*MISP_EVENT).read_bytes())["Event"]


def attributes(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The event's attributes, its objects' included."""
    found = list(event.get("Attribute") or ())
    for obj in event.get("Object") or ():
        found += obj.get("Attribute") or ()
    return found


def hashes(event: dict[str, Any]) -> set[str]:
    """The file hashes the event states (the same one may be stated twice)."""
    return {a["value"].lower() for a in attributes(event) if a["type"] in HASH_TYPES}


def live(obj: dict[str, Any]) -> bool:
    return not (obj.get("revoked") or obj.get("x_mitre_deprecated"))


def attack_id(obj: dict[str, Any]) -> str:
    return next(
        ref["external_id"]
        for ref in obj["external_references"]
        if ref.get("source_name") == "mitre-attack"
    )


def named_group(event: dict[str, Any]) -> tuple[str, str]:
    """The first ATT&CK group the event's galaxy tags name: (name, group id)."""
    for tag in event["Tag"]:
        found = ACTOR_TAG.fullmatch(tag["name"])
        if found:
            return found["name"], found["id"]
    raise AssertionError("the sample event names no ATT&CK group")


def techniques_of_group(group_id: str) -> set[str]:
    """The techniques ATT&CK says the group uses."""
    objects = attack_bundle()["objects"]
    by_id = {obj["id"]: obj for obj in objects}
    group = next(
        obj for obj in objects if obj["type"] == "intrusion-set" and attack_id(obj) == group_id
    )
    return {
        attack_id(by_id[rel["target_ref"]])
        for rel in objects
        if rel["type"] == "relationship"
        and rel["relationship_type"] == "uses"
        and rel["source_ref"] == group["id"]
        and rel["target_ref"].startswith("attack-pattern--")
        and live(rel)
        and live(by_id[rel["target_ref"]])
    }


def techniques_tagged_on_hashes(event: dict[str, Any]) -> set[str]:
    """The techniques the event's galaxy tags put on its file hashes."""
    return {
        found["id"]
        for attribute in attributes(event)
        if attribute["type"] in HASH_TYPES
        for tag in attribute.get("Tag") or ()
        if (found := TECHNIQUE_TAG.fullmatch(tag["name"]))
    }


def domain_of(pattern: str) -> str:
    found = DOMAIN_PATTERN.fullmatch(pattern)
    assert found, pattern
    return found["value"]


def partner_domains_of(bundle: dict[str, Any], actor_name: str) -> set[str]:
    """The domains the partner's indicators say point to this threat actor."""
    actor = next(o for o in bundle["objects"] if o.get("name") == actor_name)
    indicators = {o["id"]: o for o in bundle["objects"] if o["type"] == "indicator"}
    return {
        domain_of(indicators[rel["source_ref"]]["pattern"])
        for rel in bundle["objects"]
        if rel["type"] == "relationship"
        and rel["relationship_type"] == "indicates"
        and rel["target_ref"] == actor["id"]
    }


def partner_values(bundle: dict[str, Any]) -> int:
    """How many indicators of the bundle compare one value (the others are patterns)."""
    return sum(
        o["type"] == "indicator" and " AND " not in o["pattern"] and " OR " not in o["pattern"]
        for o in bundle["objects"]
    )


# --- The people and their tools -------------------------------------------------------------


@pytest.fixture
def krsn(api: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``krsn … --json`` against the test's database; a failure fails the test, else the
    command's JSON answer."""
    monkeypatch.setenv("KRSN_DATABASE_URL", api.database.url)
    get_settings.cache_clear()
    set_database(None)
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(cli_app, [*args, "--json"])
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return json.loads(result.stdout)

    try:
        yield run
    finally:
        get_database().dispose()
        set_database(None)
        get_settings.cache_clear()


class Bearer(requests.auth.AuthBase):
    """An API key on every request, as the TAXII client sends credentials."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.key}"
        return request


@dataclass
class Team:
    """root (admin) set up alice, an analyst of Blue team, and bob, an analyst of Partner
    CERT; each holds an API key."""

    base_url: str
    keys: dict[str, str]

    def rest(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.keys[who]}"},
            timeout=30,
        )

    def taxii(self, who: str) -> Server:
        return Server(f"{self.base_url}/taxii2/", auth=Bearer(self.keys[who]))


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def set_up_team(base_url: str, krsn: Callable[..., Any]) -> Team:
    """The operator makes an admin and its key on the command line; the admin makes the
    organizations and the analysts over the API; each analyst gets a key."""
    krsn("users", "create", "root", "--email", "root@example.org", "--role", "admin")
    team = Team(
        base_url, {"root": krsn("apikeys", "create", "--user", "root", "-n", "setup")["key"]}
    )
    with team.rest("root") as root:
        for username, organization in (("alice", "Blue team"), ("bob", "Partner CERT")):
            made = ok(root.post("/api/v1/organizations", json={"name": organization}), 201)
            user = {
                "username": username,
                "email": f"{username}@example.org",
                "role": "analyst",
                "organization_id": made["id"],
            }
            ok(root.post("/api/v1/users", json=user), 201)
            team.keys[username] = krsn("apikeys", "create", "--user", username, "-n", "tour")["key"]
    return team


def actor_named(client: httpx.Client, name: str) -> dict[str, Any]:
    """The actor of this exact name, as its detail page shows it."""
    page = ok(client.get("/api/v1/threat-actors", params={"q": name, "limit": 100}))
    [found] = [a for a in page["items"] if a["actor_name"] == name]
    return ok(client.get(f"/api/v1/threat-actors/{found['id']}"))


def linked_indicators(client: httpx.Client, actor: dict[str, Any]) -> dict[str, str]:
    """The indicators linked to the actor: ids by value."""
    page = ok(client.get(f"/api/v1/threat-actors/{actor['id']}/indicators", params={"limit": 100}))
    assert page["next_cursor"] is None
    return {link["indicator"]["value"]: link["indicator"]["id"] for link in page["items"]}


def pulled(collection: Collection) -> list[dict[str, Any]]:
    """Every object of the collection, paged two at a time as a TAXII client does."""
    return [
        obj
        for envelope in as_pages(collection.get_objects, per_request=2)
        for obj in envelope.get("objects", [])
    ]


def values_in_patterns(objects: list[dict[str, Any]], expected: set[str]) -> list[str]:
    """For each indicator object, the one expected value its pattern names."""
    found = []
    for obj in objects:
        if obj["type"] == "indicator":
            [value] = [v for v in expected if f"'{v}'" in obj["pattern"]]
            found.append(value)
    return found


# --- The tour --------------------------------------------------------------------------------


@dataclass
class Imported:
    """The team, and what the samples say the imports should show it."""

    team: Team
    actor_name: str
    group_id: str
    event_hashes: set[str]
    partner_actor: str
    partner_domains: set[str]


@pytest.fixture
def imported(api: Any, krsn: Callable[..., Any]) -> Imported:
    """ATT&CK, the MISP event and the partner's bundle, imported on the command line."""
    event, bundle = misp_event(), partner_bundle()
    actor_name, group_id = named_group(event)
    partner_actor = PARTNER_ACTOR

    attack = krsn("attack", "import", str(shared_data(*ATTACK)))
    groups = [o for o in attack_bundle()["objects"] if o["type"] == "intrusion-set"]
    assert attack["groups"]["created"] == len(groups)
    assert attack["groups"]["revoked"] == sum(not live(group) for group in groups)

    misp = krsn("misp", "import", str(shared_data(*MISP_EVENT)), "--source", "CIRCL")
    # The group came with ATT&CK: the event links to it rather than making a second one.
    assert misp["actors_created"] == []
    assert misp["indicators"]["new"] == len(hashes(event))

    stix = krsn("stix", "import", str(shared_data(*PARTNER_BUNDLE)), "--source", "Partner CERT")
    assert stix["indicators"]["new"] == partner_values(bundle)
    assert stix["links"]["actor_indicators"] == len(partner_domains_of(bundle, partner_actor))

    return Imported(
        team=set_up_team(str(api.base_url).rstrip("/"), krsn),
        actor_name=actor_name,
        group_id=group_id,
        event_hashes=hashes(event),
        partner_actor=partner_actor,
        partner_domains=partner_domains_of(bundle, partner_actor),
    )


def test_the_analyst_sees_the_actor_with_its_techniques_and_the_indicators_of_both_sources(
    imported: Imported,
):
    event = misp_event()
    with imported.team.rest("alice") as alice:
        actor = actor_named(alice, imported.actor_name)
        partner_actor = actor_named(alice, imported.partner_actor)
        hashes_linked = linked_indicators(alice, actor)
        domains_linked = linked_indicators(alice, partner_actor)

    assert actor["attack_id"] == imported.group_id
    by_source: dict[str, set[str]] = {}
    for technique in actor["techniques"]:
        for source in technique["sources"]:
            by_source.setdefault(source, set()).add(technique["technique_id"])
    assert by_source == {
        "attack": techniques_of_group(imported.group_id),
        "indicators": techniques_tagged_on_hashes(event),
    }
    assert all(t["name"] for t in actor["techniques"])
    assert set(hashes_linked) == imported.event_hashes
    assert actor["indicator_count"] == len(imported.event_hashes)
    assert set(domains_linked) == imported.partner_domains


def test_a_colleague_pulls_the_collection_over_taxii_and_the_red_report_stays_inside(
    imported: Imported,
):
    team = imported.team
    with team.rest("alice") as alice:
        wanted = {
            **linked_indicators(alice, actor_named(alice, imported.actor_name)),
            **linked_indicators(alice, actor_named(alice, imported.partner_actor)),
        }
        pack = ok(
            alice.post("/api/v1/ioc-collections", json={"name": PACK, "is_public": True}), 201
        )
        added = ok(
            alice.post(
                f"/api/v1/ioc-collections/{pack['id']}/indicators",
                json={"indicators": list(wanted.values())},
            )
        )
        assert (added["changed"], added["not_found"], added["unreadable"]) == (len(wanted), [], [])

        secret = sorted(imported.partner_domains)[0]
        report = {
            "title": REPORT,
            "classification": "confidential",
            "indicators_referenced": [wanted[secret]],
        }
        assert ok(alice.post("/api/v1/threat-reports", json=report), 201)["tlp"] == "red"
        marked = ok(alice.patch(f"/api/v1/indicators/{wanted[secret]}", json={"tlp": "red"}))
        assert marked["indicator"]["tlp"] == "red"
        members = ok(alice.get(f"/api/v1/ioc-collections/{pack['id']}/indicators"))
        assert {m["indicator"]["value"] for m in members["items"]} == set(wanted)

    # bob, of another organization, finds the pack as any TAXII client does: discovery, the
    # API root, its collections; each shared indicator arrives once, the RED one never.
    [root] = team.taxii("bob").api_roots
    offered = {c.title: c for c in root.collections}
    assert set(offered) == {PACK, "All indicators"}
    shared = set(wanted) - {secret}
    assert sorted(values_in_patterns(pulled(offered[PACK]), set(wanted))) == sorted(shared)

    # Nothing bob can pull from any collection carries the RED value or the report.
    for collection in offered.values():
        everything = pulled(collection)
        text = json.dumps(everything)
        assert all(f"'{value}'" in text for value in shared), collection.title
        assert secret not in text and REPORT not in text, collection.title
        assert "report" not in {obj["type"] for obj in everything}, collection.title

    with team.rest("bob") as bob:
        refused = bob.get(STIX_EXPORT, params={"report": REPORT})
        exported = bob.get(STIX_EXPORT, params={"collection": PACK})
    assert refused.status_code == 403, refused.text
    assert "TLP:RED" in refused.json()["detail"] and secret not in refused.text
    bundle = ok(exported)
    assert sorted(values_in_patterns(bundle["objects"], set(wanted))) == sorted(shared)
    assert secret not in exported.text and REPORT not in exported.text
