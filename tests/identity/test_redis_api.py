"""With KRSN_REDIS_URL set, sessions and rate limits live in Redis under the documented keys."""

from __future__ import annotations

import hashlib

import redis


def test_sessions_and_rate_limits_use_redis_keys(api, live_server, db, redis_url):
    live_server.use(db, redis_url=redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    password = api.make_user("rita", "analyst")
    response = api.login("rita", password)
    assert response.status_code == 200
    token = response.cookies["krsn_session"]
    key = f"session:{hashlib.sha256(token.encode()).hexdigest()}"
    stored = client.hgetall(key)
    assert stored["username"] == "rita" and stored["role"] == "analyst"
    assert {"user_id", "created_at", "last_activity"} <= set(stored)
    assert 86000 < client.ttl(key) <= 86400

    me = api.get("/api/v1/auth/me")
    assert me.status_code == 200
    user_id = me.json()["user"]["id"]
    counter = f"rate_limit:{user_id}:/api/v1/auth/me"
    assert client.get(counter) == "1"
    assert 0 < client.ttl(counter) <= 60

    assert api.post("/api/v1/auth/logout").status_code == 204
    assert not client.exists(key)
    api.cookies.clear()
    assert api.get("/api/v1/auth/me").status_code == 401
    client.close()


def test_redis_rate_limit_answers_429(api, live_server, db, redis_url):
    live_server.use(db, redis_url=redis_url)
    api.login_as("tess", "analyst")
    key = api.post("/api/v1/api-keys", json={"name": "k", "rate_limit": 2}).json()["key"]
    client = api.fresh()
    client.headers["Authorization"] = f"Bearer {key}"
    codes = [client.get("/api/v1/auth/me").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    client.close()
