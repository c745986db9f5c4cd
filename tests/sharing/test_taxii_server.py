"""The TAXII 2.1 server, read and written by the OASIS ``taxii2-client`` over real HTTP, on
both engines: discovery, who sees which collection, paging, filters, manifest, versions,
get / delete, posted envelopes and their status, TLP, the objects every collection serves so
that references resolve, and the media type rules."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from requests.exceptions import HTTPError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from krsn.db import Database
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.api_keys import create_api_key
from krsn.identity.audit import Actor
from krsn.identity.models import Organization, User
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.models import CollectionIndicator, IocCollection
from krsn.sharing.selection import select
from krsn.sharing.stix.export import IDENTITY_ID, TLP_MARKINGS, export_bundle
from krsn.sharing.taxii.service import (
    ALL_INDICATORS_ID,
    FIXED,
    STIX_MEDIA_TYPE,
    TAXII_MEDIA_TYPE,
)

TAXII = {"Accept": TAXII_MEDIA_TYPE}
# Our identity and the TLP marking definitions, served first in every collection.
FIXED_IDS = [obj["id"] for obj in FIXED]


class Bearer(requests.auth.AuthBase):
    """An API key as TAXII clients send credentials: on every request."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.key}"
        return request


@dataclass
class World:
    """Users with keys, indicators and collections, as the tests call them."""

    base_url: str
    keys: dict[str, str]
    users: dict[str, uuid.UUID]
    public: str
    private: str
    values: list[str]

    def root(self, who: str) -> ApiRoot:
        return ApiRoot(f"{self.base_url}/taxii2/krsn/", auth=Bearer(self.keys[who]))

    def collection(self, who: str, collection_id: str) -> Collection:
        return Collection(
            f"{self.base_url}/taxii2/krsn/collections/{collection_id}/",
            auth=Bearer(self.keys[who]),
        )

    def headers(self, who: str) -> dict[str, str]:
        return {**TAXII, "Authorization": f"Bearer {self.keys[who]}"}


def http_get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=30, **kwargs)


def http_post(url: str, **kwargs: Any) -> requests.Response:
    return requests.post(url, timeout=30, **kwargs)


def values(count: int, start: int = 1) -> list[str]:
    return [f"198.51.{n // 250}.{n % 250 + 1}" for n in range(start, start + count)]


def stock(database: Database, found: list[str], name: str = "taxii-feed") -> None:
    with database.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name=name, reliability=60)
    ingest(
        database, rows=[ParsedRow(line=n, value=v) for n, v in enumerate(found, 1)], source=source
    )


def indicator_ids(database: Database, found: list[str]) -> list[uuid.UUID]:
    with database.transaction(readonly=True) as session:
        rows = session.execute(
            sa.select(ThreatIndicator.id, ThreatIndicator.indicator_value).where(
                ThreatIndicator.indicator_value.in_(found)
            )
        ).all()
    by_value = {value: row_id for row_id, value in rows}
    return [by_value[v] for v in found]


def add_to(database: Database, collection: str, ids: list[uuid.UUID], when: Any = None) -> None:
    with database.transaction() as session:
        for row_id in ids:
            link = CollectionIndicator(collection_id=uuid.UUID(collection), indicator_id=row_id)
            if when is not None:
                link.added_at = when
            session.add(link)


def set_tlp(database: Database, value: str, tlp: str) -> None:
    with database.transaction() as session:
        row = session.scalars(
            sa.select(ThreatIndicator).where(ThreatIndicator.indicator_value == value)
        ).one()
        row.metadata_ = {**(row.metadata_ or {}), "tlp": tlp}


