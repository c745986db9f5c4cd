"""``krsn stix import`` on both engines, with counts read from the sample bundles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from krsn.feeds.models import ThreatSource
from krsn.sharing.stix.models import StixObject
from support import shared_data


def apt1() -> Path:
    return shared_data("stix", "oasis-docs", "apt1.json")


def test_import_prints_the_summary_as_json_and_stores_every_object(cli) -> None:
    path = apt1()
    objects = json.loads(path.read_bytes())["objects"]
    types = Counter(o["type"] for o in objects)

    summary = cli.json("stix", "import", str(path), "--source", "OASIS examples")

    assert summary["objects"] == len(objects)
    assert {t: c["created"] + c["kept"] for t, c in summary["types"].items()} == dict(types)
    assert summary["source"] == "OASIS examples"
    with cli.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(StixObject)) == len(objects)
        assert session.scalar(select(ThreatSource.name)) == "OASIS examples"
    assert len(cli.audit("stix.import")) == 1


def test_reimport_reports_everything_unchanged(cli) -> None:
    path = apt1()
    cli.json("stix", "import", str(path))

    again = cli.json("stix", "import", str(path))

    assert again["total"]["unchanged"] == again["objects"]
    assert again["total"]["created"] == again["total"]["kept"] == 0


def test_import_shows_a_table_per_type(cli) -> None:
    result = cli.ok("stix", "import", str(apt1()))

    for word in ("threat-actor", "indicator", "relationship", "total", "kept", "rejected"):
        assert word in result.stdout


def test_a_file_that_is_not_json_fails_cleanly(cli, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"type": "bundle", "objects": [')

    result = cli.failed("stix", "import", str(path))

    assert "not JSON" in result.stderr
