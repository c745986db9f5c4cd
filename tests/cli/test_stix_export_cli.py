"""``krsn stix export`` on both engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stix2
from stix2validator import ValidationOptions, validate_instance
from typer.testing import CliRunner, Result

from krsn.cli.main import app
from krsn.db import Database
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.models import CollectionIndicator, IocCollection

VALUES = ["198.51.100.23", "evil-cli.example.com", "http://evil-cli.example.com/it's"]


@pytest.fixture
def stocked(cli: Any) -> Database:
    """The command line's database with three indicators, two in a collection."""
    database: Database = cli.database
    with database.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="cli-feed", reliability=60)
    ingest(
        database, rows=[ParsedRow(line=n, value=v) for n, v in enumerate(VALUES, 1)], source=source
    )
    with database.transaction() as session:
        collection = IocCollection(name="Emotet C2", is_public=True, metadata_={"tlp": "green"})
        session.add(collection)
        session.flush()
        for indicator in session.query(ThreatIndicator).filter(
            ThreatIndicator.indicator_value.in_(VALUES[1:])
        ):
            session.add(CollectionIndicator(collection_id=collection.id, indicator_id=indicator.id))
    return database


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["stix", "export", *args])


def valid(path: Path) -> dict[str, Any]:
    bundle = json.loads(path.read_text())
    results = validate_instance(bundle, ValidationOptions(version="2.1"))
    assert results.is_valid and not results.errors, [str(e) for e in results.errors]
    stix2.parse(bundle, allow_custom=False)
    return bundle


def test_a_collection_is_written_as_a_valid_bundle_with_a_summary(
    stocked: Database, tmp_path: Path
):
    path = tmp_path / "emotet.json"
    result = run("--collection", "emotet c2", "-o", str(path))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "IOC collection: Emotet C2" in result.stdout and "indicator" in result.stdout
    bundle = valid(path)
    patterns = sorted(o["pattern"] for o in bundle["objects"] if o["type"] == "indicator")
    assert patterns == [
        "[domain-name:value = 'evil-cli.example.com']",
        "[url:value = 'http://evil-cli.example.com/it\\'s']",
    ]
    assert not list(tmp_path.glob("*.part"))


def test_json_prints_one_summary_object(stocked: Database, tmp_path: Path):
    path = tmp_path / "ips.json"
    result = run("--query", "type=ip", "--observables", "--json", "-o", str(path))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    summary = json.loads(result.stdout)
    assert summary["title"] == "Indicator query: type=ip"
    assert summary["by_type"] == {"identity": 1, "indicator": 1, "ipv4-addr": 1}
    assert summary["output"] == str(path)
    assert valid(path)["id"] == summary["bundle_id"]


def test_a_limit_caps_the_indicators(stocked: Database, tmp_path: Path):
    path = tmp_path / "two.json"
    result = run("--query", "", "--limit", "2", "--json", "-o", str(path))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert json.loads(result.stdout)["by_type"]["indicator"] == 2


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--collection", "Emotet C2", "--actor", "Mummy Spider"],
        ["--collection", "no such collection"],
        ["--query", "colour=red"],
    ],
)
def test_a_wrong_selection_fails_cleanly_and_writes_nothing(
    stocked: Database, tmp_path: Path, args: list[str]
):
    out = tmp_path / "out"
    out.mkdir()
    result = run(*args, "-o", str(out / "bundle.json"))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Error:" in result.stderr and "Traceback" not in result.stderr
    assert list(out.iterdir()) == []
