"""Feeds over HTTP: the template gallery, CRUD, run now against a local server, history,
the rules preview, permissions and the audit trail."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from krsn.feeds.models import ThreatFeed, ThreatIntelligence
from krsn.identity.models import AuditLog

FEEDS = "/api/v1/feeds"
FEED_BODY = b"# a small list\n198.51.100.10\nhxxp://evil[.]example[.]org/x\nnot an indicator!\n"


def custom(name: str = "local list", **extra) -> dict:
    return {
        "name": name,
        "url": "https://feeds.example.com/list.txt",
        "format": "text",
        "parsing_rules": {"comment_prefix": "#"},
        "source": "Local Provider",
        **extra,
    }


def actions(api) -> list[str]:
    with api.database.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(AuditLog.action)
                .where(AuditLog.resource_type.in_(["threat_feed", "threat_source"]))
                .order_by(AuditLog.created_at)
            )
        )


@pytest.fixture
def feed_server() -> Iterator[str]:
    """A text feed served on 127.0.0.1; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(FEED_BODY)))
            self.end_headers()
            self.wfile.write(FEED_BODY)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/list.txt"
    server.shutdown()
    server.server_close()


def test_the_template_gallery_lists_templates_with_their_parameters(api):
    api.login_as("vera", "viewer")
    response = api.get("/api/v1/feed-templates")
    assert response.status_code == 200
    by_name = {t["name"]: t for t in response.json()}
    assert "feodotracker" in by_name
    assert by_name["feodotracker"]["format"] in {"csv", "text", "json"}
    assert any(t["parameters"] for t in by_name.values())


def test_a_feed_from_a_template_takes_its_provider_and_settings(api):
    api.login_as("ana", "analyst")
    response = api.post(FEEDS, json={"template": "feodotracker"})
    assert response.status_code == 201, response.text
    feed = response.json()
    assert feed["name"] == "feodotracker"
    assert feed["template"] == "feodotracker"
    assert feed["source"] and feed["url"].startswith("https://")
    assert feed["default_confidence"] is not None
    assert feed["last_run"] is None
    renamed = api.post(FEEDS, json={"template": "feodotracker", "name": "feodo second"})
    assert renamed.status_code == 201
    assert renamed.json()["source_id"] == feed["source_id"]


def test_template_mistakes_are_named(api):
    api.login_as("ana", "analyst")
    unknown = api.post(FEEDS, json={"template": "feodotrackr"})
    assert unknown.status_code == 404
    assert "feodotracker" in unknown.json()["detail"]
    bad_param = api.post(FEEDS, json={"template": "feodotracker", "parameters": {"x": "1"}})
    assert bad_param.status_code == 422
    assert bad_param.json()["field"] == "x"
    mixed = api.post(FEEDS, json={"template": "feodotracker", "url": "https://x.example/"})
    assert mixed.status_code == 422
    assert mixed.json()["errors"][0]["field"] == "template.url"


def test_a_custom_feed_round_trips_through_create_read_update_and_delete(api):
    api.login_as("ana", "analyst")
    created = api.post(FEEDS, json=custom(default_confidence=70, update_frequency_minutes=60))
    assert created.status_code == 201, created.text
    feed = created.json()
    assert feed["source"] == "Local Provider"
    assert feed["parsing_rules"]["comment_prefix"] == "#"
    assert feed["default_confidence"] == 70

    listed = api.get(FEEDS).json()
    assert listed["total"] == 1
    assert listed["items"][0]["source"] == "Local Provider"
    assert api.get(f"{FEEDS}/{feed['id']}").json()["name"] == "local list"
    assert api.get(f"{FEEDS}/LOCAL LIST").json()["id"] == feed["id"]

    changed = api.patch(
        f"{FEEDS}/{feed['id']}",
        json={
            "is_active": False,
            "url": "https://feeds.example.com/other.txt",
            "parsing_rules": {"comment_prefix": ";"},
            "update_frequency_minutes": 120,
            "default_confidence": 40,
        },
    )
    assert changed.status_code == 200, changed.text
    shown = changed.json()
    assert shown["is_active"] is False
    assert shown["url"].endswith("other.txt")
    assert shown["parsing_rules"]["comment_prefix"] == ";"
    assert shown["update_frequency_minutes"] == 120
    assert shown["default_confidence"] == 40
    assert api.get(FEEDS, params={"is_active": "true"}).json()["total"] == 0

    assert api.delete(f"{FEEDS}/{feed['id']}").status_code == 204
    assert api.get(f"{FEEDS}/{feed['id']}").status_code == 404
    assert actions(api) == [
        "threat_source.create",
        "threat_feed.create",
        "threat_feed.update",
        "threat_feed.delete",
    ]


