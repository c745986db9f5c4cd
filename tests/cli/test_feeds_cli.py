"""``krsn feeds``: the gallery, adding from a template, listing, showing and running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from krsn.feeds.templates import list_templates


@pytest.fixture
def local_feed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    body = b"203.0.113.5\n203.0.113.6\n"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("KRSN_EGRESS_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))
    yield f"http://127.0.0.1:{server.server_address[1]}/list.txt"
    server.shutdown()


def test_the_gallery_lists_every_template(cli):
    shown = cli.json("feeds", "templates")
    assert {t["name"] for t in shown} == {t.name for t in list_templates()}
    assert "urlhaus" in cli.ok("feeds", "templates").stdout


def test_add_list_show_and_refuse_duplicates(cli):
    added = cli.json("feeds", "add", "--template", "feodotracker")
    assert added["format"] == "csv" and added["template"] == "feodotracker"
    listed = cli.json("feeds", "list")
    assert [f["name"] for f in listed] == ["feodotracker"]
    assert listed[0]["source"] == "abuse.ch"
    shown = cli.json("feeds", "show", "feodotracker")
    assert shown["parsing_rules"]["header"] is True and shown["runs"] == []
    assert "exists" in cli.failed("feeds", "add", "--template", "feodotracker").stderr
    assert "No feed template" in cli.failed("feeds", "add", "--template", "nope").stderr
    assert "No feed called" in cli.failed("feeds", "show", "missing").stderr


def test_run_a_feed_from_a_local_server(cli, local_feed):
    from krsn.feeds import service
    from krsn.identity.audit import Actor

    with cli.database.transaction() as session:
        service.create_feed(
            session,
            actor=Actor.system(),
            name="mine",
            url=local_feed,
            format_name="text",
            parsing_rules={},
            source_name="me",
        )
    result = cli.json("feeds", "run", "mine")
    assert (result["status"], result["new"]) == ("ok", 2)
    assert cli.json("feeds", "show", "mine")["runs"][0]["new"] == 2
    assert cli.json("feeds", "run") == []  # nothing is due any more
