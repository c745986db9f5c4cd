"""Uploading a file to a feed over HTTP: read with the feed's format and rules, credited to
its provider, recorded in its run history like a run; unreadable files are a 422 that the
history shows too, with any rows stored before the fault named."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from krsn.feeds.models import ThreatFeed, ThreatIntelligence
from krsn.identity.models import AuditLog
from krsn.indicators.models import ThreatIndicator

FEEDS = "/api/v1/feeds"
CSV = (
    "# exported from a sandbox\n"
    "indicator,kind,tags\n"
    "c2.upload-test.net,domain,botnet\n"
    "hxxp://drop.upload-test.net/stage2,url,loader\n"
    "45.9.148.10,ip,botnet\n"
    "not an indicator at all,,\n"
)


def csv_feed(api: Any, name: str = "sandbox exports", **rules: Any) -> dict[str, Any]:
    """A CSV feed whose header names the columns, from the provider "Sandbox Provider"."""
    body = {
        "name": name,
        "url": "https://feeds.example.com/sandbox.csv",
        "format": "csv",
        "parsing_rules": {
            "header": True,
            "columns": {"value": "indicator", "kind": "kind", "tags": "tags"},
            **rules,
        },
        "source": "Sandbox Provider",
    }
    response = api.post(FEEDS, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def upload(api: Any, feed: str, content: str | bytes, name: str = "iocs.csv") -> Any:
    data = content.encode() if isinstance(content, str) else content
    return api.post(f"{FEEDS}/{feed}/upload", files={"file": (name, data, "text/csv")})


def schedule_of(api: Any, feed_id: str) -> Any:
    with api.database.transaction(readonly=True) as session:
        row = session.get(ThreatFeed, uuid.UUID(feed_id))
        return row.next_scheduled_update, row.last_successful_update


def test_an_uploaded_csv_is_ingested_as_a_run_of_the_feed(api: Any) -> None:
    api.login_as("ana", "analyst")
    feed = csv_feed(api)
    before = schedule_of(api, feed["id"])

    response = upload(api, feed["id"], CSV)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "ok"
    assert (run["parsed"], run["new"], run["rejected"]) == (4, 3, 1)
    assert run["errors"][0]["line"] == 6
    assert run["trigger"] == "upload"
    assert run["file"] == "iocs.csv"
    assert run["uploaded_bytes"] == len(CSV.encode())
    assert run["correlations"]["indicators"] == 3

    history = api.get(f"{FEEDS}/{feed['id']}/runs").json()["runs"]
    assert history[0] == run
    assert api.get(f"{FEEDS}/{feed['id']}").json()["last_run"]["run_id"] == run["run_id"]
    # An upload is not a download: the schedule and the last download stay as they were.
    assert schedule_of(api, feed["id"]) == before

    with api.database.transaction(readonly=True) as session:
        records = session.execute(
            select(ThreatIntelligence.source_id, ThreatIntelligence.feed_id, func.count())
            .where(ThreatIntelligence.correlation_id == run["run_id"])
            .group_by(ThreatIntelligence.source_id, ThreatIntelligence.feed_id)
        ).all()
        assert [(str(s), str(f), n) for s, f, n in records] == [(feed["source_id"], feed["id"], 3)]
        stored = set(session.scalars(select(ThreatIndicator.indicator_value)))
        assert stored == {"c2.upload-test.net", "http://drop.upload-test.net/stage2", "45.9.148.10"}
        audited = session.scalars(
            select(AuditLog).where(AuditLog.action == "threat_feed.upload")
        ).one()
        assert audited.details["file"] == "iocs.csv"
        assert audited.details["run_id"] == run["run_id"]


def test_the_same_file_again_adds_a_run_but_no_duplicates(api: Any) -> None:
    api.login_as("ana", "analyst")
    feed = csv_feed(api)
    first = upload(api, "sandbox exports", CSV).json()
    again = upload(api, "SANDBOX EXPORTS", CSV, name="iocs-again.csv").json()
    assert again["status"] == "ok"
    assert (again["new"], again["updated"]) == (0, 3)
    runs = api.get(f"{FEEDS}/{feed['id']}/runs").json()["runs"]
    assert [r["run_id"] for r in runs] == [again["run_id"], first["run_id"]]
    with api.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(ThreatIndicator)) == 3


def test_a_file_the_format_cannot_read_is_a_422_the_history_shows(api: Any) -> None:
    api.login_as("ana", "analyst")
    feed = csv_feed(api)
    response = upload(api, feed["id"], '{"indicators": ["c2.upload-test.net"]}', "iocs.json")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "file"
    assert "JSON" in problem["detail"]
    assert problem["run"]["status"] == "failed"
    history = api.get(f"{FEEDS}/{feed['id']}/runs").json()["runs"]
    assert history[0]["run_id"] == problem["run"]["run_id"]
    assert history[0]["status"] == "failed" and "JSON" in history[0]["error"]
    assert history[0]["file"] == "iocs.json"


def test_a_header_without_the_named_column_is_a_422_naming_it(api: Any) -> None:
    api.login_as("ana", "analyst")
    feed = csv_feed(api)
    response = upload(api, feed["id"], "value,type\nc2.upload-test.net,domain\n")
    assert response.status_code == 422
    assert "is not in the header ['value', 'type']" in response.json()["detail"]


def test_rows_stored_before_an_unreadable_part_are_named_not_lost(
    api: Any, live_server: Any
) -> None:
    live_server.use(api.database, ingest_batch_rows=100)
    api.login_as("ana", "analyst")
    # The reader looks at the first 8 KiB before it yields a row: the limit lies past them.
    feed = csv_feed(api, max_bytes=12_000)
    lines = [f"host{i:03}.upload-test.net,domain,bulk" for i in range(500)]
    content = "indicator,kind,tags\n" + "\n".join(lines) + "\n"
    assert len(content) > 12_000

    response = upload(api, feed["id"], content)
    assert response.status_code == 422
    run = response.json()["run"]
    with api.database.transaction(readonly=True) as session:
        kept = session.scalar(select(func.count()).select_from(ThreatIndicator))
    assert kept == run["parsed"] >= 100
    assert "max_bytes" in run["error"]
    assert f"the {kept:,} rows read before it were ingested and are kept" in run["error"]
    assert api.get(f"{FEEDS}/{feed['id']}/runs").json()["runs"][0] == run


def test_a_file_over_the_body_limit_is_a_413(api: Any, live_server: Any) -> None:
    live_server.use(api.database, max_body_bytes=2048)
    api.login_as("ana", "analyst")
    feed = csv_feed(api)
    response = upload(api, feed["id"], "indicator\n" + "c2.upload-test.net\n" * 500)
    assert response.status_code == 413
    assert api.get(f"{FEEDS}/{feed['id']}/runs").json()["runs"] == []


def test_an_upload_without_a_file_is_a_422(api: Any) -> None:
    api.login_as("ana", "analyst")
    feed = csv_feed(api)
    response = api.post(f"{FEEDS}/{feed['id']}/upload", files={"other": ("x.csv", b"1")})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


def test_uploading_needs_write_access_to_intelligence(api: Any) -> None:
    writer = api.fresh()
    writer.login_as("ana", "analyst")
    feed = csv_feed(writer)
    writer.close()
    for name, role in [("vera", "viewer"), ("uma", "user")]:
        client = api.fresh()
        client.login_as(name, role)
        assert upload(client, feed["id"], CSV).status_code == 403
        client.close()
    assert upload(api.fresh(), feed["id"], CSV).status_code == 401


def test_uploading_to_an_unknown_feed_is_404(api: Any) -> None:
    api.login_as("ana", "analyst")
    assert upload(api, "no-such-feed", CSV).status_code == 404
