"""``krsn indicators``: search, show and lookup after an ingest."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ingested(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))
    feed = tmp_path / "feed.txt"
    # Public addresses: documentation ranges would be stopped by the built-in warninglists.
    feed.write_text("45.155.205.0/24\nevil.example.org\n45.9.148.9\n")
    cli.ok("ingest", str(feed), "--format", "text", "--source", "mine")


def test_search_show_and_lookup(cli, ingested):
    found = cli.json("indicators", "search", "evil")
    assert [i["indicator_value"] for i in found] == ["evil.example.org"]
    shown = cli.json("indicators", "show", "evil[.]example[.]org")
    assert shown["indicator"]["metadata"]["sources"] == {"mine": 25.0}
    assert "why:" in cli.ok("indicators", "show", "evil.example.org").stdout
    hits = cli.json("indicators", "lookup", "45.155.205.77", "45.9.148.10", "nonsense value")
    assert [(h["value"], h["matched"]) for h in hits["matches"]] == [
        ("45.155.205.77", "45.155.205.0/24")
    ]
    assert hits["unreadable"] == ["nonsense value"]
    assert "No indicator" in cli.failed("indicators", "show", "missing.example.net").stderr
