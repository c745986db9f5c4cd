"""``krsn ingest`` on saved copies of real feeds, read exactly as their templates read them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from krsn.feeds.templates import get_template
from krsn.indicators.models import ThreatIndicator
from support import shared_data


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))


def data_lines(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_feodo_tracker_copy_ingests_with_first_seen_and_family(cli):
    feed = shared_data("feeds", "abusech-feodo", "ipblocklist.csv")
    rows = data_lines(feed)[1:]  # the header row names the columns
    first = cli.json("ingest", str(feed), "--template", "feodotracker")
    assert first["parsed"] == len(rows)
    assert first["rejected"] == 0
    assert first["new"] == len({row.split(",")[1] for row in rows})
    first_ip = rows[0].split(",")[1].strip('"')
    first_seen = rows[0].split(",")[0].strip('"')
    family = rows[0].split(",")[-1].strip('"')
    with cli.database.transaction(readonly=True) as session:
        indicator = session.scalar(
            select(ThreatIndicator).where(ThreatIndicator.indicator_value == first_ip)
        )
        assert indicator is not None
        assert indicator.first_seen_at is not None
        assert indicator.first_seen_at.strftime("%Y-%m-%d %H:%M:%S") == first_seen
        meta = indicator.metadata_ or {}
        assert meta["malware_families"] == [family]
        template = get_template("feodotracker")
        expected = template.source_reliability * template.default_confidence / 100
        # A saved copy is credited to the template's provider, as the live feed would be.
        assert meta["sources"] == {template.provider: expected}
        assert indicator.threat_score is not None and indicator.severity is not None


def test_ingesting_the_same_copy_again_creates_nothing_new(cli):
    feed = shared_data("feeds", "threatfox-ips", "ips.txt")
    values = data_lines(feed)
    first = cli.json("ingest", str(feed), "--template", "threatfox-ips")
    assert first["parsed"] == len(values)
    assert first["new"] == len(set(values)) - first["rejected"]
    again = cli.json("ingest", str(feed), "--template", "threatfox-ips")
    assert again["new"] == 0
    # Everything is reported again: all updated, and nothing needed writing but last seen.
    assert again["updated"] == first["new"]
    assert 0 < again["unchanged"] <= again["updated"]


def test_a_table_summary_and_progress_for_people(cli):
    feed = shared_data("feeds", "abusech-feodo", "ipblocklist.csv")
    shown = cli.ok("ingest", str(feed), "--template", "feodotracker")
    assert "parsed" in shown.stdout and "suppressed" in shown.stdout


def test_bad_invocations_fail_clearly(cli, tmp_path: Path):
    feed = tmp_path / "feed.txt"
    feed.write_text("198.51.100.1\n")
    assert "exactly one" in cli.failed("ingest", str(feed)).stderr
    assert (
        "exactly one"
        in cli.failed("ingest", str(feed), "--template", "ipsum", "--format", "text").stderr
    )
    assert "unknown format" in cli.failed("ingest", str(feed), "--format", "yaml").stderr
    assert "No feed template" in cli.failed("ingest", str(feed), "--template", "nope").stderr
    rules = tmp_path / "rules.json"
    rules.write_text("[1, 2]")
    assert (
        "JSON object"
        in cli.failed("ingest", str(feed), "--format", "text", "--rules", str(rules)).stderr
    )


def test_a_plain_text_file_with_a_bad_line_reports_it(cli, tmp_path: Path):
    feed = tmp_path / "feed.txt"
    feed.write_text("# my list\n198.51.100.7\nnot-an-indicator\nhxxp://evil[.]example[.]org/x\n")
    summary = cli.json("ingest", str(feed), "--format", "text", "--source", "mine")
    assert (summary["parsed"], summary["new"], summary["rejected"]) == (3, 2, 1)
    assert summary["errors"][0]["line"] == 3
    assert summary["source"] == "mine"
