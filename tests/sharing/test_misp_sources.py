"""Where MISP events come from: feed folders, feed URLs and an instance's REST API, served by a
real HTTP server on 127.0.0.1 from the shared sample events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_misp_samples import CIRCL_EVENT, attributes, document, event_of

from krsn.config import Settings
from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds.egress import EgressRefused
from krsn.feeds.fetch import FetchError
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.sharing.misp.documents import open_events
from krsn.sharing.misp.events import MispImportSummary, import_document

API_KEY = "kXqv0nV2e9Uu8oQn6cJ6mR3p1bT7yW4sZ5aD8fG0"
SAMPLES = [
    ("pymisp", CIRCL_EVENT),
    ("pymisp", "existing_event.json"),
    ("pymisp", "galaxy_1.json"),
    ("pymisp", "sighting_1.json"),
    ("pymisp", "mainly_objects_1.json"),
]


def events() -> list[dict[str, Any]]:
    """The sample events, each as ``{"Event": …}`` whatever its file's wrapping."""
    return [{"Event": event_of(document(*parts))} for parts in SAMPLES]


def manifest(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        e["Event"]["uuid"]: {"info": e["Event"]["info"], "timestamp": e["Event"]["timestamp"]}
        for e in bodies
    }


@dataclass
class Server:
    url: str
    requests: list[tuple[str, str, dict[str, Any] | None, str | None]] = field(default_factory=list)


@pytest.fixture
def misp() -> Iterator[Server]:
    """A MISP instance: a feed under /feed/ and /events/restSearch behind an API key."""
    bodies = events()
    files = {f"/feed/{e['Event']['uuid']}.json": e for e in bodies}
    files["/feed/manifest.json"] = manifest(bodies)
    server_state = Server("")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            server_state.requests.append(("GET", self.path, None, None))
            if self.path in files:
                self._send(200, files[self.path])
            else:
                self._send(404, {"message": "Not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers.get("Authorization")
            server_state.requests.append(("POST", self.path, body, key))
            if self.path != "/events/restSearch":
                self._send(404, {"message": "Not found"})
            elif key != API_KEY:
                self._send(403, {"message": "Authentication failed."})
            else:
                start = (body["page"] - 1) * body["limit"]
                self._send(200, {"response": bodies[start : start + body["limit"]]})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server_state
    server.shutdown()
    server.server_close()


def settings(tmp_path: Path, *, allow_private: bool = True) -> Settings:
    return Settings(
        data_dir=tmp_path / "var", egress_allow_private=allow_private, feed_fetch_retries=0
    )


def read_all(documents: Any) -> list[Any]:
    return [d.content for d in documents]


def test_the_api_is_searched_page_by_page_with_the_key(misp: Server, tmp_path: Path):
    documents = open_events(
        misp.url, settings=settings(tmp_path), api_key=API_KEY, page_size=2, filters={"tags": "x"}
    )
    pages = read_all(documents)
    assert documents.kind == "api" and documents.total is None
    got = [e["Event"]["uuid"] for page in pages for e in page["response"]]
    assert got == [e["Event"]["uuid"] for e in events()]
    posts = [r for r in misp.requests if r[0] == "POST"]
    # Five events in pages of two: the third page is short, so it is the last.
    assert [(p[2]["page"], p[2]["limit"]) for p in posts] == [(1, 2), (2, 2), (3, 2)]
    assert {p[3] for p in posts} == {API_KEY}
    assert {p[1] for p in posts} == {"/events/restSearch"}
    assert all(p[2]["returnFormat"] == "json" and p[2]["tags"] == "x" for p in posts)


def test_a_wrong_api_key_is_a_clear_error(misp: Server, tmp_path: Path):
    documents = open_events(misp.url, settings=settings(tmp_path), api_key="wrong")
    with pytest.raises(FetchError, match=r"403.*check the API key"):
        read_all(documents)


def test_a_private_address_is_refused_unless_allowed(misp: Server, tmp_path: Path):
    closed = settings(tmp_path, allow_private=False)
    with pytest.raises(EgressRefused):
        read_all(open_events(misp.url, settings=closed, api_key=API_KEY))
    with pytest.raises(EgressRefused):
        open_events(misp.url + "/feed/manifest.json", settings=closed)
    assert misp.requests == []


def test_a_feed_url_reads_every_event_its_manifest_lists(misp: Server, tmp_path: Path):
    documents = open_events(misp.url + "/feed/", settings=settings(tmp_path))
    assert (documents.kind, documents.total) == ("feed", len(SAMPLES))
    got = [event_of(d)["uuid"] for d in read_all(documents)]
    assert got == list(manifest(events()))


def test_a_feed_folder_and_a_folder_of_files_are_read(tmp_path: Path):
    folder = tmp_path / "feed"
    folder.mkdir()
    bodies = events()
    for body in bodies:
        (folder / f"{body['Event']['uuid']}.json").write_text(json.dumps(body))
    plain = read_all(open_events(folder, settings=settings(tmp_path)))
    assert len(plain) == len(bodies)
    (folder / "manifest.json").write_text(json.dumps(manifest(bodies[:2])))
    feed = open_events(folder, settings=settings(tmp_path))
    assert (feed.kind, feed.total) == ("feed", 2)
    assert [event_of(d)["uuid"] for d in read_all(feed)] == list(manifest(bodies[:2]))
    by_manifest = open_events(folder / "manifest.json", settings=settings(tmp_path))
    assert by_manifest.kind == "feed"


def test_an_unknown_target_is_refused(tmp_path: Path):
    with pytest.raises(Invalid, match="not a file, a folder or an http"):
        open_events(tmp_path / "missing.json", settings=settings(tmp_path))
    with pytest.raises(Invalid, match="API key goes with"):
        open_events(tmp_path, settings=settings(tmp_path), api_key=API_KEY)


def test_an_api_import_stores_what_the_events_hold(db: Database, misp: Server, tmp_path: Path):
    summary = MispImportSummary(source="MISP")
    documents = open_events(misp.url, settings=settings(tmp_path), api_key=API_KEY, page_size=2)
    for doc in documents:
        with db.transaction() as session:
            ref = ensure_source(session, actor=Actor.system(), name="MISP")
            import_document(
                session, document=doc.content, source=ref, actor=Actor.system(), summary=summary
            )
    bodies = events()
    assert summary.events == len(bodies)
    assert summary.attributes == sum(len(attributes(b["Event"])) for b in bodies)
    assert summary.actors_created  # the samples carry threat-actor galaxies
    assert summary.indicators.new > 0
