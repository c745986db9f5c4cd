"""Admin work over HTTP: users, organizations, configuration, and the audit trail of it."""

from __future__ import annotations

from sqlalchemy import select

from krsn.identity.models import AuditLog


def rows_for(api, resource_id: str) -> list[AuditLog]:
    with api.database.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(AuditLog)
                .where(AuditLog.resource_id == resource_id)
                .order_by(AuditLog.created_at)
            )
        )


def test_every_change_writes_an_audit_row_with_old_and_new_values(api):
    api.login_as("root", "admin")
    api.headers["User-Agent"] = "audit-test/1.0"
    created = api.post(
        "/api/v1/users", json={"username": "kim", "email": "kim@example.org", "role": "user"}
    )
    user_id = created.json()["user"]["id"]
    assert api.patch(f"/api/v1/users/{user_id}", json={"role": "analyst"}).status_code == 200
    assert api.post(f"/api/v1/users/{user_id}/reset-password").status_code == 200
    assert api.delete(f"/api/v1/users/{user_id}").status_code == 204
    rows = rows_for(api, user_id)
    assert [r.action for r in rows] == [
        "user.create",
        "user.update",
        "user.reset_password",
        "user.delete",
    ]
    update = rows[1]
    assert update.old_values == {"role": "user"} and update.new_values["role"] == "analyst"
    assert update.ip_address == "127.0.0.1"
    assert update.user_agent == "audit-test/1.0"
    assert update.severity.value == "warning"
    assert "password_hash" not in (rows[0].new_values or {})

    org = api.post("/api/v1/organizations", json={"name": "ACME", "size": "large"}).json()
    api.patch(f"/api/v1/organizations/{org['id']}", json={"industry": "energy"})
    api.delete(f"/api/v1/organizations/{org['id']}")
    assert [r.action for r in rows_for(api, org["id"])] == [
        "organization.create",
        "organization.update",
        "organization.delete",
    ]

    api.put("/api/v1/system/config/feeds.default_ttl_days", json={"value": 30})
    api.put(
        "/api/v1/system/config/feeds.default_ttl_days",
        json={"value": 45, "category": "performance"},
    )
    api.delete("/api/v1/system/config/feeds.default_ttl_days")
    config_rows = rows_for(api, "feeds.default_ttl_days")
    assert [r.action for r in config_rows] == ["config.set", "config.set", "config.delete"]
    assert config_rows[1].old_values["value"] == 30 and config_rows[1].new_values["value"] == 45


def test_a_failed_change_leaves_no_audit_row_and_no_change(api):
    api.login_as("root", "admin")
    api.post("/api/v1/organizations", json={"name": "Dup"})
    clash = api.post("/api/v1/organizations", json={"name": "dup"})
    assert clash.status_code == 409
    actions = [
        r["action"] for r in api.get("/api/v1/audit-logs?action=organization.*").json()["items"]
    ]
    assert actions == ["organization.create"]


def test_admin_filters_and_pages_the_audit_log(api):
    api.login_as("root", "admin")
    for index in range(7):
        api.put(f"/api/v1/system/config/k{index}", json={"value": index})
    first = api.get("/api/v1/audit-logs", params={"action": "config.set", "limit": 3}).json()
    assert first["total"] == 7 and len(first["items"]) == 3
    seen = [item["resource_id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get(
            "/api/v1/audit-logs", params={"action": "config.set", "limit": 3, "cursor": cursor}
        ).json()
        seen += [item["resource_id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == [f"k{i}" for i in range(7)]
    assert seen[0] == "k6"  # newest first
    bad = api.get("/api/v1/audit-logs", params={"cursor": "garbage!"})
    assert bad.status_code == 422 and "cursor" in bad.json()["detail"]
    logins = api.get("/api/v1/audit-logs", params={"action": "auth.*"}).json()
    assert {i["action"] for i in logins["items"]} == {"auth.login"}


def test_users_list_filters_by_role_and_search(api):
    api.login_as("root", "admin")
    api.make_user("analyst-one", "analyst")
    api.make_user("viewer-one", "viewer")
    analysts = api.get("/api/v1/users", params={"role": "analyst"}).json()
    assert [u["username"] for u in analysts["items"]] == ["analyst-one"]
    found = api.get("/api/v1/users", params={"q": "VIEWER"}).json()
    assert found["total"] == 1


def test_the_last_admin_cannot_demote_itself(api):
    api.login_as("solo", "admin")
    me = api.get("/api/v1/auth/me").json()["user"]["id"]
    refused = api.patch(f"/api/v1/users/{me}", json={"role": "viewer"})
    assert refused.status_code == 409
    assert "last active admin" in refused.json()["detail"]


def test_duplicate_username_is_a_clear_conflict(api):
    api.login_as("root", "admin")
    api.make_user("taken")
    clash = api.post("/api/v1/users", json={"username": "TAKEN", "email": "x@example.org"})
    assert clash.status_code == 409
    assert "taken" in clash.json()["detail"]
