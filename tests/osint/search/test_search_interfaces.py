"""The search's REST route (with roles) and its command, on both engines."""

from __future__ import annotations

import json
from typing import Any

from search_support import add_document, add_entity

from krsn.db import Database
from krsn.identity.audit import Actor, record


def seed(db: Database) -> None:
    with db.transaction() as session:
        add_entity(session, "[bold]evil[/].example.com", risk_score=90)
        add_document(session, "evil loader seen at night")
        record(session, actor=Actor.system(), action="evil.audited", resource_type="thing")


def test_rest_search_returns_ranked_hits_with_highlights(api: Any) -> None:
    seed(api.database)
    api.login_as("reader", "viewer")

    response = api.get("/api/v1/search", params={"q": "evil", "index": "entities"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert [hit["title"] for hit in body["items"]] == ["[bold]evil[/].example.com"]
    assert body["items"][0]["risk"] == 90
    assert "<mark>evil</mark>" in body["items"][0]["snippet"]
    assert body["approximate"] is False


def test_audit_log_is_for_admins_only(api: Any) -> None:
    seed(api.database)
    api.login_as("analyst", "analyst")

    refused = api.get("/api/v1/search", params={"q": "evil", "index": "audit_logs"})
    everything = api.get("/api/v1/search", params={"q": "evil"})

    assert refused.status_code == 403
    assert "audit_logs" not in {hit["index"] for hit in everything.json()["items"]}
    assert {hit["index"] for hit in everything.json()["items"]} == {"entities", "documents"}


def test_admin_searches_the_audit_log(api: Any) -> None:
    seed(api.database)
    api.login_as("boss", "admin")

    response = api.get("/api/v1/search", params={"q": "audited", "index": "audit_logs"})

    assert [hit["title"] for hit in response.json()["items"]] == ["evil.audited"]


def test_rest_refuses_bad_parameters_and_survives_hostile_text(api: Any) -> None:
    api.login_as("reader", "viewer")

    assert api.get("/api/v1/search", params={"q": "x", "index": "nope"}).status_code == 422
    assert api.get("/api/v1/search", params={"q": "x", "limit": 0}).status_code == 422
    assert api.get("/api/v1/search", params={"q": "NEAR( \"\\ ' :*"}).status_code == 200


def test_rest_needs_a_signed_in_user(api: Any) -> None:
    assert api.get("/api/v1/search", params={"q": "evil"}).status_code == 401


def test_cli_json_lists_hits(db: Database, cli: Any) -> None:
    seed(db)

    result = cli("search", "evil", "--index", "entities", "--json")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [hit["title"] for hit in body["items"]] == ["[bold]evil[/].example.com"]


def test_cli_table_prints_markup_in_names_literally(db: Database, cli: Any) -> None:
    seed(db)

    result = cli("search", "evil", "--index", "entities")

    assert result.exit_code == 0, result.output
    assert "[bold]evil[/]" in result.stdout


def test_cli_rebuild_restores_the_indices(db: Database, cli: Any) -> None:
    seed(db)

    rebuilt = cli("search", "--rebuild")
    found = cli("search", "loader", "--json")

    assert rebuilt.exit_code == 0, rebuilt.output
    assert [hit["index"] for hit in json.loads(found.stdout)["items"]] == ["documents"]


def test_cli_without_a_query_fails_cleanly(db: Database, cli: Any) -> None:
    result = cli("search", "--limit", "5")

    assert result.exit_code != 0
    assert "query" in result.stderr