@pytest.fixture
def world(api: Any) -> World:
    """alice (analyst) owns a public collection of 25 and a private one of 3; bob is a viewer,
    carol an analyst of alice's organization, root an admin."""
    database: Database = api.database
    roles = {"alice": "analyst", "bob": "viewer", "carol": "analyst", "root": "admin"}
    for name, role in roles.items():
        api.make_user(name, role)
    keys: dict[str, str] = {}
    users: dict[str, uuid.UUID] = {}
    with database.transaction() as session:
        organization = Organization(name="Blue team")
        session.add(organization)
        session.flush()
        for name in roles:
            user = session.scalars(sa.select(User).where(User.username == name)).one()
            users[name] = user.id
            if name in ("alice", "carol"):
                user.organization_id = organization.id
            _, keys[name] = create_api_key(
                session, actor=Actor.system(), user_id=user.id, name="taxii", rate_limit=10_000
            )
        public = IocCollection(name="Emotet C2", is_public=True, created_by=users["alice"])
        private = IocCollection(name="Alice's own", is_public=False, created_by=users["alice"])
        session.add_all([public, private])
        session.flush()
        public_id, private_id = str(public.id), str(private.id)
    found = values(28)
    stock(database, found)
    ids = indicator_ids(database, found)
    add_to(database, public_id, ids[:25])
    add_to(database, private_id, ids[25:])
    return World(api.base_url.__str__().rstrip("/"), keys, users, public_id, private_id, found)


def all_objects(collection: Collection, per_request: int, **filters: Any) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    for envelope in as_pages(collection.get_objects, per_request=per_request, **filters):
        got.extend(envelope.get("objects", []))
    return got


def indicators(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["type"] == "indicator"]


def all_indicators(
    collection: Collection, per_request: int, **filters: Any
) -> list[dict[str, Any]]:
    return indicators(all_objects(collection, per_request, **filters))


# --- Discovery and collections ---------------------------------------------------------------


def test_discovery_names_one_api_root_that_lists_collections(world: World):
    server = Server(f"{world.base_url}/taxii2/", auth=Bearer(world.keys["bob"]))
    assert server.title == "KRSN-RT2I TAXII 2.1"
    assert [root.url for root in server.api_roots] == [f"{world.base_url}/taxii2/krsn/"]
    root = server.default
    assert root.versions == [TAXII_MEDIA_TYPE]
    assert root.max_content_length > 0


def test_each_user_sees_public_collections_their_own_and_admins_all(world: World):
    def titles(who: str) -> dict[str, tuple[bool, bool]]:
        return {c.id: (c.can_read, c.can_write) for c in world.root(who).collections}

    alice, bob, carol, root = (titles(who) for who in ("alice", "bob", "carol", "root"))
    assert alice == {
        ALL_INDICATORS_ID: (True, True),
        world.public: (True, True),
        world.private: (True, True),
    }
    assert bob == {ALL_INDICATORS_ID: (True, False), world.public: (True, False)}
    # An analyst may import into every indicator, but not into alice's collection.
    assert carol == {ALL_INDICATORS_ID: (True, True), world.public: (True, False)}
    assert set(root) == {ALL_INDICATORS_ID, world.public, world.private}
    assert world.root("bob").collections[0].media_types == [STIX_MEDIA_TYPE]


def test_a_private_collection_does_not_exist_for_another_user(world: World):
    with pytest.raises(HTTPError) as raised:
        world.collection("bob", world.private).get_objects()
    assert raised.value.response.status_code == 404
    error = raised.value.response.json()
    assert error["http_status"] == "404"
    assert raised.value.response.headers["content-type"] == TAXII_MEDIA_TYPE
    assert len(all_indicators(world.collection("root", world.private), 10)) == 3


def test_no_credentials_is_401_as_a_taxii_error(world: World):
    response = http_get(f"{world.base_url}/taxii2/krsn/collections/", headers=TAXII)
    assert response.status_code == 401
    assert response.headers["content-type"] == TAXII_MEDIA_TYPE
    assert set(response.json()) >= {"title", "description", "http_status"}


# --- Objects: paging and filters -------------------------------------------------------------


