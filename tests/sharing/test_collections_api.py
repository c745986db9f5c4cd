"""IOC collections over HTTP: CRUD, who sees a private one, bulk adds and removes, and an
indicator count that stays right (duplicates, deleted indicators, concurrent requests)."""

from __future__ import annotations

import threading
import time
import uuid

from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.identity.users import create_user
from krsn.indicators.models import ThreatIndicator
from krsn.sharing import collections
from krsn.sharing.models import IocCollection

COLLECTIONS = "/api/v1/ioc-collections"


def ips(count: int, third: int = 0) -> list[str]:
    return [f"198.51.{third}.{i}" for i in range(1, count + 1)]


def owned_collection(api, name: str) -> tuple[Actor, uuid.UUID]:
    """A collection of an analyst's, made through the service: who owns it, and its id."""
    with api.database.transaction() as session:
        owner, _ = create_user(
            session,
            actor=Actor.system(),
            username="olga",
            email="olga@example.org",
            role=Role.ANALYST,
            password="Correct-Horse-Battery-42",
        )
        actor = Actor(user_id=owner.id)
        return actor, collections.create_collection(session, actor=actor, values={"name": name}).id


def stored_count(api, collection_id: str) -> int:
    with api.database.transaction(readonly=True) as session:
        row = session.get(IocCollection, uuid.UUID(collection_id))
        assert row is not None
        return row.indicator_count


