"""``krsn misp`` as a user types it, on both engines, with the shared sample events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pymisp import MISPEvent
from sqlalchemy import select

from krsn.indicators.models import ThreatIndicator
from krsn.sharing.models import ThreatActor
from support import shared_data

EVENT = ("misp", "pymisp", "existing_event.json")


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))


def test_import_a_file_then_export_its_actor_as_an_event(cli, tmp_path: Path):
    path = shared_data(*EVENT)
    event = json.loads(path.read_text())
    summary = cli.json("misp", "import", str(path), "--source", "CIRCL OSINT")
    assert (summary["events"], summary["source"], summary["kind"]) == (1, "CIRCL OSINT", "file")
    count = len(event["Attribute"]) + sum(len(o["Attribute"]) for o in event["Object"])
    assert summary["attributes"] == count
    assert summary["actors_created"] == ["Sofacy"]
    with cli.database.transaction(readonly=True) as session:
        values = set(session.scalars(select(ThreatIndicator.indicator_value)))
        assert session.scalars(select(ThreatActor.actor_name)).all() == ["Sofacy"]
    assert summary["indicators"]["new"] == len(values) > 0
    assert cli.audit("misp.import", "CIRCL OSINT")

    out = tmp_path / "sofacy.json"
    exported = cli.json("misp", "export", "--actor", "sofacy", "-o", str(out))
    assert exported["attributes"] == summary["actor_links"]
    assert 'misp-galaxy:threat-actor="Sofacy"' in exported["tags"]
    misp = MISPEvent()
    misp.load_file(str(out))
    assert {a.value for a in misp.attributes} <= values
    assert str(misp.uuid) == exported["event_uuid"]


def test_import_reports_progress_and_a_table_without_json(cli):
    result = cli.ok("misp", "import", str(shared_data("misp", "pymisp", "sighting_1.json")))
    assert "sightings" in result.stdout and "MISP" in result.stdout


def test_publish_a_query_as_a_feed_and_read_it_back(cli, tmp_path: Path):
    cli.ok("misp", "import", str(shared_data("misp", "pymisp", "long_event.json")))
    feed = tmp_path / "feed"
    published = cli.json("misp", "feed", "publish", str(feed), "--query", "type=hash")
    with cli.database.transaction(readonly=True) as session:
        hashes = set(
            session.scalars(
                select(ThreatIndicator.indicator_value).where(
                    ThreatIndicator.indicator_type == "hash"
                )
            )
        )
    assert published["attributes"] == len(hashes) > 0 and published["feed_events"] == 1
    manifest = json.loads((feed / "manifest.json").read_text())
    assert list(manifest) == [published["event_uuid"]]
    # Our own import reads the folder as a MISP feed and finds nothing new.
    again = cli.json("misp", "import", str(feed), "--source", "MISP")
    assert again["kind"] == "feed" and again["attributes"] == len(hashes)
    assert again["indicators"]["new"] == 0


def said(result: Any) -> str:
    """The error message as one line, however Rich wrapped it."""
    return " ".join(result.stderr.split())


def test_mistakes_are_clear_errors(cli, tmp_path: Path):
    missing = cli.failed("misp", "import", str(tmp_path / "nope.json"))
    assert "not a file, a folder or an http" in said(missing)
    not_misp = tmp_path / "bundle.json"
    not_misp.write_text(json.dumps({"type": "bundle", "objects": []}))
    assert "not MISP event JSON" in said(cli.failed("misp", "import", str(not_misp)))
    none = cli.failed("misp", "export", "-o", str(tmp_path / "x.json"))
    assert "exactly one of" in said(none)
    unknown = cli.failed("misp", "export", "--actor", "Nobody", "-o", str(tmp_path / "x.json"))
    assert "Nobody" in said(unknown)
    assert "--api-key" in said(cli.failed("misp", "import", str(not_misp), "--since", "7d"))


def test_every_command_explains_itself(cli):
    for command in (["import"], ["export"], ["feed", "publish"]):
        result = cli.ok("misp", *command, "--help")
        assert "--json" in result.stdout
