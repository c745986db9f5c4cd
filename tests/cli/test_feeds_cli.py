"""``krsn feeds``: the gallery, adding from a template, listing, showing and running."""

from __future__ import annotations

import json
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


KEY = "abuse-ch-key-that-must-never-show-42"


@pytest.fixture
def keyed_feed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A URL list on 127.0.0.1 that answers 401 without ``Auth-Key: KEY``."""
    body = b"http://malware.example.net/drop.exe\n"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Auth-Key") != KEY:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("KRSN_EGRESS_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("KRSN_FEED_FETCH_RETRIES", "0")
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))
    yield f"http://127.0.0.1:{server.server_address[1]}/text_online/"
    server.shutdown()


def point_at(cli, feed: str, url: str) -> None:
    from krsn.feeds import service
    from krsn.identity.audit import Actor

    with cli.database.transaction() as session:
        service.update_feed(session, actor=Actor.system(), feed=feed, changes={"url": url})


def test_add_stores_the_auth_key_on_the_source_and_runs_with_it(cli, keyed_feed):
    added = cli.ok("feeds", "add", "--template", "urlhaus-text", "--auth-key", KEY, "--json")
    assert KEY not in added.stdout
    shown = json.loads(added.stdout)
    assert shown["credential"] == {"type": "header", "name": "Auth-Key", "value": "********"}
    point_at(cli, "urlhaus-text", keyed_feed)
    result = cli.json("feeds", "run", "urlhaus-text")
    assert (result["status"], result["new"]) == ("ok", 1)
    for command in (("feeds", "show", "urlhaus-text"), ("feeds", "list")):
        assert KEY not in cli.ok(*command).stdout
        assert KEY not in cli.ok(*command, "--json").stdout
    assert "header (Auth-Key)" in cli.ok("feeds", "show", "urlhaus-text").stdout
    assert all(KEY not in str(row.details) for row in cli.audit("threat_source.update"))


def test_a_feed_without_its_key_fails_with_401(cli, keyed_feed):
    cli.ok("feeds", "add", "--template", "urlhaus-text")
    point_at(cli, "urlhaus-text", keyed_feed)
    failed = cli.failed("feeds", "run", "urlhaus-text")
    assert "401" in failed.stdout and "credentials" in failed.stdout


def test_the_auth_key_can_come_from_standard_input(cli, keyed_feed):
    from krsn.cli.main import app

    result = cli.runner.invoke(
        app, ["feeds", "add", "--template", "threatfox", "--auth-key", "-", "--json"], input=KEY
    )
    assert result.exit_code == 0, result.stderr
    assert KEY not in result.stdout
    assert json.loads(result.stdout)["credential"]["name"] == "Auth-Key"
    # The key is the provider's: another abuse.ch feed added later uses it too.
    cli.ok("feeds", "add", "--template", "urlhaus-text")
    point_at(cli, "urlhaus-text", keyed_feed)
    assert cli.json("feeds", "run", "urlhaus-text")["status"] == "ok"


def test_credential_options_are_checked(cli):
    assert (
        "takes no credential"
        in cli.failed("feeds", "add", "--template", "spamhaus-drop", "--auth-key", KEY).stderr
    )
    assert (
        "go with --auth-key"
        in cli.failed("feeds", "add", "--template", "urlhaus", "--username", "me").stderr
    )
    assert cli.json("feeds", "list") == []


def test_schedule_runs_what_is_due_once_and_summarises(cli, local_feed, monkeypatch):
    monkeypatch.setenv("KRSN_FEED_FETCH_RETRIES", "0")
    from krsn.feeds import service
    from krsn.identity.audit import Actor

    with cli.database.transaction() as session:
        for name, url in (("good", local_feed), ("gone", "http://127.0.0.1:1/nothing.txt")):
            service.create_feed(
                session,
                actor=Actor.system(),
                name=name,
                url=url,
                format_name="text",
                parsing_rules={},
                source_name="me",
            )
    failed = cli.failed("feeds", "schedule", "--json")
    summary = json.loads(failed.stdout)
    assert (summary["due"], summary["ran"], summary["failed"]) == (2, 2, 1)
    assert {run["feed"]: run["status"] for run in summary["runs"]} == {
        "good": "ok",
        "gone": "failed",
    }
    assert cli.json("feeds", "schedule") == {
        "due": 0,
        "ran": 0,
        "failed": 0,
        "skipped": [],
        "runs": [],
    }
    assert "No feed is due" in cli.ok("feeds", "schedule").stdout