def test_a_collection_round_trips_and_audits(api, audit_actions, make):
    api.login_as("uma", "user")
    created = make.collection("phishing-2024", description="kit domains", metadata={"k": "v"})
    assert created["is_public"] is False
    assert created["indicator_count"] == 0
    assert created["metadata"] == {"k": "v"}
    collection_id = created["id"]
    changed = api.patch(f"{COLLECTIONS}/{collection_id}", json={"is_public": True, "name": "p24"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["is_public"] is True and changed.json()["name"] == "p24"
    assert api.get(COLLECTIONS).json()["items"][0]["name"] == "p24"
    assert api.delete(f"{COLLECTIONS}/{collection_id}").status_code == 204
    assert api.get(f"{COLLECTIONS}/{collection_id}").status_code == 404
    assert api.post(COLLECTIONS, json={"name": "P24"}).status_code == 201
    assert api.post(COLLECTIONS, json={"name": "p24"}).status_code == 409
    assert sorted(audit_actions("ioc_collection")) == [
        "ioc_collection.create",
        "ioc_collection.create",
        "ioc_collection.delete",
        "ioc_collection.update",
    ]


def test_a_private_collection_is_invisible_to_others_but_admins(api, make):
    owner = api.fresh()
    owner.login_as("olga", "analyst")
    private = make.collection("secret-set", client=owner)
    public = make.collection("shared-set", client=owner, is_public=True)

    other = api.fresh()
    other.login_as("otto", "analyst")
    assert [c["name"] for c in other.get(COLLECTIONS).json()["items"]] == ["shared-set"]
    assert other.get(f"{COLLECTIONS}/{private['id']}").status_code == 404
    assert other.get(f"{COLLECTIONS}/{private['id']}/indicators").status_code == 404
    hidden_change = other.patch(f"{COLLECTIONS}/{private['id']}", json={"name": "mine"})
    assert hidden_change.status_code == 404
    add = other.post(f"{COLLECTIONS}/{private['id']}/indicators", json={"indicators": ["x.org"]})
    assert add.status_code == 404
    # A public collection is seen by all, changed by its creator (or an admin) only.
    assert other.get(f"{COLLECTIONS}/{public['id']}").status_code == 200
    assert other.patch(f"{COLLECTIONS}/{public['id']}", json={"name": "mine"}).status_code == 403
    assert other.delete(f"{COLLECTIONS}/{public['id']}").status_code == 403

    admin = api.fresh()
    admin.login_as("root", "admin")
    names = [c["name"] for c in admin.get(COLLECTIONS).json()["items"]]
    assert names == ["secret-set", "shared-set"]
    assert admin.get(f"{COLLECTIONS}/{private['id']}").status_code == 200
    assert owner.get(COLLECTIONS, params={"mine": "true"}).json()["total"] == 2
    assert other.get(COLLECTIONS, params={"mine": "true"}).json()["total"] == 0
    assert other.get(COLLECTIONS, params={"is_public": "false"}).json()["total"] == 0


def test_a_viewer_cannot_create_or_change_collections(api):
    api.login_as("vic", "viewer")
    assert api.post(COLLECTIONS, json={"name": "x"}).status_code == 403
    assert api.get(COLLECTIONS).status_code == 200


def test_bulk_adds_count_each_indicator_once_and_list_what_they_could_not_find(
    api, seed_indicators, make
):
    ids = seed_indicators(*ips(30), "evil.example.org")
    api.login_as("ana", "analyst")
    collection_id = make.collection("bulk")["id"]
    members = f"{COLLECTIONS}/{collection_id}/indicators"
    first = api.post(
        members,
        json={
            "indicators": [*(ids[v] for v in ips(20)), "evil[.]example[.]org", "192.0.2.1", "??"],
            "notes": "from the hunt",
        },
    )
    assert first.status_code == 200, first.text
    assert first.json() == {
        "changed": 21,
        "unchanged": 0,
        "not_found": ["192.0.2.1"],
        "unreadable": ["??"],
        "indicator_count": 21,
    }
    # Half already there, by id and by value; a value repeated in one request counts once.
    again = api.post(members, json={"indicators": [*ips(30)[10:], ips(30)[29]]}).json()
    assert (again["changed"], again["unchanged"], again["indicator_count"]) == (10, 10, 31)
    assert stored_count(api, collection_id) == 31
    assert api.get(f"{COLLECTIONS}/{collection_id}").json()["indicator_count"] == 31

    removed = api.post(f"{members}/remove", json={"indicators": [*ips(5), "203.0.113.250"]}).json()
    assert (removed["changed"], removed["indicator_count"]) == (5, 26)
    assert removed["not_found"] == ["203.0.113.250"]
    single = api.delete(f"{members}/{ids['evil.example.org']}").json()
    assert (single["changed"], single["indicator_count"]) == (1, 25)
    assert api.delete(f"{members}/{ids['evil.example.org']}").json()["unchanged"] == 1
    assert stored_count(api, collection_id) == 25

    page = api.get(members, params={"limit": 20}).json()
    assert page["total"] == 25 and len(page["items"]) == 20
    rest = api.get(members, params={"limit": 20, "cursor": page["next_cursor"]}).json()
    seen = {m["indicator"]["value"] for m in page["items"] + rest["items"]}
    assert seen == set(ips(30)[5:])
    assert rest["next_cursor"] is None
    assert page["items"][0]["notes"] in ("from the hunt", None)

    too_many = api.post(members, json={"indicators": ["1.1.1.1"] * 10_001})
    assert too_many.status_code == 422
    assert api.post(members, json={"indicators": []}).status_code == 422


def test_the_count_follows_indicators_that_are_deleted(api, seed_indicators, make):
    ids = seed_indicators(*ips(3))
    api.login_as("ana", "analyst")
    collection_id = make.collection("shrinking", is_public=True)["id"]
    api.post(f"{COLLECTIONS}/{collection_id}/indicators", json={"indicators": ips(3)})
    with api.database.transaction() as session:
        indicator = session.get(ThreatIndicator, uuid.UUID(ids[ips(3)[0]]))
        session.delete(indicator)
    assert api.get(f"{COLLECTIONS}/{collection_id}").json()["indicator_count"] == 2
    listed = api.get(COLLECTIONS).json()["items"][0]
    assert listed["indicator_count"] == 2
    # The next change recounts the stored column too.
    api.post(f"{COLLECTIONS}/{collection_id}/indicators/remove", json={"indicators": ips(3)[1:2]})
    assert stored_count(api, collection_id) == 1


def test_concurrent_adds_and_removes_keep_the_count_right(api, seed_indicators):
    values = ips(40)
    ids = seed_indicators(*values)
    actor, collection_id = owned_collection(api, "raced")
    # Overlapping batches: every indicator is added by two requests, half removed by one.
    batches = [values[0:20], values[10:30], values[20:40], values[0:10] + values[30:40]]
    errors: list[BaseException] = []
    start = threading.Barrier(len(batches) + 1)

    def add(batch: list[str]) -> None:
        try:
            start.wait()
            with api.database.transaction() as session:
                collections.add_indicators(
                    session,
                    actor=actor,
                    collection_id=collection_id,
                    indicators=batch,
                    see_all=False,
                )
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def remove() -> None:
        try:
            start.wait()
            with api.database.transaction() as session:
                collections.remove_indicators(
                    session,
                    actor=actor,
                    collection_id=collection_id,
                    indicators=[ids[v] for v in values[::2]],
                    see_all=False,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(b,)) for b in batches]
    threads.append(threading.Thread(target=remove))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with api.database.transaction(readonly=True) as session:
        live = collections.live_counts(session, [collection_id]).get(collection_id, 0)
        stored = session.get(IocCollection, collection_id)
        assert stored is not None
        assert stored.indicator_count == live
    # Every value was added; the removal took out those present when it ran.
    assert 20 <= live <= 40


def test_an_add_waiting_on_another_counts_what_that_one_committed(api, seed_indicators):
    values = ips(20)
    seed_indicators(*values)
    actor, collection_id = owned_collection(api, "interleaved")
    results: list[int] = []

    def second() -> None:
        with api.database.transaction() as session:
            change = collections.add_indicators(
                session,
                actor=actor,
                collection_id=collection_id,
                indicators=values[10:],
                see_all=False,
            )
            results.append(change.indicator_count)

    with api.database.transaction() as session:
        first = collections.add_indicators(
            session, actor=actor, collection_id=collection_id, indicators=values[:10], see_all=False
        )
        assert first.indicator_count == 10
        waiting = threading.Thread(target=second)
        waiting.start()
        # The second request runs into this open transaction and must wait for its commit.
        time.sleep(0.5)
    waiting.join(timeout=30)
    assert results == [20]
    assert stored_count(api, str(collection_id)) == 20
