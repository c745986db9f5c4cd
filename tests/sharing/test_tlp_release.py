"""TLP decides what leaves, through every channel, on both engines: a public IOC collection
holding TLP:RED and TLP:AMBER+STRICT indicators, and a TLP:RED report citing them, exported
with API keys over the STIX and MISP exports, read with ``taxii2-client`` from the TAXII
server, and published as a MISP feed from the command line.

RED never reaches a key without the right (only an admin's direct export carries it, marked
red), AMBER+STRICT reaches the collection owner's organization and admins only, and every
withheld object is counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import sqlalchemy as sa
from taxii2client.v21 import Collection, as_pages
from typer.testing import CliRunner

from krsn.cli.main import app as cli_app
from krsn.config import get_settings
from krsn.db import get_database, set_database
from krsn.identity.api_keys import create_api_key
from krsn.identity.audit import Actor
from krsn.identity.models import Organization, User
from krsn.sharing.stix.export import TLP_MARKINGS

STIX = "/api/v1/stix/export"
MISP = "/api/v1/misp/export"
WITHHELD = "x-withheld-by-tlp"

CLEAR, GREEN, UNMARKED = "clear.example.org", "green.example.org", "plain.example.org"
AMBER, STRICT, RED = "amber.example.org", "strict.example.org", "red.example.org"
MARKED = {CLEAR: "TLP:CLEAR", GREEN: "green", AMBER: "amber", STRICT: "AMBER+STRICT", RED: "red"}
COLLECTION = "Emotet C2"
REPORT = "Emotet returns, names named"


class Bearer(requests.auth.AuthBase):
    """An API key on every request, as TAXII clients send it."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.key}"
        return request


@dataclass
class World:
    """alice (analyst, Blue team) owns the public collection and wrote the red report; carol
    is an analyst of Blue team, mallory an analyst of another organization, root an admin."""

    base_url: str
    keys: dict[str, str]
    collection_id: str
    ids: dict[str, str]

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.keys[who]}"},
            timeout=30,
        )

    def taxii(self, who: str) -> Collection:
        return Collection(
            f"{self.base_url}/taxii2/krsn/collections/{self.collection_id}/",
            auth=Bearer(self.keys[who]),
        )


@pytest.fixture
def world(api: Any, seed_indicators: Any) -> Iterator[World]:
    roles = {"alice": "analyst", "carol": "analyst", "mallory": "analyst", "root": "admin"}
    for name, role in roles.items():
        api.make_user(name, role)
    keys: dict[str, str] = {}
    with api.database.transaction() as session:
        blue, elsewhere = Organization(name="Blue team"), Organization(name="Elsewhere")
        session.add_all([blue, elsewhere])
        session.flush()
        for name in roles:
            user = session.scalars(sa.select(User).where(User.username == name)).one()
            # root belongs to no organization: admins need none.
            organization = {"alice": blue, "carol": blue, "mallory": elsewhere}.get(name)
            user.organization_id = organization.id if organization else None
            _, keys[name] = create_api_key(
                session, actor=Actor.system(), user_id=user.id, name="tlp", rate_limit=10_000
            )
    ids = seed_indicators(CLEAR, GREEN, UNMARKED, AMBER, STRICT, RED)
    base_url = str(api.base_url).rstrip("/")
    world = World(base_url, keys, "", ids)
    with world.client("alice") as alice:
        # Every marking is set the way an analyst sets it: PATCH the indicator's tlp.
        for value, marking in MARKED.items():
            edited = alice.patch(f"/api/v1/indicators/{ids[value]}", json={"tlp": marking})
            assert edited.status_code == 200, edited.text
        created = alice.post(
            "/api/v1/ioc-collections", json={"name": COLLECTION, "is_public": True}
        )
        assert created.status_code == 201, created.text
        world.collection_id = created.json()["id"]
        added = alice.post(
            f"/api/v1/ioc-collections/{world.collection_id}/indicators",
            json={"indicators": [ids[v] for v in (CLEAR, GREEN, UNMARKED, AMBER, STRICT, RED)]},
        )
        assert added.status_code == 200, added.text
        report = alice.post(
            "/api/v1/threat-reports",
            json={
                "title": REPORT,
                "classification": "confidential",
                "indicators_referenced": [ids[CLEAR], ids[RED]],
            },
        )
        assert report.status_code == 201 and report.json()["tlp"] == "red", report.text
    yield world


