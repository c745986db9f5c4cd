"""``krsn warninglists``: import MISP lists (annotating unless told to suppress), list, check."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import shared_data


@pytest.fixture
def misp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))
    return shared_data("misp-warninglists", "lists")


def test_imported_lists_annotate_unless_told_to_suppress(cli, misp: Path, tmp_path: Path):
    before = cli.json("warninglists", "list")
    assert {r["origin"] for r in before} == {"built-in"}
    assert {r["mode"] for r in before} == {"suppress"}

    imported = cli.json("warninglists", "import", str(misp / "public-dns-v4"))
    assert imported["mode"] == "annotate" and len(imported["imported"]) == 1
    suppressing = cli.json("warninglists", "import", str(misp / "rfc1918"), "--mode", "suppress")
    assert suppressing["mode"] == "suppress"
    folder = tmp_path / "var" / "warninglists"
    assert (folder / "public-dns-v4.mode").read_text().strip() == "annotate"

    rows = {r["name"]: r for r in cli.json("warninglists", "list")}
    dns = rows[imported["imported"][0]]
    assert (dns["mode"], dns["origin"], dns["file"]) == (
        "annotate",
        "imported",
        "public-dns-v4.json",
    )
    assert dns["type"] == "cidr" and dns["entries"] > 10
    assert rows[suppressing["imported"][0]]["mode"] == "suppress"
    assert "public-dns-v4.json" in cli.ok("warninglists", "list").stdout

    # 8.8.8.8 is only annotated; a private address is stopped by the built-in list and the
    # imported RFC 1918 one, each naming the entry.
    google = cli.json("warninglists", "check", "8[.]8[.]8[.]8")
    assert google["canonical"] == "8.8.8.8" and google["kind"] == "ipv4"
    assert google["suppressed_by"] == []
    assert [a["list"] for a in google["annotations"]] == [dns["name"]]
    private = cli.json("warninglists", "check", "10.1.2.3")
    assert [h["list"] for h in private["suppressed_by"]] == [
        "krsn-special-ipv4",
        suppressing["imported"][0],
    ]
    assert private["suppressed_by"][0]["entry"] == "10.0.0.0/8"
    assert "stopped by krsn-special-ipv4" in cli.ok("warninglists", "check", "10.1.2.3").stdout
    assert "on no warninglist" in cli.ok("warninglists", "check", "45.9.148.9").stdout

    # A list imported again in the other mode changes mode.
    cli.ok("warninglists", "import", str(misp / "public-dns-v4"), "--mode", "suppress")
    again = cli.json("warninglists", "check", "8.8.8.8")
    assert [h["list"] for h in again["suppressed_by"]] == [dns["name"]]


def test_what_ingestion_stops_follows_the_mode(cli, misp: Path, tmp_path: Path):
    cli.ok("warninglists", "import", str(misp / "public-dns-v4"))
    feed = tmp_path / "feed.txt"
    feed.write_text("8.8.8.8\n")
    cli.ok("ingest", str(feed), "--format", "text", "--source", "mine")
    assert cli.json("indicators", "show", "8.8.8.8")["indicator"]["is_active"] is True


def test_bad_input_fails_cleanly(cli, misp: Path, tmp_path: Path):
    assert "not an indicator" in cli.failed("warninglists", "check", "not a value").stderr
    assert cli.failed("warninglists", "import", str(tmp_path / "missing")).stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.json").write_text('{"name": "bad", "version": 1}')
    assert "description: missing" in cli.failed("warninglists", "import", str(broken)).stderr
    assert cli("warninglists", "import", str(misp / "rfc1918"), "--mode", "loud").exit_code != 0
