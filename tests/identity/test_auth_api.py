"""Signing in over HTTP: passwords, lockout, MFA, sessions, CSRF, API keys."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from sqlalchemy import select, update

from krsn.db.types import utcnow
from krsn.identity.models import ApiKey, AuditLog, User


def audit_actions(api, **filters) -> list[str]:
    with api.database.transaction(readonly=True) as session:
        statement = select(AuditLog.action).order_by(AuditLog.created_at)
        for field, value in filters.items():
            statement = statement.where(getattr(AuditLog, field) == value)
        return list(session.scalars(statement))


def test_wrong_password_is_refused_and_audited(api):
    api.make_user("alice")
    response = api.login("alice", "not-her-password")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "Wrong username or password."
    assert "krsn_session" not in response.cookies
    assert "auth.login_failed" in audit_actions(api)


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(api):
    response = api.login("nobody", "whatever-password")
    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong username or password."


def test_login_sets_httponly_samesite_cookie_and_returns_csrf(api):
    password = api.make_user("bob", "analyst")
    response = api.login("bob", password)
    assert response.status_code == 200
    cookie = next(h for h in response.headers.get_list("set-cookie") if "krsn_session=" in h)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert response.json()["csrf_token"]
    me = api.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "bob"
    assert me.json()["authenticated_via"] == "session"
    assert "auth.login" in audit_actions(api)


def test_repeated_failures_lock_the_account_even_for_the_right_password(api):
    password = api.make_user("carol")
    for _ in range(4):
        assert api.login("carol", "wrong-password-123").status_code == 401
    fifth = api.login("carol", "wrong-password-123")
    assert fifth.status_code == 401
    assert "locked" in fifth.json()["detail"]
    locked = api.login("carol", password)
    assert locked.status_code == 423
    assert "locked" in locked.json()["detail"]
    # An admin's reset clears the lockout.
    with api.database.transaction() as session:
        session.execute(update(User).where(User.username == "carol").values(locked_until=None))
    assert api.login("carol", password).status_code == 200


def test_session_changes_need_the_csrf_header(api):
    api.login_as("dave", "admin")
    api.headers.pop("X-CSRF-Token")
    refused = api.post("/api/v1/organizations", json={"name": "ACME"})
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    api.headers["X-CSRF-Token"] = "forged"
    assert api.post("/api/v1/organizations", json={"name": "ACME"}).status_code == 403
    api.headers["X-CSRF-Token"] = api.csrf
    assert api.post("/api/v1/organizations", json={"name": "ACME"}).status_code == 201


def test_logout_ends_the_session(api):
    api.login_as("erin")
    assert api.post("/api/v1/auth/logout").status_code == 204
    api.cookies.clear()
    assert api.get("/api/v1/auth/me").status_code == 401


def test_one_time_password_must_be_changed_before_anything_else(api):
    api.login_as("root", "admin")
    created = api.post(
        "/api/v1/users", json={"username": "frank", "email": "f@example.org", "role": "analyst"}
    )
    assert created.status_code == 201
    one_time = created.json()["one_time_password"]
    frank = api.fresh()
    signed_in = frank.login("frank", one_time)
    assert signed_in.status_code == 200
    assert signed_in.json()["must_change_password"] is True
    blocked = frank.get("/api/v1/organizations")
    assert blocked.status_code == 403
    assert "password" in blocked.json()["detail"]
    weak = frank.post(
        "/api/v1/auth/password", json={"current_password": one_time, "new_password": "short"}
    )
    assert weak.status_code == 422
    changed = frank.post(
        "/api/v1/auth/password",
        json={"current_password": one_time, "new_password": "a-much-better-passphrase-77"},
    )
    assert changed.status_code == 200, changed.text
    frank.headers["X-CSRF-Token"] = changed.headers["X-CSRF-Token"]
    assert frank.get("/api/v1/organizations").status_code == 200
    frank.close()


def test_mfa_enrolment_then_login_requires_a_valid_code(api):
    password = api.login_as("grace", "analyst")
    enrol = api.post("/api/v1/auth/mfa/enroll")
    assert enrol.status_code == 200
    body = enrol.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert body["qr_svg"].startswith("data:image/svg+xml")
    totp = pyotp.TOTP(body["secret"])
    wrong = api.post(
        "/api/v1/auth/mfa/verify", json={"code": "000000" if totp.now() != "000000" else "111111"}
    )
    assert wrong.status_code == 422
    verified = api.post("/api/v1/auth/mfa/verify", json={"code": totp.now()})
    assert verified.status_code == 200
    recovery = verified.json()["recovery_codes"]
    assert len(recovery) >= 8

    other = api.fresh()
    required = other.login("grace", password)
    assert required.status_code == 401
    assert required.json()["mfa_required"] is True
    bad_code = other.login("grace", password, otp="123456" if totp.now() != "123456" else "654321")
    assert bad_code.status_code == 401
    assert "code" in bad_code.json()["detail"]
    # The code used to verify enrolment cannot be replayed; a recovery code works once.
    assert other.login("grace", password, otp=recovery[0]).status_code == 200
    assert api.fresh().login("grace", password, otp=recovery[0]).status_code == 401
    other.close()


def test_api_key_authenticates_counts_use_and_is_audited(api):
    api.login_as("heidi", "analyst")
    created = api.post("/api/v1/api-keys", json={"name": "siem"})
    assert created.status_code == 201
    key = created.json()["key"]
    key_id = created.json()["api_key"]["id"]
    assert key.startswith("krsn_")
    listed = api.get("/api/v1/api-keys").json()["items"]
    assert key not in str(listed)  # never shown again
    client = api.fresh()
    for _ in range(2):
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200
    assert me.json()["authenticated_via"] == "api_key"
    shown = api.get(f"/api/v1/api-keys/{key_id}").json()
    assert shown["usage_count"] == 2
    assert shown["last_used"] is not None
    assert audit_actions(api, resource_id=key_id).count("api_key.use") == 2
    client.close()


def test_revoked_and_expired_keys_are_refused(api):
    api.login_as("ivan", "analyst")
    revoked = api.post("/api/v1/api-keys", json={"name": "old"}).json()
    expired = api.post("/api/v1/api-keys", json={"name": "temp", "expires_in_days": 1}).json()
    assert api.delete(f"/api/v1/api-keys/{revoked['api_key']['id']}").status_code == 200
    with api.database.transaction() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == _uuid(expired["api_key"]["id"]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    client = api.fresh()
    answer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {revoked['key']}"})
    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]
    answer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired['key']}"})
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]
    bogus = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer krsn_nope"})
    assert bogus.status_code == 401
    assert "api_key.rejected" in audit_actions(api)
    client.close()


def test_rate_limit_answers_429_with_retry_after(api):
    api.login_as("judy", "analyst")
    key = api.post("/api/v1/api-keys", json={"name": "tight", "rate_limit": 3}).json()["key"]
    client = api.fresh()
    client.headers["Authorization"] = f"Bearer {key}"
    codes = [client.get("/api/v1/auth/me").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/auth/me")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "Rate limit" in limited.json()["detail"]
    client.close()


def test_disabled_user_loses_sessions_and_keys(api):
    api.login_as("root", "admin")
    password = api.make_user("mallory", "analyst")
    mallory = api.fresh()
    assert mallory.login("mallory", password).status_code == 200
    key = mallory.post("/api/v1/api-keys", json={"name": "k"}).json()["key"]
    with api.database.transaction(readonly=True) as session:
        user_id = session.scalar(select(User.id).where(User.username == "mallory"))
    assert api.patch(f"/api/v1/users/{user_id}", json={"is_active": False}).status_code == 200
    assert mallory.get("/api/v1/auth/me").status_code == 401
    keyed = api.fresh().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert keyed.status_code == 401
    assert api.fresh().login("mallory", password).status_code == 403
    mallory.close()


def _uuid(value: str):
    import uuid

    return uuid.UUID(value)