def stix_indicators(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bundle's indicators by the value their pattern names."""
    found = {}
    for obj in bundle["objects"]:
        if obj["type"] == "indicator":
            found[obj["pattern"].split("'")[1]] = obj
    return found


def misp_values(event: dict[str, Any]) -> set[str]:
    return {attribute["value"] for attribute in event["Event"]["Attribute"]}


# --- The STIX export -------------------------------------------------------------------------


def test_the_stix_export_releases_red_to_admins_only_and_amber_strict_to_the_organization(
    world: World,
):
    expected = {
        "mallory": ({CLEAR, GREEN, UNMARKED, AMBER}, 2),
        "carol": ({CLEAR, GREEN, UNMARKED, AMBER, STRICT}, 1),
        "root": ({CLEAR, GREEN, UNMARKED, AMBER, STRICT, RED}, 0),
    }
    for who, (values, withheld) in expected.items():
        with world.client(who) as client:
            response = client.get(STIX, params={"collection": COLLECTION})
        assert response.status_code == 200, response.text
        found = stix_indicators(response.json())
        assert set(found) == values, who
        assert response.headers[WITHHELD] == str(withheld), who
        if RED not in values:
            assert RED not in response.text
    with world.client("root") as root:
        bundle = root.get(STIX, params={"collection": COLLECTION}).json()
    red = stix_indicators(bundle)[RED]
    assert red["object_marking_refs"] == [TLP_MARKINGS["red"]["id"]]
    assert TLP_MARKINGS["red"] in bundle["objects"]


def test_a_red_report_is_refused_to_an_analyst_and_exported_to_an_admin(world: World):
    for url in (STIX, MISP):
        with world.client("mallory") as mallory:
            refused = mallory.get(url, params={"report": REPORT})
        assert refused.status_code == 403, refused.text
        assert "TLP:RED" in refused.json()["detail"] and RED not in refused.text
    # Its author is no exception: RED leaves by a direct export to admins only.
    with world.client("alice") as alice:
        assert alice.get(STIX, params={"report": REPORT}).status_code == 403
    with world.client("root") as root:
        bundle = root.get(STIX, params={"report": REPORT}).json()
        event = root.get(MISP, params={"report": REPORT}).json()
    report = next(obj for obj in bundle["objects"] if obj["type"] == "report")
    assert report["object_marking_refs"] == [TLP_MARKINGS["red"]["id"]]
    assert RED in stix_indicators(bundle)
    assert RED in misp_values(event)
    assert {"name": "tlp:red"} in event["Event"]["Tag"]


def test_a_query_withholds_amber_strict_from_all_but_admins(world: World):
    # An indicator query has no owner: its AMBER+STRICT indicators go to admins only.
    with world.client("carol") as carol:
        response = carol.get(STIX, params={"query": "type=domain"})
    assert set(stix_indicators(response.json())) == {CLEAR, GREEN, UNMARKED, AMBER}
    assert response.headers[WITHHELD] == "2"


# --- The MISP export -------------------------------------------------------------------------


def test_the_misp_export_releases_what_the_key_may_see(world: World):
    expected = {
        "mallory": {CLEAR, GREEN, UNMARKED, AMBER},
        "carol": {CLEAR, GREEN, UNMARKED, AMBER, STRICT},
        "root": {CLEAR, GREEN, UNMARKED, AMBER, STRICT, RED},
    }
    for who, values in expected.items():
        with world.client(who) as client:
            response = client.get(MISP, params={"collection": COLLECTION})
        assert response.status_code == 200, response.text
        event = response.json()
        assert misp_values(event) == values, who
        assert response.headers[WITHHELD] == str(6 - len(values)), who
        if RED not in values:
            assert RED not in response.text and "tlp:red" not in response.text
    with world.client("root") as root:
        event = root.get(MISP, params={"collection": COLLECTION}).json()
    assert {"name": "tlp:red"} in event["Event"]["Tag"]


# --- TAXII -----------------------------------------------------------------------------------


def taxii_values(collection: Collection) -> set[str]:
    found: set[str] = set()
    for envelope in as_pages(collection.get_objects, per_request=2):
        for obj in envelope.get("objects", []):
            if obj["type"] == "indicator":
                found.add(obj["pattern"].split("'")[1])
    return found


def test_taxii_never_serves_red_and_amber_strict_only_to_the_organization(world: World):
    assert taxii_values(world.taxii("mallory")) == {CLEAR, GREEN, UNMARKED, AMBER}
    assert taxii_values(world.taxii("carol")) == {CLEAR, GREEN, UNMARKED, AMBER, STRICT}
    # Not even to an admin: TAXII serves whoever holds a key, RED is for named recipients.
    assert taxii_values(world.taxii("root")) == {CLEAR, GREEN, UNMARKED, AMBER, STRICT}


# --- The MISP feed ---------------------------------------------------------------------------


@pytest.fixture
def krsn(api: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``krsn …`` against the test's database; returns (exit code, output)."""
    monkeypatch.setenv("KRSN_DATABASE_URL", api.database.url)
    get_settings.cache_clear()
    set_database(None)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli_app, list(args))
        return result.exit_code, result.stdout + result.stderr

    try:
        yield run
    finally:
        get_database().dispose()
        set_database(None)
        get_settings.cache_clear()


def feed_text(folder: Path) -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(folder.iterdir()))