def test_as_pages_gives_every_object_exactly_once_with_export_ids(world: World, api: Any):
    collection = world.collection("bob", world.public)
    pages = list(as_pages(collection.get_objects, per_request=10))
    assert [len(p.get("objects", [])) for p in pages] == [10, 10, 10]
    assert [p["more"] for p in pages] == [True, True, False]
    served = [obj for page in pages for obj in page["objects"]]
    assert [obj["id"] for obj in served[: len(FIXED)]] == FIXED_IDS
    got = indicators(served)
    assert len({obj["id"] for obj in served}) == len(served) == 25 + len(FIXED)
    assert {obj["name"] for obj in got} == set(world.values[:25])
    with api.database.transaction(readonly=True) as session:
        bundle = export_bundle(session, selection=select(session, collection=world.public))
    exported = {o["id"]: o for o in bundle["objects"] if o["type"] == "indicator"}
    assert {obj["id"]: obj for obj in got} == exported


def test_every_active_indicator_is_in_the_all_collection_and_pages_by_change(world: World):
    got = all_indicators(world.collection("bob", ALL_INDICATORS_ID), 7)
    assert sorted(obj["name"] for obj in got) == sorted(world.values)


def test_pages_carry_the_date_added_headers_and_a_cursor(world: World):
    url = f"{world.base_url}/taxii2/krsn/collections/{world.public}/objects/"
    first = http_get(url, headers=world.headers("bob"), params={"limit": 10})
    assert first.headers["content-type"] == TAXII_MEDIA_TYPE
    assert first.headers["X-TAXII-Date-Added-First"] <= first.headers["X-TAXII-Date-Added-Last"]
    body = first.json()
    assert body["more"] is True and body["next"]
    second = http_get(url, headers=world.headers("bob"), params={"limit": 10, "next": body["next"]})
    assert not {o["id"] for o in body["objects"]} & {o["id"] for o in second.json()["objects"]}
    broken = http_get(url, headers=world.headers("bob"), params={"next": "not-a-cursor"})
    assert broken.status_code == 400
    assert broken.json()["http_status"] == "400"


def test_added_after_gives_only_what_was_added_later(world: World, api: Any):
    later = values(4, start=100)
    stock(api.database, later, name="second-feed")
    with api.database.transaction(readonly=True) as session:
        newest = session.scalar(
            sa.select(sa.func.max(CollectionIndicator.added_at)).where(
                CollectionIndicator.collection_id == uuid.UUID(world.public)
            )
        )
    add_to(api.database, world.public, indicator_ids(api.database, later), newest + timedelta(1))
    collection = world.collection("bob", world.public)
    stamp = newest.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The fixed objects were added before anything: they do not come again.
    got = all_objects(collection, 10, added_after=stamp)
    assert sorted(obj["name"] for obj in got) == sorted(later)
    assert len(all_objects(collection, 10)) == 29 + len(FIXED)


def test_match_filters_by_id_type_version_and_spec_version(world: World):
    collection = world.collection("bob", world.public)
    first, second = all_indicators(collection, 10)[:2]
    by_id = collection.get_objects(id=[first["id"], second["id"], IDENTITY_ID])["objects"]
    assert {o["id"] for o in by_id} == {IDENTITY_ID, first["id"], second["id"]}
    assert collection.get_objects(id=f"indicator--{uuid.uuid4()}").get("objects") is None
    assert collection.get_objects(type="malware").get("objects") is None
    assert len(collection.get_objects(type="indicator,malware")["objects"]) == 25
    assert [o["id"] for o in collection.get_objects(type="identity")["objects"]] == [IDENTITY_ID]
    markings = collection.get_objects(type="marking-definition")["objects"]
    assert [o["id"] for o in markings] == FIXED_IDS[1:]
    assert collection.get_objects(spec_version="2.0").get("objects") is None
    assert len(collection.get_objects(spec_version="2.1")["objects"]) == 25 + len(FIXED)
    for kept in ("last", "first", "all"):
        assert len(collection.get_objects(version=kept)["objects"]) == 25 + len(FIXED)
    exact = collection.get_objects(id=first["id"], version=first["modified"])["objects"]
    assert [o["id"] for o in exact] == [first["id"]]
    assert collection.get_objects(version="2001-01-01T00:00:00.000Z").get("objects") is None


