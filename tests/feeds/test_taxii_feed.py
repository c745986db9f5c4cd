"""A TAXII 2.1 collection polled as a feed, from a TAXII server on 127.0.0.1.

The server answers as a TAXII 2.1 server does (envelopes, ``more`` / ``next``, ``added_after``,
the ``X-TAXII-Date-Added-*`` headers, 401 without the bearer token, 406 without the TAXII
media type) with the objects and dates of the reference collection that the OASIS TAXII
server (medallion) ships for its tests, and later a second real STIX bundle.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from krsn.config import Settings
from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds import service, sources
from krsn.feeds.runner import run_feed
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from support import shared_data

SYSTEM = Actor.system()
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
TOKEN = "taxii-token-for-the-test-only"
MEDIA = "application/taxii+json;version=2.1"

FIRST_VALUES = {
    "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c",
    "http://z4z10farb.cn/4712",
    "http://x4z9arb.cn/4712",
}
LATER_VALUES = {"198.51.100.3", "example.com"}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def reference_collection() -> list[tuple[str, dict[str, Any]]]:
    """(date_added, object version) of the reference collection, from its manifest."""
    data = json.loads(shared_data("stix", "taxii", "default_data.json").read_text())
    [collection] = [c for c in data["trustgroup1"]["collections"] if c["id"] == COLLECTION]
    entries = []
    for obj in collection["objects"]:
        version = obj.get("modified", obj.get("created"))
        dates = [
            m["date_added"]
            for m in collection["manifest"]
            if m["id"] == obj["id"] and m["version"] == version
        ]
        entries.append((dates[0], obj))
    return entries


class TaxiiServer:
    """One collection under ``/api1/``; every request's query is kept in ``requests``."""

    def __init__(self, entries: list[tuple[str, dict[str, Any]]]) -> None:
        self.entries = sorted(entries, key=lambda e: _time(e[0]))
        self.requests: list[dict[str, str]] = []
        self.token: str | None = None
        self.give_next = True
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                owner.requests.append(query)
                if parts.path != f"/api1/collections/{COLLECTION}/objects/":
                    return self.answer(404, {"title": "Not found"})
                if owner.token and self.headers.get("Authorization") != f"Bearer {owner.token}":
                    return self.answer(401, {"title": "Unauthorized", "http_status": "401"})
                if "application/taxii+json" not in self.headers.get("Accept", ""):
                    return self.answer(406, {"title": "Not acceptable"})
                after = _time(query["added_after"]) if "added_after" in query else None
                chosen = [e for e in owner.entries if after is None or _time(e[0]) > after]
                start = int(query["next"].removeprefix("p")) if "next" in query else 0
                limit = int(query.get("limit", "100"))
                page = chosen[start : start + limit]
                more = start + limit < len(chosen)
                envelope: dict[str, Any] = {"more": more, "objects": [obj for _, obj in page]}
                if more and owner.give_next:
                    envelope["next"] = f"p{start + limit}"
                if not page:
                    envelope = {}
                headers = {}
                if page:
                    headers["X-TAXII-Date-Added-First"] = page[0][0]
                    headers["X-TAXII-Date-Added-Last"] = page[-1][0]
                return self.answer(200, envelope, headers)

            def answer(self, status: int, body: dict, headers: dict | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", MEDIA)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api_root = f"http://127.0.0.1:{self.server.server_address[1]}/api1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def taxii() -> Iterator[TaxiiServer]:
    server = TaxiiServer(reference_collection())
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", egress_allow_private=True, feed_fetch_retries=0)


def add_taxii_feed(db: Database, server: TaxiiServer, **rules: Any) -> None:
    with db.transaction() as session:
        feed = service.add_from_template(
            session,
            actor=SYSTEM,
            template="taxii",
            values={"api_root": server.api_root, "collection_id": COLLECTION},
        )
        if rules:
            service.update_feed(
                session, actor=SYSTEM, feed=str(feed.id), changes={"parsing_rules": rules}
            )


def stored(db: Database) -> set[str]:
    with db.transaction(readonly=True) as session:
        return set(session.scalars(select(ThreatIndicator.indicator_value)))


def statistics(db: Database) -> dict[str, Any]:
    with db.transaction(readonly=True) as session:
        return dict(service.get_feed(session, "taxii").feed_statistics or {})


def later_entries() -> list[tuple[str, dict[str, Any]]]:
    bundle = json.loads(
        shared_data("stix", "json-schemas-examples", "infrastructure.json").read_text()
    )
    return [(f"2019-03-01T00:00:{n:02d}.000000Z", obj) for n, obj in enumerate(bundle["objects"])]


def test_a_collection_is_read_whole_then_only_what_was_added_since(db, taxii, settings):
    add_taxii_feed(db, taxii)
    first = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert first["status"] == "ok", first
    assert first["taxii"]["objects"] == len(taxii.entries) == 8
    assert first["parsed"] == 4  # the indicators; the malware, marking and relationship add none
    assert stored(db) == FIRST_VALUES
    assert "added_after" not in taxii.requests[0]
    last_added = taxii.entries[-1][0]
    assert statistics(db)["taxii_added_after"] == last_added

    taxii.entries += later_entries()
    taxii.requests.clear()
    second = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert second["status"] == "ok", second
    assert taxii.requests[0]["added_after"] == last_added
    assert second["taxii"]["objects"] == len(later_entries())
    assert (second["parsed"], second["new"]) == (2, 2)
    assert stored(db) == FIRST_VALUES | LATER_VALUES
    assert statistics(db)["taxii_added_after"] == taxii.entries[-1][0]

    taxii.requests.clear()
    third = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert (third["status"], third["parsed"], third["taxii"]["pages"]) == ("ok", 0, 1)
    assert statistics(db)["taxii_added_after"] == taxii.entries[-1][0]


def test_pages_are_followed_with_next(db, taxii, settings):
    add_taxii_feed(db, taxii, limit=3)
    result = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert result["status"] == "ok", result
    assert [r.get("next") for r in taxii.requests] == [None, "p3", "p6"]
    assert all(r["limit"] == "3" for r in taxii.requests)
    assert (result["taxii"]["pages"], result["taxii"]["objects"]) == (3, 8)
    assert stored(db) == FIRST_VALUES
    # Rows are numbered across the pages: errors would point at the object in the poll.
    assert result["rejected"] == 0


def just_before(text: str) -> str:
    return (_time(text) - timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_without_next_pages_are_asked_for_by_date_added(db, taxii, settings):
    taxii.give_next = False
    add_taxii_feed(db, taxii, limit=3)
    result = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert result["status"] == "ok", result
    # Each page starts just before the last date of the one before: objects sharing a
    # date_added across the page boundary (the reference data has two) are not lost.
    asked = [r.get("added_after") for r in taxii.requests]
    assert asked[:3] == [None, just_before(taxii.entries[2][0]), just_before(taxii.entries[4][0])]
    assert len(asked) <= 5
    assert stored(db) == FIRST_VALUES
    assert statistics(db)["taxii_added_after"] == taxii.entries[-1][0]


def test_max_pages_stops_a_run_and_the_next_run_goes_on(db, taxii, settings):
    add_taxii_feed(db, taxii, limit=3, max_pages=2)
    first = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert first["status"] == "ok" and first["taxii"]["more"] is True
    assert first["taxii"]["objects"] == 6
    # Entries 5 and 6 were added at the same instant; the next run must not skip 6.
    assert taxii.entries[5][0] == taxii.entries[6][0]
    second = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert second["taxii"]["added_after"] == just_before(taxii.entries[5][0])
    assert second["taxii"]["objects"] == 3
    assert second["taxii"]["more"] is False
    assert stored(db) == FIRST_VALUES
    assert statistics(db)["taxii_added_after"] == taxii.entries[-1][0]


def test_a_401_is_a_clear_failure_and_the_token_then_works(db, taxii, settings):
    taxii.token = TOKEN
    add_taxii_feed(db, taxii)
    refused = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert refused["status"] == "failed"
    assert "401" in refused["error"] and "credentials" in refused["error"]
    assert "taxii_added_after" not in statistics(db)
    assert statistics(db)["runs"][0]["status"] == "failed"
    assert stored(db) == set()

    with db.transaction(readonly=True) as session:
        source_id = service.get_feed(session, "taxii").source_id
    with db.transaction() as session:
        sources.set_credential(
            session,
            actor=SYSTEM,
            source_id=source_id,
            credential={"type": "bearer", "token": TOKEN},
        )
    accepted = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert accepted["status"] == "ok", accepted
    assert stored(db) == FIRST_VALUES
    assert TOKEN not in json.dumps(statistics(db))


def test_a_page_that_is_not_a_taxii_envelope_fails_the_run(db, taxii, settings):
    taxii.entries = []
    add_taxii_feed(db, taxii)
    with db.transaction() as session:
        service.update_feed(
            session,
            actor=SYSTEM,
            feed="taxii",
            changes={
                "url": taxii.api_root.replace("/api1", "/other") + f"/collections/{COLLECTION}/"
            },
        )
    missing = run_feed(db, feed="taxii", settings=settings, actor=SYSTEM)
    assert missing["status"] == "failed" and "404" in missing["error"]


def test_a_taxii_feed_needs_a_collection_url_and_valid_rules(db):
    with pytest.raises(Invalid, match="collection") as caught, db.transaction() as session:
        service.create_feed(
            session,
            actor=SYSTEM,
            name="root only",
            url="https://taxii.example.org/api1/",
            format_name="taxii",
            parsing_rules={},
            source_name="s",
        )
    assert caught.value.field == "url"
    with pytest.raises(Invalid) as caught, db.transaction() as session:
        service.create_feed(
            session,
            actor=SYSTEM,
            name="bad rules",
            url=f"https://taxii.example.org/api1/collections/{uuid.uuid4()}/",
            format_name="taxii",
            parsing_rules={"limit": 0},
            source_name="s",
        )
    assert caught.value.field == "parsing_rules.limit"
    with db.transaction() as session:
        feed = service.create_feed(
            session,
            actor=SYSTEM,
            name="old style",
            url=f"https://taxii.example.org/api1/collections/{COLLECTION}/objects/",
            format_name="taxii",
            parsing_rules={"added_after": "2020-01-01T00:00:00Z", "tags": ["partner"]},
            source_name="s",
        )
        assert feed.parsing_rules["limit"] == 1000
