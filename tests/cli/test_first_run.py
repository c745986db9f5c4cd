"""A newcomer's first run, with real processes: migrate, bootstrap, serve, sign in, use a key.

This is the README's first tour, driven through the installed ``krsn`` script and HTTP only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

KRSN = Path(sys.executable).parent / "krsn"
ADMIN_PASSWORD = "amber lantern over quiet harbours"
ANALYST_PASSWORD = "seven copper kites drift north"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, unmigrated database on each engine, as a newcomer has it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'krsn.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
def environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    """A clean environment: none of the suite's KRSN_ settings, no secret key given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRSN_")}
    env.update(KRSN_DATABASE_URL=database_url, KRSN_DATA_DIR=str(tmp_path / "var"))
    return env


def krsn(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    """Run the installed command in the newcomer's folder; returns its output."""
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(KRSN), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"krsn {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, environment: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Migrate, bootstrap and serve as ``make run`` does; yields (base URL, admin password)."""
    assert KRSN.exists(), f"the console script is not installed next to {sys.executable}"
    krsn(tmp_path, environment, "db", "upgrade")
    output = krsn(tmp_path, environment, "users", "bootstrap")
    assert "First admin created" in output
    password = output.split("One-time password:")[1].split()[0]

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [str(KRSN), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, f"krsn serve exited: {log.read_text()}"
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"krsn serve did not start: {log.read_text()}"
            time.sleep(0.1)
        yield base_url, password
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(client: httpx.Client, username: str, password: str) -> dict[str, object]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    client.headers["X-CSRF-Token"] = str(body["csrf_token"])
    return body


def change_password(client: httpx.Client, current: str, new: str) -> None:
    response = client.post(
        "/api/v1/auth/password", json={"current_password": current, "new_password": new}
    )
    assert response.status_code == 200, response.text
    assert response.json()["must_change_password"] is False
    # The change starts a new session, with a new CSRF token.
    client.headers["X-CSRF-Token"] = response.headers["X-CSRF-Token"]


def test_a_new_user_goes_from_nothing_to_an_api_key(server: tuple[str, str]) -> None:
    base_url, one_time = server

    with httpx.Client(base_url=base_url, timeout=10) as admin:
        login = sign_in(admin, "admin", one_time)
        assert login["must_change_password"] is True
        # Until the one-time password is changed, it opens nothing else.
        assert admin.get("/api/v1/organizations").status_code == 403
        change_password(admin, one_time, ADMIN_PASSWORD)
        assert admin.get("/api/v1/organizations").status_code == 200

        created = admin.post(
            "/api/v1/users",
            json={"username": "alice", "email": "alice@example.org", "role": "analyst"},
        )
        assert created.status_code == 201, created.text
        analyst_one_time = created.json()["one_time_password"]
        assert analyst_one_time

    with httpx.Client(base_url=base_url, timeout=10) as analyst:
        assert sign_in(analyst, "alice", analyst_one_time)["must_change_password"] is True
        change_password(analyst, analyst_one_time, ANALYST_PASSWORD)
        made = analyst.post("/api/v1/api-keys", json={"name": "siem"})
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        assert key.startswith("krsn_")

    # A script with nothing but the key.
    with httpx.Client(base_url=base_url, timeout=10) as script:
        me = script.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200, me.text
        assert me.json()["user"]["username"] == "alice"
        assert me.json()["user"]["role"] == "analyst"
        assert me.json()["authenticated_via"] == "api_key"
        assert script.get("/api/v1/auth/me").status_code == 401

        ready = script.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"

    # The old passwords are gone for good.
    with httpx.Client(base_url=base_url, timeout=10) as stranger:
        refused = stranger.post(
            "/api/v1/auth/login", json={"username": "admin", "password": one_time}
        )
        assert refused.status_code == 401