def test_feed_changes_are_audited_with_old_and_new_values(api):
    api.login_as("ana", "analyst")
    feed = api.post(FEEDS, json=custom()).json()
    api.patch(f"{FEEDS}/{feed['id']}", json={"update_frequency_minutes": 30})
    with api.database.transaction(readonly=True) as session:
        row = session.scalars(select(AuditLog).where(AuditLog.action == "threat_feed.update")).one()
        assert row.old_values == {"update_frequency_minutes": 1440}
        assert row.new_values == {"update_frequency_minutes": 30}
        assert row.resource_id == feed["id"]


def test_bad_parsing_rules_are_422_naming_the_rule(api):
    api.login_as("ana", "analyst")
    response = api.post(FEEDS, json=custom(parsing_rules={"regex": "(no value group)"}))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "parsing_rules.regex"
    feed = api.post(FEEDS, json=custom()).json()
    patched = api.patch(f"{FEEDS}/{feed['id']}", json={"parsing_rules": {"regex": "(("}})
    assert patched.status_code == 422
    assert patched.json()["field"] == "parsing_rules.regex"


def test_an_unknown_format_is_422_listing_the_known_ones(api):
    api.login_as("ana", "analyst")
    response = api.post(FEEDS, json=custom(format="yaml"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "custom.format"
    assert "'csv'" in response.json()["detail"]


def test_a_custom_feed_without_its_address_is_422(api):
    api.login_as("ana", "analyst")
    body = custom()
    del body["url"]
    response = api.post(FEEDS, json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "custom.url"
    assert api.post(FEEDS, json=custom(url="ftp://example.com/x")).status_code == 422
    unusable = api.post(FEEDS, json=custom(url="http://\u00daR\u009bJ/x"))
    assert unusable.status_code == 422
    assert unusable.json()["field"] == "url"


def test_a_duplicate_feed_name_is_a_conflict(api):
    api.login_as("ana", "analyst")
    assert api.post(FEEDS, json=custom("twin")).status_code == 201
    response = api.post(FEEDS, json=custom("TWIN"))
    assert response.status_code == 409
    assert response.json()["field"] == "name"


def test_a_viewer_reads_feeds_and_previews_but_cannot_change_or_run_them(api):
    writer = api.fresh()
    writer.login_as("ana", "analyst")
    feed = writer.post(FEEDS, json=custom()).json()
    writer.close()
    api.login_as("vera", "viewer")
    assert api.get(FEEDS).status_code == 200
    assert api.get(f"{FEEDS}/{feed['id']}").status_code == 200
    assert api.get(f"{FEEDS}/{feed['id']}/runs").status_code == 200
    preview = api.post(f"{FEEDS}/{feed['id']}/preview", json={"sample": "198.51.100.1\n"})
    assert preview.status_code == 200
    assert api.post(FEEDS, json=custom("mine")).status_code == 403
    assert api.patch(f"{FEEDS}/{feed['id']}", json={"is_active": False}).status_code == 403
    assert api.delete(f"{FEEDS}/{feed['id']}").status_code == 403
    assert api.post(f"{FEEDS}/{feed['id']}/run").status_code == 403


def test_a_plain_user_cannot_manage_feeds(api):
    api.login_as("uma", "user")
    assert api.post(FEEDS, json=custom()).status_code == 403


def test_run_now_ingests_from_a_local_server_and_records_the_run(api, live_server, feed_server):
    live_server.use(api.database, egress_allow_private=True, feed_fetch_retries=0)
    api.login_as("ana", "analyst")
    feed = api.post(FEEDS, json=custom(url=feed_server)).json()

    response = api.post(f"{FEEDS}/{feed['id']}/run")
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "ok"
    assert run["parsed"] == 3
    assert run["new"] == 2
    assert run["rejected"] == 1
    assert run["errors"][0]["line"] == 4

    again = api.post(f"{FEEDS}/local list/run").json()
    assert again["status"] == "ok" and again["new"] == 0

    history = api.get(f"{FEEDS}/{feed['id']}/runs").json()
    assert [r["run_id"] for r in history["runs"]] == [again["run_id"], run["run_id"]]
    shown = api.get(f"{FEEDS}/{feed['id']}").json()
    assert shown["last_run"]["run_id"] == again["run_id"]
    assert shown["last_successful_update"] is not None
    with api.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(ThreatIntelligence)) == 2
    assert actions(api).count("threat_feed.run") == 2


def test_a_failed_run_is_still_a_200_whose_record_says_why(api, live_server):
    # Private addresses stay refused: the run fails at the egress check.
    api.login_as("ana", "analyst")
    feed = api.post(FEEDS, json=custom(url="http://127.0.0.1:9/list.txt")).json()
    response = api.post(f"{FEEDS}/{feed['id']}/run")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "failed"
    assert response.json()["error"]
    assert api.get(f"{FEEDS}/{feed['id']}/runs").json()["runs"][0]["status"] == "failed"


def test_running_an_unknown_feed_is_404(api):
    api.login_as("ana", "analyst")
    assert api.post(f"{FEEDS}/no-such-feed/run").status_code == 404


def test_the_preview_shows_canonical_values_and_rejections_without_storing(api):
    api.login_as("ana", "analyst")
    feed = api.post(FEEDS, json=custom()).json()
    sample = "# header\n198.51.100.7\nhxxps://bad[.]example[.]com/path\n999.1.1.1 oops\n"
    response = api.post(f"{FEEDS}/{feed['id']}/preview", json={"sample": sample})
    assert response.status_code == 200, response.text
    body = response.json()
    rows = {r["line"]: r for r in body["rows"]}
    assert rows[2]["canonical"] == "198.51.100.7" and rows[2]["kind"] == "ipv4"
    assert rows[3]["kind"] == "url"
    assert rows[3]["canonical"].startswith("https://bad.example.com")
    assert rows[4]["rejected"] and rows[4]["canonical"] is None
    assert body["accepted"] == 2 and body["rejected"] == 1 and body["truncated"] is False
    with api.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(ThreatIntelligence)) == 0


def test_the_preview_tries_other_rules_and_names_bad_ones(api):
    api.login_as("ana", "analyst")
    feed = api.post(FEEDS, json=custom()).json()
    rules = {"regex": r"^ip=(?P<value>\S+)", "skip_unmatched": True}
    tried = api.post(
        f"{FEEDS}/{feed['id']}/preview",
        json={"sample": "ip=198.51.100.9\nnoise\n", "parsing_rules": rules},
    ).json()
    assert [r["canonical"] for r in tried["rows"]] == ["198.51.100.9"]
    bad = api.post(
        f"{FEEDS}/{feed['id']}/preview", json={"sample": "x", "parsing_rules": {"regex": "(("}}
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "parsing_rules.regex"


def test_a_new_feed_is_previewed_before_it_exists(api):
    api.login_as("vic", "viewer")
    rules = {"header": True, "columns": {"value": "dst_ip"}}
    sample = "first_seen,dst_ip\n2026-11-01,198.51.100.10\n2026-11-01,not an ip\n"
    response = api.post(
        "/api/v1/feed-preview", json={"format": "csv", "sample": sample, "parsing_rules": rules}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["canonical"] for r in body["rows"]] == ["198.51.100.10", None]
    assert body["accepted"] == 1 and body["rejected"] == 1
    bad = api.post(
        "/api/v1/feed-preview",
        json={"format": "text", "sample": "x", "parsing_rules": {"regex": "(("}},
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "parsing_rules.regex"
    with api.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(ThreatFeed)) == 0
