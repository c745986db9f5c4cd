"""The permission matrix over HTTP: every role, what it may do, in words for the admin page."""

from __future__ import annotations

from typing import Any

from krsn.identity.models import Role
from krsn.security.permissions import ROLE_ACTIONS

ROLES = "/api/v1/roles"


def test_every_role_is_listed_with_its_actions_most_privileged_first(api: Any) -> None:
    api.login_as("vera", "viewer")
    response = api.get(ROLES)
    assert response.status_code == 200, response.text
    roles = response.json()
    assert [r["role"] for r in roles] == ["admin", "analyst", "user", "viewer"]
    by_role = {r["role"]: r for r in roles}
    assert by_role["viewer"]["actions"] == ["read", "account"]
    assert by_role["user"]["actions"] == ["read", "account", "write_own"]
    assert by_role["analyst"]["actions"] == ["read", "account", "write_own", "write_intel"]
    assert by_role["admin"]["actions"] == ["read", "account", "write_own", "write_intel", "admin"]
    for role in Role:
        assert set(by_role[role.value]["actions"]) == {a.value for a in ROLE_ACTIONS[role]}
        assert by_role[role.value]["description"]


def test_the_matrix_needs_a_signed_in_caller(api: Any) -> None:
    response = api.get(ROLES)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_a_read_only_api_key_may_read_the_matrix(api: Any) -> None:
    api.login_as("ann", "admin")
    key = api.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["read"]}).json()["key"]
    client = api.fresh()
    client.headers["Authorization"] = f"Bearer {key}"
    assert client.get(ROLES).status_code == 200
    client.close()