def feed_values(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.glob("*-*-*-*-*.json"):
        found |= misp_values(json.loads(path.read_text(encoding="utf-8")))
    return found


def test_a_misp_feed_carries_green_by_default_and_never_red(world: World, krsn: Any, tmp_path):
    feed = tmp_path / "feed"
    code, out = krsn("misp", "feed", "publish", str(feed), "--collection", COLLECTION, "--json")
    assert code == 0, out
    published = json.loads(out)
    assert feed_values(feed) == {CLEAR, GREEN, UNMARKED}
    assert published["withheld_by_tlp"] == 3 and published["max_tlp"] == "green"
    code, out = krsn(
        "misp",
        "feed",
        "publish",
        str(feed),
        "--collection",
        COLLECTION,
        "--max-tlp",
        "amber+strict",
    )
    assert code == 0, out
    assert "withheld by TLP: 1" in " ".join(out.split())
    assert feed_values(feed) == {CLEAR, GREEN, UNMARKED, AMBER, STRICT}
    assert RED not in feed_text(feed) and "tlp:red" not in feed_text(feed)
    # RED is no ceiling a feed may have, and a red report is refused whole.
    for args in (["--collection", COLLECTION, "--max-tlp", "red"], ["--report", REPORT]):
        code, out = krsn("misp", "feed", "publish", str(feed), *args)
        assert code != 0 and "TLP:RED" in out, out
    assert RED not in feed_text(feed)


def test_the_operator_exports_everything_marked(world: World, krsn: Any, tmp_path):
    # The command line is the local operator, an admin: a direct export carries RED, marked.
    output = tmp_path / "event.json"
    code, out = krsn("misp", "export", "-o", str(output), "--report", REPORT, "--json")
    assert code == 0, out
    assert json.loads(out)["withheld_by_tlp"] == 0
    event = json.loads(output.read_text(encoding="utf-8"))
    assert RED in misp_values(event) and {"name": "tlp:red"} in event["Event"]["Tag"]
    bundle_path = tmp_path / "bundle.json"
    code, out = krsn("stix", "export", "--collection", COLLECTION, "-o", str(bundle_path), "--json")
    assert code == 0, out
    assert json.loads(out)["withheld_by_tlp"] == 0
    found = stix_indicators(json.loads(bundle_path.read_text(encoding="utf-8")))
    assert found[RED]["object_marking_refs"] == [TLP_MARKINGS["red"]["id"]]


def test_a_collection_marked_amber_strict_is_refused_to_another_organization(world: World):
    with world.client("alice") as alice:
        marked = alice.patch(
            f"/api/v1/ioc-collections/{world.collection_id}", json={"tlp": "amber+strict"}
        )
        assert marked.status_code == 200 and marked.json()["tlp"] == "amber+strict"
    with world.client("mallory") as mallory:
        for url in (STIX, MISP):
            assert mallory.get(url, params={"collection": COLLECTION}).status_code == 403
    assert world.collection_id not in {c.id for c in _collections(world, "mallory")}
    with world.client("carol") as carol:
        bundle = carol.get(STIX, params={"collection": COLLECTION}).json()
    # Everything shared inside it is marked at least as strictly as the collection.
    for obj in stix_indicators(bundle).values():
        assert obj["object_marking_refs"] == [TLP_MARKINGS["amber+strict"]["id"]]


def _collections(world: World, who: str) -> list[Any]:
    from taxii2client.v21 import ApiRoot

    return ApiRoot(f"{world.base_url}/taxii2/krsn/", auth=Bearer(world.keys[who])).collections
