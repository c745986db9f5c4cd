"""Source credentials: checked when stored, sent with every download of the source's feeds
(MISP event files included), only to the feed's origin, and never shown, logged or recorded.

The providers are real HTTP servers on 127.0.0.1 that answer 401 without the credential.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from krsn.config import Settings
from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds import service, sources
from krsn.feeds.models import ThreatSource
from krsn.feeds.runner import run_feed
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from support import shared_data

SYSTEM = Actor.system()
SECRET = "k3y-that-must-never-leak-0123456789"
FEED = b"203.0.113.77\nmalware.example.net\n"
EVENT_UUID = "57c4445b-c548-4654-af0b-4be3950d210f"

Check = Callable[[BaseHTTPRequestHandler], bool]

CHECKS: dict[str, tuple[dict, Check]] = {
    "header": (
        {"type": "header", "name": "Auth-Key", "value": SECRET},
        lambda h: h.headers.get("Auth-Key") == SECRET,
    ),
    "bearer": (
        {"type": "bearer", "token": SECRET},
        lambda h: h.headers.get("Authorization") == f"Bearer {SECRET}",
    ),
    "basic": (
        {"type": "basic", "username": "analyst", "password": SECRET},
        lambda h: (
            h.headers.get("Authorization")
            == "Basic " + base64.b64encode(f"analyst:{SECRET}".encode()).decode()
        ),
    ),
    "query": (
        {"type": "query", "name": "apikey", "value": SECRET},
        lambda h: parse_qs(urlsplit(h.path).query).get("apikey") == [SECRET],
    ),
}


class Provider:
    """A feed provider on 127.0.0.1 that answers 401 unless ``check`` accepts the request."""

    def __init__(self, check: Check, files: dict[str, bytes] | None = None) -> None:
        self.check = check
        self.files = files or {"/list.txt": FEED}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.accepted = 0
        self.redirect_to: str | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append((self.path, dict(self.headers)))
                allowed = owner.check(self)
                owner.accepted += allowed
                if owner.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", owner.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not allowed:
                    body = b"wrong or missing key"
                    self.send_response(401)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                payload = owner.files.get(urlsplit(self.path).path)
                if payload is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def providers() -> Iterator[Callable[..., Provider]]:
    made: list[Provider] = []

    def make(check: Check, files: dict[str, bytes] | None = None) -> Provider:
        made.append(Provider(check, files))
        return made[-1]

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", egress_allow_private=True, feed_fetch_retries=0)


def add_feed(db: Database, url: str, *, name: str = "keyed", format_name: str = "text") -> str:
    with db.transaction() as session:
        feed = service.create_feed(
            session,
            actor=SYSTEM,
            name=name,
            url=url,
            format_name=format_name,
            parsing_rules={},
            source_name="keyed provider",
        )
        return str(feed.source_id)


def set_credential(db: Database, source_id: str, credential: dict | None) -> None:
    with db.transaction() as session:
        sources.set_credential(
            session, actor=SYSTEM, source_id=uuid.UUID(source_id), credential=credential
        )


def leaks(db: Database, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Where the secret shows: log lines, run records, audit rows."""
    found = [r.getMessage() for r in caplog.records if SECRET in r.getMessage()]
    found += [str(r.__dict__) for r in caplog.records if SECRET in str(r.__dict__)]
    with db.transaction(readonly=True) as session:
        for feed, _ in service.list_feeds(session):
            if SECRET in json.dumps(feed.feed_statistics, default=str):
                found.append(f"feed {feed.feed_name} statistics")
        for row in session.scalars(select(AuditLog)):
            if SECRET in json.dumps(
                [row.old_values, row.new_values, row.details, row.metadata_], default=str
            ):
                found.append(f"audit {row.action}")
    return found


@pytest.mark.parametrize("kind", list(CHECKS))
def test_a_feed_is_fetched_with_its_sources_credential(
    db, providers, settings, caplog, kind: str
) -> None:
    credential, check = CHECKS[kind]
    provider = providers(check)
    source_id = add_feed(db, f"{provider.base}/list.txt")
    caplog.set_level(logging.DEBUG)

    refused = run_feed(db, feed="keyed", settings=settings, actor=SYSTEM)
    assert refused["status"] == "failed"
    assert "401" in refused["error"] and "credentials" in refused["error"]

    set_credential(db, source_id, credential)
    accepted = run_feed(db, feed="keyed", settings=settings, actor=SYSTEM)
    assert accepted["status"] == "ok", accepted
    assert accepted["new"] == 2
    assert (len(provider.seen), provider.accepted) == (2, 1)
    assert leaks(db, caplog) == []


def test_a_misp_feed_sends_the_credential_for_its_event_files_too(db, providers, settings, caplog):
    event = shared_data("misp", "pymisp", f"{EVENT_UUID}.json").read_bytes()
    info = json.loads(event).get("Event", json.loads(event))
    manifest = json.dumps(
        {EVENT_UUID: {"info": info["info"], "timestamp": info["timestamp"], "uuid": EVENT_UUID}}
    ).encode()
    credential, check = CHECKS["header"]
    provider = providers(
        check, {"/feed/manifest.json": manifest, f"/feed/{EVENT_UUID}.json": event}
    )
    caplog.set_level(logging.DEBUG)
    source_id = add_feed(db, f"{provider.base}/feed/manifest.json", format_name="misp")
    set_credential(db, source_id, credential)
    result = run_feed(db, feed="keyed", settings=settings, actor=SYSTEM)
    assert result["status"] == "ok", result
    assert result["new"] > 0
    paths = [path for path, _ in provider.seen]
    assert paths == ["/feed/manifest.json", f"/feed/{EVENT_UUID}.json"]
    assert all(headers.get("Auth-Key") == SECRET for _, headers in provider.seen)
    assert leaks(db, caplog) == []


