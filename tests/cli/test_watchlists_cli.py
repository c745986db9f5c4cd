"""``krsn watchlists``: lists and items from the command line, files and collections
imported, values checked, expired items purged; each with ``--json`` for scripts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from krsn.db.types import utcnow
from krsn.detection.models import WatchlistItem
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.sharing import collections


def test_a_list_is_created_shown_changed_and_deleted(cli):
    created = cli.json("watchlists", "create", "C2", "--type", "ip_blacklist", "--description", "x")
    assert (created["name"], created["list_type"], created["item_count"]) == (
        "C2",
        "ip_blacklist",
        0,
    )
    assert cli.json("watchlists", "show", "c2")["id"] == created["id"]
    assert [row["name"] for row in cli.json("watchlists", "list")] == ["C2"]
    assert cli.json("watchlists", "list", "--type", "custom") == []

    changed = cli.json("watchlists", "update", "C2", "--name", "C2 servers", "--inactive")
    assert (changed["name"], changed["is_active"]) == ("C2 servers", False)
    assert "nothing to change" in cli.failed("watchlists", "update", "C2 servers").stderr

    cli.ok("watchlists", "add", "C2 servers", "192.0.2.1")
    refused = cli.failed("watchlists", "delete", "C2 servers")
    assert "--yes" in refused.stderr
    assert cli.json("watchlists", "delete", "C2 servers", "--yes")["name"] == "C2 servers"
    assert "No watchlist named" in cli.failed("watchlists", "show", "C2 servers").stderr
    for action in ("create", "update", "add_items", "delete"):
        assert len(cli.audit(f"watchlist.{action}", created["id"])) == 1, action


def test_values_are_added_listed_checked_and_removed(cli):
    cli.ok("watchlists", "create", "domains", "--type", "domain_blacklist")
    added = cli.json(
        "watchlists", "add", "domains", "evil[.]com", "hxxp://bad.example.net/x", "192.0.2.1",
        "--notes", "from the report", "--expires-in", "30d",
    )  # fmt: skip
    assert (added["added"], added["rejected"], added["item_count"]) == (2, 1, 2)
    assert "takes domains" in added["rejections"][0]["reason"]

    listed = cli.json("watchlists", "items", "domains")
    assert listed["total"] == 2
    assert [i["item_value"] for i in listed["items"]] == ["evil.com", "http://bad.example.net/x"]
    assert all(i["notes"] == "from the report" and i["expires_at"] for i in listed["items"])
    assert cli.json("watchlists", "items", "domains", "hxxp://bad")["total"] == 1
    assert "evil.com" in cli.ok("watchlists", "items", "domains").stdout

    checked = cli.json("watchlists", "check", "https://a.evil.com/login")
    assert [(h["watchlist_name"], h["item"]["item_value"]) for h in checked["hits"]] == [
        ("domains", "evil.com")
    ]
    assert "domains (domain_blacklist, alert)" in cli.ok("watchlists", "check", "evil.com").stdout
    assert "unrecognised value" in cli.failed("watchlists", "check", "no such thing").stderr

    removed = cli.json("watchlists", "remove", "domains", "evil.com", "other.org")
    assert (removed["removed"], removed["not_found"], removed["item_count"]) == (
        1,
        ["other.org"],
        1,
    )
    assert cli.json("watchlists", "check", "a.evil.com")["hits"] == []
    assert len(cli.audit("watchlist.remove_items")) == 1


def test_bad_expiry_options_are_refused_before_anything_is_written(cli):
    cli.ok("watchlists", "create", "ips", "--type", "ip_blacklist")
    assert (
        "past"
        in cli.failed("watchlists", "add", "ips", "192.0.2.1", "--expires", "2001-01-01").stderr
    )
    assert (
        "duration"
        in cli.failed("watchlists", "add", "ips", "192.0.2.1", "--expires-in", "soon").stderr
    )
    assert cli.json("watchlists", "show", "ips")["item_count"] == 0


def test_a_file_is_imported_as_text_or_csv_with_bad_lines_reported(cli, tmp_path):
    cli.ok("watchlists", "create", "ips", "--type", "ip_blacklist")
    text = tmp_path / "c2.txt"
    text.write_text("# C2 servers\n192.0.2.1\n\nnot-an-ip\n198.51.100.0/24 # range\n")
    imported = cli.json("watchlists", "import", "ips", str(text))
    assert (imported["added"], imported["rejected"], imported["item_count"]) == (2, 1, 2)
    assert imported["rejections"][0]["line"] == 4

    table = tmp_path / "ips.csv"
    table.write_text("first_seen,address\n2024-05-01,203.0.113.5\n2024-05-02\n")
    imported = cli.json("watchlists", "import", "ips", str(table), "--column", "Address")
    assert (imported["added"], imported["rejected"], imported["item_count"]) == (1, 1, 3)
    shown = cli.ok("watchlists", "import", "ips", str(table), "--column", "address")
    assert "1 unchanged, 1 rejected" in shown.stdout
    assert "line 3" in shown.stdout

    assert (
        "no column named"
        in cli.failed("watchlists", "import", "ips", str(table), "--column", "ip").stderr
    )
    assert (
        "not both"
        in cli.failed("watchlists", "import", "ips", str(text), "--collection", "x").stderr
    )
    assert len(cli.audit("watchlist.import_items")) == 3


def test_a_collection_is_imported_by_name(cli):
    values = ["192.0.2.10", "198.51.100.0/24", "loader.example.net"]
    with cli.database.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="seed", reliability=90)
    ingest(
        cli.database,
        source=source,
        default_confidence=80,
        rows=[ParsedRow(line=i + 1, value=v) for i, v in enumerate(values)],
    )
    with cli.database.transaction() as session:
        row = collections.create_collection(
            session, actor=Actor.system(), values={"name": "Loader wave"}
        )
        collections.add_indicators(
            session, actor=Actor.system(), collection_id=row.id, indicators=values, see_all=True
        )
    cli.ok("watchlists", "create", "ips", "--type", "ip_blacklist")
    imported = cli.json("watchlists", "import", "ips", "--collection", "loader wave")
    assert (imported["added"], imported["rejected"], imported["item_count"]) == (2, 1, 2)
    assert imported["rejections"][0]["value"] == "loader.example.net"
    assert (
        "No IOC collection"
        in cli.failed("watchlists", "import", "ips", "--collection", "nope").stderr
    )


def test_purge_deletes_expired_items(cli):
    cli.ok("watchlists", "create", "ips", "--type", "ip_blacklist")
    cli.ok("watchlists", "add", "ips", "192.0.2.1", "192.0.2.2", "--expires-in", "1h")
    cli.ok("watchlists", "add", "ips", "192.0.2.3")
    assert cli.json("watchlists", "purge") == {"purged": 0}
    with cli.database.transaction() as session:
        session.execute(
            update(WatchlistItem)
            .where(WatchlistItem.item_value == "192.0.2.1")
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    live = cli.json("watchlists", "items", "ips", "--active-only")
    assert [i["item_value"] for i in live["items"]] == ["192.0.2.2", "192.0.2.3"]
    assert cli.json("watchlists", "purge") == {"purged": 1}
    assert cli.json("watchlists", "show", "ips")["item_count"] == 2
    assert len(cli.audit("watchlist.purge_expired")) == 1
