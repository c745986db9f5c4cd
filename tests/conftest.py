"""Fixtures: real databases on both engines, real Redis, the real app behind a real socket.

PostgreSQL comes from ``KRSN_TEST_DATABASE_URL`` (a throwaway database is created in it for
each run) and Redis from ``KRSN_TEST_REDIS_URL``. Outside CI a missing server skips the
tests that need it; under CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Settings are read once per process; fix them before anything imports krsn.config.
os.environ.setdefault("KRSN_SECRET_KEY", "test-secret-key-for-the-suite-only")
os.environ.pop("KRSN_REDIS_URL", None)
os.environ.pop("KRSN_DATABASE_URL", None)

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from krsn.db import Database
from krsn.db.engine import normalise_url
from support import IN_CI, SHARED_DATA, shared_data, unavailable  # noqa: F401

# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run, dropped afterwards."""
    base = os.environ.get("KRSN_TEST_DATABASE_URL")
    if not base:
        unavailable("KRSN_TEST_DATABASE_URL is not set; PostgreSQL tests need a server")
    base_url = make_url(normalise_url(base))  # type: ignore[arg-type]
    name = f"krsn_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server may be down or refuse us
        admin.dispose()
        unavailable(f"cannot create a test database on {base_url.host}: {exc}")
    url = base_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fresh_postgres_url(postgres_server_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own, for tests that build schemas themselves."""
    base = make_url(postgres_server_url)
    name = f"krsn_fresh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- Schema once per run, a clean database per test ------------------------------------------


def build_schema(url: str) -> None:
    """Bring an empty database to the current schema."""
    from krsn.db.migrate import upgrade

    upgrade(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    build_schema(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_schema_url(postgres_server_url: str) -> str:
    build_schema(postgres_server_url)
    return postgres_server_url


def _truncate_all(database: Database) -> None:
    from krsn.db.models import Base

    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each engine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "krsn.db"
        shutil.copyfile(template, path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        url: str = request.getfixturevalue("postgres_schema_url")
        database = Database(url)
        _truncate_all(database)
        yield database
        _truncate_all(database)
        database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A migrated, empty SQLite database, for tests about SQLite itself."""
    path = tmp_path / "krsn.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


# --- Redis ----------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database for this test, flushed before and after."""
    url = os.environ.get("KRSN_TEST_REDIS_URL")
    if not url:
        unavailable("KRSN_TEST_REDIS_URL is not set; Redis tests need a server")
    import redis

    client = redis.Redis.from_url(url)  # type: ignore[arg-type]
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {url} is not reachable: {exc}")
    client.flushdb()
    yield url  # type: ignore[misc]
    client.flushdb()
    client.close()


# --- The real app on a real socket ----------------------------------------------------------


class LiveServer:
    """uvicorn serving the app on 127.0.0.1 in a background thread."""

    def __init__(self) -> None:
        import socket
        import threading

        import uvicorn

        from krsn.app import create_app
        from krsn.config import Settings

        self.settings = Settings()
        self.app = create_app(settings=self.settings, database=Database("sqlite://"))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        import time

        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def use(self, database: Database, **overrides: object) -> None:
        """Serve from this database with these settings from now on."""
        from krsn.app import configure

        settings = self.settings.model_copy(update=overrides)
        configure(self.app, settings=settings, database=database)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def api(live_server: LiveServer, db: Database) -> Iterator[ApiClient]:
    """An HTTP client against the real app, serving a fresh database on each engine."""
    live_server.use(db)
    with ApiClient(live_server.base_url, db) as client:
        yield client


import httpx  # noqa: E402


class ApiClient(httpx.Client):
    """httpx against the live server, with helpers to make users and sign in."""

    def __init__(self, base_url: str, database: Database) -> None:
        super().__init__(base_url=base_url, timeout=30)
        self.database = database
        self.csrf: str | None = None

    def make_user(self, username: str, role: str = "user", password: str | None = None) -> str:
        """Create a user directly through the service; returns its password."""
        from krsn.identity.audit import Actor
        from krsn.identity.models import Role
        from krsn.identity.users import create_user

        password = password or "Correct-Horse-Battery-42"
        with self.database.transaction() as session:
            create_user(
                session,
                actor=Actor.system(),
                username=username,
                email=f"{username}@example.org",
                role=Role(role),
                password=password,
            )
        return password

    def login(self, username: str, password: str, otp: str | None = None) -> httpx.Response:
        body = {"username": username, "password": password}
        if otp is not None:
            body["otp"] = otp
        response = self.post("/api/v1/auth/login", json=body)
        if response.status_code == 200:
            self.csrf = response.json()["csrf_token"]
            self.headers["X-CSRF-Token"] = self.csrf
        return response

    def login_as(self, username: str, role: str = "user") -> str:
        """Create a user of this role and sign in as it; returns its password."""
        password = self.make_user(username, role)
        response = self.login(username, password)
        assert response.status_code == 200, response.text
        return password

    def fresh(self) -> ApiClient:
        """Another client (no cookies) against the same server and database."""
        return ApiClient(str(self.base_url), self.database)