def test_manifest_pages_like_objects_and_versions_give_the_one_we_keep(world: World):
    collection = world.collection("bob", world.public)
    entries = []
    for page in as_pages(collection.get_manifest, per_request=10):
        entries.extend(page.get("objects", []))
    objects = {o["id"]: o for o in all_objects(collection, 25)}
    assert len(entries) == 25 + len(FIXED)
    assert [entry["id"] for entry in entries[: len(FIXED)]] == FIXED_IDS
    for entry in entries:
        # A marking definition is never modified: its version is when it was created.
        obj = objects[entry["id"]]
        assert entry["version"] == obj.get("modified", obj["created"])
        assert entry["media_type"] == STIX_MEDIA_TYPE
        assert entry["date_added"]
    one = entries[len(FIXED) + 3]["id"]
    assert collection.object_versions(one)["versions"] == [objects[one]["modified"]]
    with pytest.raises(HTTPError) as raised:
        collection.object_versions(f"indicator--{uuid.uuid4()}")
    assert raised.value.response.status_code == 404


# --- Get and delete --------------------------------------------------------------------------


def test_get_one_object_and_delete_it_from_the_collection(world: World):
    reader = world.collection("bob", world.public)
    target = all_indicators(reader, 25)[4]
    assert reader.get_object(target["id"])["objects"] == [target]
    # The client refuses by itself when can_write is false; the server must refuse too.
    refused = requests.delete(
        f"{reader.url}objects/{target['id']}/", headers=world.headers("bob"), timeout=30
    )
    assert refused.status_code == 403
    assert refused.json()["http_status"] == "403"
    world.collection("alice", world.public).delete_object(target["id"])
    with pytest.raises(HTTPError) as gone:
        reader.get_object(target["id"])
    assert gone.value.response.status_code == 404
    # Out of the collection, still an indicator of the platform.
    everything = world.collection("bob", ALL_INDICATORS_ID)
    assert everything.get_object(target["id"])["objects"][0]["name"] == target["name"]


def test_deleting_from_all_indicators_deactivates_the_indicator(world: World, api: Any):
    everything = world.collection("alice", ALL_INDICATORS_ID)
    target = everything.get_objects(limit=1, type="indicator")["objects"][0]
    everything.delete_object(target["id"])
    names = {o["name"] for o in all_indicators(everything, 50)}
    assert target["name"] not in names and len(names) == 27
    with api.database.transaction(readonly=True) as session:
        active = session.scalar(
            sa.select(ThreatIndicator.is_active).where(
                ThreatIndicator.indicator_value == target["name"]
            )
        )
    assert active is False


# --- Adding objects ------------------------------------------------------------------------


def envelope(*addresses: str) -> dict[str, Any]:
    objects = []
    for address in addresses:
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.uuid4()}",
                "created": "2025-02-01T10:00:00.000Z",
                "modified": "2025-02-01T10:00:00.000Z",
                "pattern": f"[ipv4-addr:value = '{address}']",
                "pattern_type": "stix",
                "valid_from": "2025-02-01T10:00:00Z",
            }
        )
    return {"objects": objects}


