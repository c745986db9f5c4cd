"""The collections and OSINT sources REST API against the real app, on both engines."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

BASE = "/api/v1/collections"
SOURCES = f"{BASE}/sources"


def _create(api: Any, **body: Any) -> dict[str, Any]:
    payload = {
        "name": "acme",
        "collector_type": "custom",
        "collector": "acme_feed",
        "config": {"count": 3},
        **body,
    }
    response = api.post(BASE, json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def _wait_until_finished(api: Any, collection_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = api.get(f"{BASE}/{collection_id}/status").json()
        if state["status"] not in ("running", "pending"):
            return state
        time.sleep(0.05)
    raise AssertionError("the run never ended")


def test_user_creates_and_runs_own_collection_in_the_background(api: Any, scripted: str) -> None:
    api.login_as("ursula", "user")
    created = _create(api, config={"count": 4})
    assert created["status"] == "pending"
    started = api.post(f"{BASE}/{created['id']}/run")
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    state = _wait_until_finished(api, created["id"])
    assert state["status"] == "completed"
    assert float(state["progress"]) == 100.0
    assert state["items_collected"] == 4
    items = api.get(f"{BASE}/{created['id']}/items", params={"limit": 2}).json()
    assert items["total"] == 4 and len(items["items"]) == 2 and items["next_cursor"]
    assert items["items"][0]["item_type"] == "note"


def test_running_a_running_collection_is_409(api: Any, scripted: str) -> None:
    api.login_as("ursula", "user")
    created = _create(api, config={"forever": True, "delay": 0.01})
    assert api.post(f"{BASE}/{created['id']}/run").status_code == 202
    again = api.post(f"{BASE}/{created['id']}/run")
    assert again.status_code == 409
    assert "already running" in again.json()["detail"]
    cancelled = api.post(f"{BASE}/{created['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert _wait_until_finished(api, created["id"])["status"] == "cancelled"
    # The runner stopped: its item count no longer moves.
    time.sleep(0.3)
    first = api.get(f"{BASE}/{created['id']}/status").json()["items_collected"]
    time.sleep(0.3)
    assert api.get(f"{BASE}/{created['id']}/status").json()["items_collected"] == first
    assert api.post(f"{BASE}/{created['id']}/cancel").status_code == 409


def test_failed_run_shows_its_error_over_the_api(api: Any, scripted: str) -> None:
    api.login_as("ursula", "user")
    created = _create(api, config={"count": 3, "fail_at": 1, "prefix": "acme"})
    api.post(f"{BASE}/{created['id']}/run")
    state = _wait_until_finished(api, created["id"])
    assert state["status"] == "failed"
    assert state["error_message"] == "acme.example answered HTTP 503: try later"


def test_bad_config_is_422_naming_the_field(api: Any, scripted: str) -> None:
    api.login_as("ursula", "user")
    response = api.post(
        BASE, json={"name": "x", "collector": scripted, "config": {"count": "lots"}}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "config.count"
    bad_schedule = api.post(
        BASE,
        json={"name": "x", "collector": scripted, "schedule": {"every_minutes": 0}},
    )
    assert bad_schedule.status_code == 422


def test_plugin_collection_is_created_run_and_listed_by_its_collector(
    api: Any, scripted: str
) -> None:
    api.login_as("ursula", "user")
    # collector_type may be left out: the named collector's category is taken.
    created = api.post(BASE, json={"name": "plug", "collector": scripted, "config": {"count": 2}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["collector_type"], body["collector"]) == ("custom", scripted)
    api.post(f"{BASE}/{body['id']}/run")
    assert _wait_until_finished(api, body["id"])["items_collected"] == 2
    built_in = _create(
        api, name="builtin", collector=None, config={"url": "https://api.example.org/items"}
    )
    assert built_in["collector"] is None
    by_plugin = api.get(BASE, params={"collector": scripted}).json()
    assert [c["name"] for c in by_plugin["items"]] == ["plug"]
    by_built_in = api.get(BASE, params={"collector": "custom"}).json()
    assert [c["name"] for c in by_built_in["items"]] == ["builtin"]
    assert api.get(BASE, params={"collector_type": "custom"}).json()["total"] == 2


def test_unknown_or_mismatched_collector_is_422_naming_it(api: Any, scripted: str) -> None:
    api.login_as("ursula", "user")
    unknown = api.post(BASE, json={"name": "x", "collector": "no_such_feed"})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "collector"
    assert "no collector named 'no_such_feed'" in unknown.json()["detail"]
    assert scripted in unknown.json()["detail"]
    mismatched = api.post(
        BASE, json={"name": "x", "collector_type": "news", "collector": scripted, "config": {}}
    )
    assert mismatched.status_code == 422
    assert mismatched.json()["field"] == "collector"
    neither = api.post(BASE, json={"name": "x"})
    assert neither.status_code == 422
    assert neither.json()["field"] == "collector_type"


def test_viewer_reads_but_cannot_create_or_run(api: Any, scripted: str) -> None:
    api.login_as("olga", "user")
    created = _create(api)
    viewer = api.fresh()
    viewer.login_as("vera", "viewer")
    assert viewer.get(BASE).json()["total"] == 1
    assert viewer.get(f"{BASE}/{created['id']}").status_code == 200
    assert viewer.post(BASE, json={"name": "v", "collector": scripted}).status_code == 403
    assert viewer.post(f"{BASE}/{created['id']}/run").status_code == 403
    viewer.close()


def test_users_change_only_their_own_collections_analysts_all(api: Any, scripted: str) -> None:
    api.login_as("olga", "user")
    created = _create(api)
    other = api.fresh()
    other.login_as("uwe", "user")
    assert other.patch(f"{BASE}/{created['id']}", json={"name": "mine"}).status_code == 403
    assert other.post(f"{BASE}/{created['id']}/run").status_code == 403
    assert other.delete(f"{BASE}/{created['id']}").status_code == 403
    analyst = api.fresh()
    analyst.login_as("ana", "analyst")
    renamed = analyst.patch(f"{BASE}/{created['id']}", json={"name": "renamed"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
    assert other.get(BASE, params={"mine": True}).json()["total"] == 0
    assert analyst.delete(f"{BASE}/{created['id']}").status_code == 204
    assert api.get(f"{BASE}/{created['id']}").status_code == 404
    other.close()
    analyst.close()


def test_list_filters_by_status_and_type(api: Any, scripted: str) -> None:
    api.login_as("ursula", "user")
    done = _create(api, name="done")
    _create(api, name="waiting")
    api.post(f"{BASE}/{done['id']}/run")
    _wait_until_finished(api, done["id"])
    completed = api.get(BASE, params={"status": "completed"}).json()
    assert [c["name"] for c in completed["items"]] == ["done"]
    assert api.get(BASE, params={"collector_type": "news"}).json()["total"] == 0
    assert api.get(BASE, params={"collector_type": "custom"}).json()["total"] == 2


def test_types_lists_installed_collectors_with_their_schema(api: Any, scripted: str) -> None:
    api.login_as("vera", "viewer")
    found = {t["name"]: t for t in api.get(f"{BASE}/types").json()}
    plugin = found[scripted]
    assert "count" in plugin["config_schema"]["properties"]
    assert plugin["description"]
    assert (plugin["collector_type"], plugin["default"]) == ("custom", False)
    # The built-in of the same category is listed beside it, still the default.
    assert (found["custom"]["collector_type"], found["custom"]["default"]) == ("custom", True)
    assert "url" in found["custom"]["config_schema"]["properties"]


def test_source_credentials_never_come_back(api: Any) -> None:
    api.login_as("ana", "analyst")
    secret = "tok-3f9a-very-secret"
    created = api.post(
        SOURCES,
        json={
            "name": "Mastodon infosec",
            "source_type": "social_media",
            "base_url": "https://infosec.exchange",
            "credentials": {"token": secret},
            "rate_limit": 30,
            "reliability_score": 0.8,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["has_credentials"] is True and "credentials" not in body
    source_id = body["id"]
    for response in (
        api.get(SOURCES),
        api.get(f"{SOURCES}/{source_id}"),
        api.patch(f"{SOURCES}/{source_id}", json={"rate_limit": 10}),
    ):
        assert response.status_code == 200
        assert secret not in response.text
    with api.database.engine.connect() as connection:
        # Stored encrypted: the column's text in the database is not the secret...
        stored = connection.execute(
            text("SELECT credentials FROM sources WHERE id = :id"),
            {
                "id": source_id
                if api.database.dialect == "postgresql"
                else source_id.replace("-", "")
            },
        ).scalar()
        # ...and the audit trail says only that there are credentials.
        trail = connection.execute(
            text("SELECT action, new_values, details FROM audit_logs WHERE resource_id = :id"),
            {"id": source_id},
        ).all()
    assert stored and secret not in str(stored)
    assert {"osint_source.create", "osint_source.credentials"} <= {row[0] for row in trail}
    assert secret not in str(trail)
    dropped = api.patch(f"{SOURCES}/{source_id}", json={"credentials": None}).json()
    assert dropped["has_credentials"] is False


def test_users_read_sources_but_only_analysts_change_them(api: Any) -> None:
    api.login_as("ana", "analyst")
    created = api.post(SOURCES, json={"name": "crt.sh", "source_type": "domain_intel"}).json()
    user = api.fresh()
    user.login_as("ursula", "user")
    assert user.get(f"{SOURCES}/{created['id']}").json()["rate_limit"] == 60
    assert user.post(SOURCES, json={"name": "x", "source_type": "news"}).status_code == 403
    assert user.delete(f"{SOURCES}/{created['id']}").status_code == 403
    assert api.post(SOURCES, json={"name": "CRT.SH", "source_type": "news"}).status_code == 409
    user.close()


def test_collection_names_its_source(api: Any, scripted: str) -> None:
    api.login_as("ana", "analyst")
    source = api.post(SOURCES, json={"name": "feed", "source_type": "custom"}).json()
    created = _create(api, source_id=source["id"])
    assert created["source_id"] == source["id"]
    unknown = api.post(
        BASE,
        json={
            "name": "x",
            "collector": scripted,
            "source_id": "00000000-0000-4000-8000-000000000000",
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "source_id"
