"""The permission matrix on every route, checked over HTTP from the OpenAPI document."""

from __future__ import annotations

import uuid

import pytest

PUBLIC = {("post", "/api/v1/auth/login"), ("get", "/healthz"), ("get", "/readyz")}
ACCOUNT_PREFIXES = ("/api/v1/auth/", "/api/v1/api-keys")
# POSTs that only read (a batch of values is too large for a query string).
READ_ONLY_POSTS = {
    "/api/v1/indicators/lookup",
    "/api/v1/feeds/{feed}/preview",
    "/api/v1/feed-preview",  # tries rules on a sample, stores nothing
    "/api/v1/extract",  # extraction stores nothing
}


def every_operation(api) -> list[tuple[str, str]]:
    spec = api.get("/api/v1/openapi.json").json()
    operations = []
    for path, methods in spec["paths"].items():
        for method in methods:
            concrete = path
            for name in ("user_id", "key_id", "organization_id"):
                concrete = concrete.replace("{" + name + "}", str(uuid.uuid4()))
            concrete = concrete.replace("{key}", "some.key")
            operations.append((method, path, concrete))
    return operations


def test_every_route_but_login_and_health_requires_authentication(api):
    operations = every_operation(api)
    assert len(operations) > 20
    for method, template, path in operations:
        if (method, template) in PUBLIC:
            continue
        response = api.request(method.upper(), path, json={})
        assert response.status_code == 401, (method, template, response.status_code)


def test_viewer_may_read_but_every_write_is_forbidden(api):
    api.login_as("vera", "viewer")
    for method, template, path in every_operation(api):
        if (method, template) in PUBLIC or template.startswith(ACCOUNT_PREFIXES):
            continue
        response = api.request(method.upper(), path, json={})
        if (method == "get" or template in READ_ONLY_POSTS) and not template.startswith(
            ("/api/v1/users", "/api/v1/audit-logs", "/api/v1/system")
        ):
            assert response.status_code in (200, 404, 422), (method, template, response.text)
        else:
            assert response.status_code == 403, (method, template, response.status_code)


def test_viewer_writing_gets_a_message_naming_the_role(api):
    api.login_as("vic", "viewer")
    response = api.post("/api/v1/organizations", json={"name": "Nope"})
    assert response.status_code == 403
    assert "viewer" in response.json()["detail"]


@pytest.mark.parametrize("role", ["user", "analyst"])
def test_only_admins_manage_users_audit_and_configuration(api, role):
    api.login_as(f"someone-{role}", role)
    assert api.get("/api/v1/users").status_code == 403
    assert api.get("/api/v1/audit-logs").status_code == 403
    assert api.put("/api/v1/system/config/x", json={"value": 1}).status_code == 403


def test_a_user_cannot_see_another_users_api_key(api):
    api.login_as("owner", "user")
    key_id = api.post("/api/v1/api-keys", json={"name": "mine"}).json()["api_key"]["id"]
    other = api.fresh()
    other.login_as("snoop", "user")
    assert other.get(f"/api/v1/api-keys/{key_id}").status_code == 404
    assert other.delete(f"/api/v1/api-keys/{key_id}").status_code == 404
    assert key_id not in str(other.get("/api/v1/api-keys").json())
    admin = api.fresh()
    admin.login_as("boss", "admin")
    assert admin.get(f"/api/v1/api-keys/{key_id}").status_code == 200
    other.close()
    admin.close()


def test_key_scopes_narrow_the_role(api):
    api.login_as("ann", "admin")
    key = api.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["read"]}).json()["key"]
    client = api.fresh()
    client.headers["Authorization"] = f"Bearer {key}"
    assert client.get("/api/v1/organizations").status_code == 200
    assert client.post("/api/v1/organizations", json={"name": "X"}).status_code == 403
    assert client.get("/api/v1/users").status_code == 403
    refused = api.post("/api/v1/api-keys", json={"name": "bad", "scopes": ["root"]})
    assert refused.status_code == 422
    client.close()