def test_posted_objects_are_imported_into_the_collection_with_a_status(world: World):
    posted = envelope("185.220.101.10", "185.220.101.11")
    posted["objects"].append({"type": "indicator", "id": "indicator--not-a-uuid"})
    writer = world.collection("alice", world.public)
    status = writer.add_objects(posted)
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (3, 2, 1)
    assert {s["id"] for s in status.successes} == {o["id"] for o in posted["objects"][:2]}
    assert status.failures[0]["id"] == "indicator--not-a-uuid"
    again = world.root("alice").get_status(status.id)
    assert again.success_count == 2 and again.id == status.id
    # The indicators keep the ids they were posted with.
    served = {o["id"]: o["name"] for o in all_indicators(writer, 50)}
    for obj, address in zip(
        posted["objects"][:2], ("185.220.101.10", "185.220.101.11"), strict=True
    ):
        assert served[obj["id"]] == address
    # Another user does not see alice's status.
    with pytest.raises(HTTPError) as hidden:
        world.root("bob").get_status(status.id)
    assert hidden.value.response.status_code == 404


def test_a_viewer_or_a_non_owner_may_not_post(world: World):
    url = f"{world.base_url}/taxii2/krsn/collections/{world.public}/objects/"
    for who in ("bob", "carol"):
        refused = http_post(
            url,
            headers={**world.headers(who), "Content-Type": TAXII_MEDIA_TYPE},
            json=envelope("185.220.101.20"),
        )
        assert refused.status_code == 403, who
        assert refused.json()["http_status"] == "403"
    assert "185.220.101.20" not in {
        o["name"] for o in all_objects(world.collection("bob", world.public), 50)
    }


def test_an_analyst_posts_into_all_indicators(world: World):
    status = world.collection("carol", ALL_INDICATORS_ID).add_objects(envelope("185.220.101.30"))
    assert status.success_count == 1
    names = {o["name"] for o in all_objects(world.collection("bob", ALL_INDICATORS_ID), 50)}
    assert "185.220.101.30" in names


# --- TLP ------------------------------------------------------------------------------------


def red_id(database: Database, value: str) -> str:
    with database.transaction(readonly=True) as session:
        bundle = export_bundle(session, selection=select(session, query={"value": value}))
    return next(o["id"] for o in bundle["objects"] if o["type"] == "indicator")


def test_tlp_red_is_never_served_and_amber_strict_only_to_the_organization(world: World, api: Any):
    red, strict = world.values[0], world.values[1]
    set_tlp(api.database, red, "TLP:RED")
    set_tlp(api.database, strict, "amber+strict")
    for who in ("alice", "bob", "carol", "root"):
        got = {o["name"] for o in all_indicators(world.collection(who, world.public), 10)}
        assert red not in got
        assert (strict in got) == (who in ("alice", "carol", "root")), who
        assert len(got) == (24 if strict in got else 23)
    # Not by id either, nor in "All indicators" (amber+strict there: admins only).
    with pytest.raises(HTTPError) as raised:
        world.collection("root", world.public).get_object(red_id(api.database, red))
    assert raised.value.response.status_code == 404
    names = {o["name"] for o in all_indicators(world.collection("carol", ALL_INDICATORS_ID), 10)}
    assert red not in names and strict not in names
    names = {o["name"] for o in all_indicators(world.collection("root", ALL_INDICATORS_ID), 10)}
    assert red not in names and strict in names


def test_a_red_collection_is_not_offered(world: World, api: Any):
    with api.database.transaction() as session:
        row = session.get(IocCollection, uuid.UUID(world.public))
        assert row is not None
        row.metadata_ = {"tlp": "red"}
    assert world.public not in {c.id for c in world.root("root").collections}
    with pytest.raises(HTTPError) as raised:
        world.collection("root", world.public).get_objects()
    assert raised.value.response.status_code == 404


# --- References ----------------------------------------------------------------------------


