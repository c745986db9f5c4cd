"""``krsn indicators edit`` and ``krsn indicators expire``: audited analyst edits, ageing."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ingested(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))
    feed = tmp_path / "feed.txt"
    feed.write_text("malware-gate.xyz\n45.9.148.9\n")
    cli.ok("ingest", str(feed), "--format", "text", "--source", "mine")


def test_an_analyst_edits_an_indicator_from_the_command_line(cli, ingested):
    edited = cli.json(
        "indicators",
        "edit",
        "malware-gate[.]xyz",
        "--false-positive",
        "--tag",
        "reviewed",
        "--confidence",
        "90",
    )
    indicator = edited["indicator"]
    assert indicator["is_active"] is False
    assert indicator["metadata"]["analyst"]["tags"] == ["reviewed"]
    assert indicator["metadata"]["analyst"]["false_positive"]["via"] == "cli"
    assert indicator["confidence_score"] == 90.0
    assert [r["status"] for r in edited["intelligence"]] == ["false_positive"]
    (row,) = cli.audit("indicator.update", indicator["id"])
    assert row.old_values["is_active"] is True and row.new_values["is_active"] is False

    shown = cli.ok(
        "indicators",
        "edit",
        "malware-gate.xyz",
        "--not-false-positive",
        "--untag",
        "reviewed",
        "--clear-confidence",
    ).stdout
    assert "active" in shown and "false positive" not in shown
    assert len(cli.audit("indicator.update", indicator["id"])) == 2

    assert "Nothing to change" in cli.failed("indicators", "edit", "malware-gate.xyz").stderr
    both = cli.failed(
        "indicators", "edit", "malware-gate.xyz", "--confidence", "5", "--clear-confidence"
    )
    assert "not both" in both.stderr
    assert "status" in cli.failed("indicators", "edit", "malware-gate.xyz", "--status", "x").stderr
    assert (
        "No indicator"
        in cli.failed("indicators", "edit", "missing.example.net", "--tag", "x").stderr
    )


def test_expire_reports_how_many_went_inactive(cli, ingested):
    assert cli.json("indicators", "expire") == {"expired": 0}
    assert "0 indicator(s) expired" in cli.ok("indicators", "expire").stdout
