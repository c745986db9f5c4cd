"""Bad input gets a clear 4xx problem, never a 500."""

from __future__ import annotations


def test_malformed_json_is_a_400_problem(api):
    response = api.post(
        "/api/v1/auth/login",
        content=b'{"username": "a",',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "not valid JSON" in response.json()["detail"]


def test_wrong_types_name_the_field(api):
    api.login_as("root", "admin")
    response = api.post("/api/v1/api-keys", json={"name": "k", "rate_limit": "lots"})
    assert response.status_code == 422
    body = response.json()
    assert body["title"] == "Invalid request"
    assert any(error["field"] == "rate_limit" for error in body["errors"])
    unknown = api.post("/api/v1/organizations", json={"name": "A", "colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.json()["detail"]
    bad_enum = api.post(
        "/api/v1/users", json={"username": "zed", "email": "z@example.org", "role": "god"}
    )
    assert bad_enum.status_code == 422 and "role" in bad_enum.json()["detail"]
    bad_id = api.get("/api/v1/users/not-a-uuid")
    assert bad_id.status_code == 422


def test_oversize_bodies_are_refused_with_413(api, live_server, db):
    live_server.use(db, max_body_bytes=1024)
    response = api.post(
        "/api/v1/auth/login", content=b"x" * 4096, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "limit of 1024 bytes" in response.json()["detail"]

    def chunks():
        for _ in range(8):
            yield b"y" * 512

    streamed = api.post(
        "/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_unknown_route_and_method_are_problems(api):
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    wrong_method = api.put("/api/v1/auth/login", json={})
    assert wrong_method.status_code == 405


def test_health_and_readiness(api):
    assert api.get("/healthz").json()["status"] == "ok"
    ready = api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


def test_security_headers_on_every_answer(api):
    response = api.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
