"""Watchlists over HTTP: lists and items, uploads of text, CSV and IOC collections, the
value check, problem details a person can act on, and who may change what."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog

WATCHLISTS = "/api/v1/watchlists"
PROBLEM = "application/problem+json"


def create(api, name: str, list_type: str = "custom", **fields) -> dict:
    response = api.post(WATCHLISTS, json={"name": name, "list_type": list_type, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def actions(api, resource_id: str) -> list[str]:
    with api.database.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(AuditLog.action)
                .where(AuditLog.resource_id == resource_id)
                .order_by(AuditLog.created_at, AuditLog.id)
            )
        )


def test_a_watchlist_round_trips_and_every_change_is_audited(api):
    api.login_as("ana", "analyst")
    created = create(api, "C2 servers", "ip_blacklist", description="from reports")
    assert created["item_count"] == 0 and created["is_active"] is True
    list_id = created["id"]

    changed = api.patch(f"{WATCHLISTS}/{list_id}", json={"name": "C2", "is_active": False})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["is_active"]) == ("C2", False)
    assert api.get(f"{WATCHLISTS}/{list_id}").json()["name"] == "C2"
    listed = api.get(WATCHLISTS, params={"list_type": "ip_blacklist", "is_active": False})
    assert [row["id"] for row in listed.json()["items"]] == [list_id]
    assert api.get(WATCHLISTS, params={"is_active": True}).json()["items"] == []

    clash = api.post(WATCHLISTS, json={"name": "c2", "list_type": "custom"})
    assert clash.status_code == 409
    assert clash.headers["content-type"] == PROBLEM
    assert "named 'c2' exists" in clash.json()["detail"]

    assert api.delete(f"{WATCHLISTS}/{list_id}").status_code == 204
    missing = api.get(f"{WATCHLISTS}/{list_id}")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert actions(api, list_id) == ["watchlist.create", "watchlist.update", "watchlist.delete"]


def test_items_are_added_listed_and_removed_with_the_count_following(api):
    api.login_as("ana", "analyst")
    list_id = create(api, "domains", "domain_blacklist")["id"]
    added = api.post(
        f"{WATCHLISTS}/{list_id}/items",
        json={
            "items": [
                "evil[.]com",
                {"value": "hxxps://bad.example.net/x", "notes": "kit"},
                {"value": "2030-01-01T00:00:00Z-not-a-value"},
                "192.0.2.1",
            ],
            "expires_at": "2999-01-01T00:00:00Z",
        },
    )
    assert added.status_code == 200, added.text
    body = added.json()
    assert (body["added"], body["rejected"], body["item_count"]) == (2, 2, 2)
    assert "takes domains, URLs and e-mail addresses" in body["rejections"][1]["reason"]

    page = api.get(f"{WATCHLISTS}/{list_id}/items", params={"limit": 1})
    assert page.status_code == 200, page.text
    first = page.json()
    assert first["total"] == 2 and first["items"][0]["item_value"] == "evil.com"
    assert first["items"][0]["expires_at"].startswith("2999-01-01")
    second = api.get(
        f"{WATCHLISTS}/{list_id}/items", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert second["items"][0]["item_value"] == "https://bad.example.net/x"
    assert second["items"][0]["notes"] == "kit" and second["next_cursor"] is None
    prefixed = api.get(f"{WATCHLISTS}/{list_id}/items", params={"q": "hxxps://bad[.]"}).json()
    assert [i["item_value"] for i in prefixed["items"]] == ["https://bad.example.net/x"]

    item_id = first["items"][0]["id"]
    assert api.delete(f"{WATCHLISTS}/{list_id}/items/{item_id}").status_code == 204
    gone = api.delete(f"{WATCHLISTS}/{list_id}/items/{item_id}")
    assert gone.status_code == 404
    assert api.get(f"{WATCHLISTS}/{list_id}").json()["item_count"] == 1
    assert actions(api, list_id).count("watchlist.add_items") == 1
    assert actions(api, list_id).count("watchlist.remove_items") == 1


def test_a_batch_over_the_limit_is_refused_with_the_limit(api):
    api.login_as("ana", "analyst")
    list_id = create(api, "ips", "ip_blacklist")["id"]
    values = [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(10_001)]
    response = api.post(f"{WATCHLISTS}/{list_id}/items", json={"items": values})
    assert response.status_code == 422
    assert "items" in response.json()["detail"]
    assert api.get(f"{WATCHLISTS}/{list_id}").json()["item_count"] == 0


def test_text_and_csv_uploads_report_bad_lines_and_keep_the_rest(api):
    api.login_as("ana", "analyst")
    list_id = create(api, "ips", "ip_blacklist")["id"]
    text = "# C2 list\n192.0.2.1\n\nnot an ip\n198.51.100.0/24  # range\n"
    imported = api.post(
        f"{WATCHLISTS}/{list_id}/items/import",
        content=text.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
        params={"notes": "feed dump"},
    )
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert (body["added"], body["rejected"], body["item_count"]) == (2, 1, 2)
    assert body["rejections"][0]["line"] == 4

    csv_body = "seen,ip\n2024-05-01,203.0.113.5\n2024-05-02\n2024-05-03,192.0.2.1\n"
    csv_import = api.post(
        f"{WATCHLISTS}/{list_id}/items/import",
        content=csv_body.encode(),
        headers={"Content-Type": "text/csv"},
        params={"column": "IP"},
    )
    assert csv_import.status_code == 200, csv_import.text
    body = csv_import.json()
    # 192.0.2.1 again, without notes or expiry: it keeps its notes and is unchanged.
    assert (body["added"], body["updated"], body["unchanged"], body["rejected"]) == (1, 0, 1, 1)
    items = api.get(f"{WATCHLISTS}/{list_id}/items").json()["items"]
    assert {i["item_value"]: i["notes"] for i in items} == {
        "192.0.2.1": "feed dump",
        "198.51.100.0/24": "feed dump",
        "203.0.113.5": None,
    }

    wrong_column = api.post(
        f"{WATCHLISTS}/{list_id}/items/import",
        content=csv_body.encode(),
        headers={"Content-Type": "text/csv"},
        params={"column": "address"},
    )
    assert wrong_column.status_code == 422
    assert "'seen', 'ip'" in wrong_column.json()["detail"]
    unsupported = api.post(
        f"{WATCHLISTS}/{list_id}/items/import",
        content=b"<xml/>",
        headers={"Content-Type": "application/xml"},
    )
    assert unsupported.status_code == 422
    assert "text/plain" in unsupported.json()["detail"]
    assert actions(api, list_id).count("watchlist.import_items") == 2


def test_a_collection_upload_adds_its_indicators(api):
    api.login_as("ana", "analyst")
    with api.database.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="seed", reliability=90)
    values = ["evil.com", "http://evil.com/a", "192.0.2.7"]
    ingest(
        api.database,
        source=source,
        default_confidence=80,
        rows=[ParsedRow(line=i + 1, value=v) for i, v in enumerate(values)],
    )
    collection = api.post("/api/v1/ioc-collections", json={"name": "wave"})
    assert collection.status_code == 201, collection.text
    collection_id = collection.json()["id"]
    linked = api.post(
        f"/api/v1/ioc-collections/{collection_id}/indicators", json={"indicators": values}
    )
    assert linked.status_code == 200, linked.text
    list_id = create(api, "domains", "domain_blacklist")["id"]

    imported = api.post(
        f"{WATCHLISTS}/{list_id}/items/import", json={"collection_id": collection_id}
    )
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert (body["added"], body["rejected"], body["item_count"]) == (2, 1, 2)
    assert body["rejections"][0]["value"] == "192.0.2.7"

    unknown = api.post(
        f"{WATCHLISTS}/{list_id}/items/import", json={"collection_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404
    malformed = api.post(f"{WATCHLISTS}/{list_id}/items/import", json={"collection": "wave"})
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "collection_id"


def test_check_names_the_lists_and_items_that_cover_a_value(api):
    api.login_as("ana", "analyst")
    blocked = create(api, "domains", "domain_blacklist")["id"]
    allowed = create(api, "known good", "hash_whitelist")["id"]
    api.post(f"{WATCHLISTS}/{blocked}/items", json={"items": ["evil.com"]})
    api.post(f"{WATCHLISTS}/{allowed}/items", json={"items": ["d41d8cd98f00b204e9800998ecf8427e"]})
    checked = api.get(f"{WATCHLISTS}/check", params={"value": "hxxps://cdn.evil[.]com/x"})
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["canonical"] == "https://cdn.evil.com/x" and body["kind"] == "url"
    [hit] = body["hits"]
    assert (hit["watchlist_id"], hit["effect"]) == (blocked, "alert")
    assert hit["item"]["item_value"] == "evil.com"

    whitelisted = api.get(
        f"{WATCHLISTS}/check", params={"value": "D41D8CD98F00B204E9800998ECF8427E"}
    ).json()
    assert [h["effect"] for h in whitelisted["hits"]] == ["suppress"]
    assert api.get(f"{WATCHLISTS}/check", params={"value": "good.org"}).json()["hits"] == []
    unreadable = api.get(f"{WATCHLISTS}/check", params={"value": "not a value"})
    assert unreadable.status_code == 422 and unreadable.json()["field"] == "value"


def test_a_type_change_that_items_do_not_fit_says_what_to_do(api):
    api.login_as("ana", "analyst")
    list_id = create(api, "mixed")["id"]
    api.post(f"{WATCHLISTS}/{list_id}/items", json={"items": ["evil.com", "192.0.2.1"]})
    refused = api.patch(f"{WATCHLISTS}/{list_id}", json={"list_type": "hash_whitelist"})
    assert refused.status_code == 422
    assert "remove them first" in refused.json()["detail"]


def test_readers_read_and_only_analysts_change(api):
    api.login_as("ana", "analyst")
    list_id = create(api, "ips", "ip_blacklist")["id"]
    api.post(f"{WATCHLISTS}/{list_id}/items", json={"items": ["192.0.2.1"]})
    item_id = api.get(f"{WATCHLISTS}/{list_id}/items").json()["items"][0]["id"]

    for role in ("viewer", "user"):
        with api.fresh() as client:
            client.login_as(f"{role}-1", role)
            assert client.get(WATCHLISTS).status_code == 200
            assert client.get(f"{WATCHLISTS}/{list_id}").status_code == 200
            assert client.get(f"{WATCHLISTS}/{list_id}/items").status_code == 200
            assert (
                client.get(f"{WATCHLISTS}/check", params={"value": "192.0.2.1"}).status_code == 200
            )
            writes = [
                client.post(WATCHLISTS, json={"name": "x", "list_type": "custom"}),
                client.patch(f"{WATCHLISTS}/{list_id}", json={"is_active": False}),
                client.post(f"{WATCHLISTS}/{list_id}/items", json={"items": ["192.0.2.2"]}),
                client.post(
                    f"{WATCHLISTS}/{list_id}/items/import",
                    content=b"192.0.2.3\n",
                    headers={"Content-Type": "text/plain"},
                ),
                client.delete(f"{WATCHLISTS}/{list_id}/items/{item_id}"),
                client.delete(f"{WATCHLISTS}/{list_id}"),
            ]
            assert [w.status_code for w in writes] == [403] * len(writes)
            assert f"your role ({role})" in writes[0].json()["detail"]
    shown = api.get(f"{WATCHLISTS}/{list_id}").json()
    assert (shown["item_count"], shown["is_active"]) == (1, True)