def references(obj: Any) -> set[str]:
    """Every STIX id an object refers to: its ``*_ref`` and ``*_refs`` properties, nested too."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.endswith("_ref") and isinstance(value, str):
                found.add(value)
            elif key.endswith("_refs") and isinstance(value, list):
                found.update(item for item in value if isinstance(item, str))
            else:
                found |= references(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= references(item)
    return found


def test_every_reference_of_every_served_object_resolves_in_its_collection(world: World, api: Any):
    levels = ("clear", "green", "amber", "amber+strict", "red")
    for value, level in zip(world.values[:5], levels, strict=True):
        set_tlp(api.database, value, level)
    with api.database.transaction() as session:
        row = session.get(IocCollection, uuid.UUID(world.private))
        assert row is not None
        row.metadata_ = {"tlp": "amber"}
    referred: set[str] = set()
    for who in ("alice", "bob", "carol", "root"):
        for found in world.root(who).collections:
            served = all_objects(world.collection(who, found.id), 7)
            ids = [obj["id"] for obj in served]
            assert len(set(ids)) == len(ids), (who, found.title)
            for obj in served:
                assert references(obj) <= set(ids), (who, found.title, obj["id"])
                referred |= references(obj)
    # Not vacuous: the identity and every marking a served object may carry were referred to.
    served_levels = ("clear", "green", "amber", "amber+strict")
    assert referred == {IDENTITY_ID, *(TLP_MARKINGS[level]["id"] for level in served_levels)}


def test_the_fixed_objects_come_first_in_every_collection_with_fixed_added_dates(world: World):
    def page(collection: str, **params: Any) -> requests.Response:
        url = f"{world.base_url}/taxii2/krsn/collections/{collection}/objects/"
        return http_get(url, headers=world.headers("bob"), params=params)

    dates: list[list[str]] = []
    for collection in (world.public, ALL_INDICATORS_ID):
        first = page(collection, limit=3)
        body = first.json()
        assert [o["id"] for o in body["objects"]] == FIXED_IDS[:3] and body["more"]
        second = page(collection, limit=3, next=body["next"]).json()
        rest = [o["id"] for o in second["objects"]]
        assert rest[: len(FIXED) - 3] == FIXED_IDS[3:]
        assert second["objects"][-1]["type"] == "indicator"
        manifest = world.collection("bob", collection).get_manifest(limit=len(FIXED))
        dates.append([entry["date_added"] for entry in manifest["objects"]])
        # A client that read them once does not get them again.
        again = page(collection, added_after=first.headers["X-TAXII-Date-Added-Last"]).json()
        assert FIXED_IDS[0] not in {o["id"] for o in again["objects"]}
    assert dates[0] == dates[1] == sorted(dates[0])
    assert len(set(dates[0])) == len(FIXED)
    reader = world.collection("bob", world.public)
    assert reader.get_object(IDENTITY_ID)["objects"] == [FIXED[0]]
    # Other objects refer to them: a writer may not take them out.
    refused = requests.delete(
        f"{reader.url}objects/{IDENTITY_ID}/", headers=world.headers("alice"), timeout=30
    )
    assert refused.status_code == 403
    assert reader.get_object(IDENTITY_ID)["objects"] == [FIXED[0]]


# --- Media types ---------------------------------------------------------------------------


def test_an_unacceptable_accept_is_406_and_a_wrong_content_type_415(world: World):
    url = f"{world.base_url}/taxii2/krsn/collections/{world.public}/objects/"
    auth = {"Authorization": f"Bearer {world.keys['alice']}"}
    for accept in ("application/json", "application/taxii+json;version=2.0", "text/html"):
        refused = http_get(url, headers={**auth, "Accept": accept})
        assert refused.status_code == 406, accept
        assert refused.json()["http_status"] == "406"
    for accept in ("application/taxii+json", "*/*", f"text/html, {TAXII_MEDIA_TYPE}"):
        assert http_get(url, headers={**auth, "Accept": accept}).status_code == 200, accept
    posted = http_post(
        url, headers={**auth, **TAXII, "Content-Type": "application/json"}, json=envelope("1.2.3.4")
    )
    assert posted.status_code == 415
    assert posted.json()["http_status"] == "415"