@pytest.mark.parametrize("kind", ["header", "query", "basic"])
def test_a_credential_never_follows_a_redirect_to_another_origin(
    db, providers, settings, kind: str
) -> None:
    credential, check = CHECKS[kind]
    elsewhere = providers(lambda h: True)
    provider = providers(check)
    provider.redirect_to = f"{elsewhere.base}/list.txt"
    source_id = add_feed(db, f"{provider.base}/list.txt")
    set_credential(db, source_id, credential)
    result = run_feed(db, feed="keyed", settings=settings, actor=SYSTEM)
    assert result["status"] == "ok", result
    [(path, headers)] = elsewhere.seen
    assert SECRET not in path
    assert SECRET not in json.dumps(headers)
    assert "Authorization" not in headers and "Auth-Key" not in headers
    # The first hop, to the feed's own origin, did carry it.
    assert provider.accepted == 1


def test_a_stored_config_of_the_old_free_form_fails_the_run_clearly(db, providers, settings):
    provider = providers(lambda h: True)
    source_id = add_feed(db, f"{provider.base}/list.txt")
    with db.transaction() as session:
        # Written straight to the column, as rows from before credentials were checked are.
        session.get(ThreatSource, uuid.UUID(source_id)).authentication_config = {"api_key": "x"}
    result = run_feed(db, feed="keyed", settings=settings, actor=SYSTEM)
    assert result["status"] == "failed"
    assert "authentication_config" in result["error"] and "set it again" in result["error"]
    assert provider.seen == []
    with db.transaction(readonly=True) as session:
        shown = sources.credential_summary(
            session.get(ThreatSource, uuid.UUID(source_id)).authentication_config
        )
    assert shown == {"type": "unrecognised"}


@pytest.mark.parametrize(
    ("config", "field", "reason"),
    [
        ({"api_key": SECRET}, "authentication_config", "type"),
        ({"type": "cookie", "value": SECRET}, "authentication_config", "header, bearer"),
        ({"type": "header", "value": SECRET}, "authentication_config.name", "needs it"),
        (
            {"type": "header", "name": "Auth Key", "value": SECRET},
            "authentication_config.name",
            "pattern",
        ),
        (
            {"type": "header", "name": "Host", "value": SECRET},
            "authentication_config.name",
            "set by the fetcher",
        ),
        (
            {"type": "header", "name": "Auth-Key", "value": SECRET + "\r\nX-Evil: 1"},
            "authentication_config.value",
            "one line",
        ),
        ({"type": "bearer", "token": ""}, "authentication_config.token", "at least 1"),
        (
            {"type": "basic", "username": "a:b", "password": SECRET},
            "authentication_config.username",
            "pattern",
        ),
        (
            {"type": "query", "name": "k", "value": SECRET, "header": "x"},
            "authentication_config.header",
            "it takes: type, name, value",
        ),
    ],
)
def test_a_bad_credential_is_refused_naming_the_field_never_the_secret(
    config: dict, field: str, reason: str
) -> None:
    with pytest.raises(Invalid) as caught:
        sources.check_credential(config)
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert SECRET not in caught.value.detail


def test_the_api_masks_credentials_and_explains_bad_ones(api):
    api.login_as("ana", "analyst")
    bad = api.post(
        "/api/v1/threat-sources",
        json={"name": "Acme", "authentication_config": {"type": "header", "value": SECRET}},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "authentication_config.header.name"
    assert SECRET not in bad.text
    wrong_type = api.post(
        "/api/v1/threat-sources",
        json={"name": "Acme", "authentication_config": {"type": "cookie", "value": SECRET}},
    )
    assert wrong_type.status_code == 422
    assert "header, bearer, basic or query" in wrong_type.text

    feed = api.post(
        "/api/v1/feeds",
        json={
            "template": "threatfox",
            "authentication_config": {"type": "header", "name": "Auth-Key", "value": SECRET},
        },
    )
    assert feed.status_code == 201, feed.text
    assert SECRET not in feed.text
    source = api.get(f"/api/v1/threat-sources/{feed.json()['source_id']}")
    assert source.json()["authentication"]["type"] == "header"
    assert source.json()["authentication"]["name"] == "Auth-Key"
    assert source.json()["authentication"]["value"] == "********"
    assert SECRET not in source.text
    gallery = api.get("/api/v1/feed-templates").json()
    urlhaus = next(t for t in gallery if t["name"] == "urlhaus")
    assert urlhaus["credential"]["name"] == "Auth-Key"
    assert urlhaus["credential"]["types"] == ["header"]
    with api.database.transaction(readonly=True) as session:
        stored = session.get(ThreatSource, uuid.UUID(feed.json()["source_id"]))
        assert stored.authentication_config["value"] == SECRET


def test_a_taxii_template_gets_a_source_per_server(db):
    with db.transaction() as session:
        one = service.add_from_template(
            session,
            actor=SYSTEM,
            template="taxii",
            name="one",
            values={"api_root": "https://taxii.one.example/api1", "collection_id": "a"},
            credential={"type": "bearer", "token": SECRET},
        )
        two = service.add_from_template(
            session,
            actor=SYSTEM,
            template="taxii",
            name="two",
            values={"api_root": "https://taxii.two.example/api1", "collection_id": "a"},
        )
        assert one.source_id != two.source_id
        names = {s.id: s.name for s in session.scalars(select(ThreatSource))}
        assert names[one.source_id] == "TAXII 2.1 server (taxii.one.example)"
        assert session.get(ThreatSource, two.source_id).authentication_config is None
