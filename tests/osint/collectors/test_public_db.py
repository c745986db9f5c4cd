"""public_db: OpenSanctions-style lists and other registers, from a URL or an import folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from collector_support import RECORDINGS, local_client, run

from krsn.errors import Invalid
from krsn.osint.collectors.base import CollectorContext
from krsn.osint.collectors.http import CollectorError
from krsn.osint.collectors.public_db import PublicDbCollector
from krsn.osint.models import EntityType, RelationshipType


def _subjects(records):
    return {r.title: r.entities[0] for r in records}


def test_a_simple_csv_export_maps_people_and_companies_with_sanctions(site) -> None:
    site.serve_file("/targets.simple.csv", "targets.simple.csv")
    result = run(PublicDbCollector(), {"url": f"{site.base}/targets.simple.csv"})
    subjects = _subjects(result.records)
    # The vessel has no entity type: skipped, not guessed.
    assert set(subjects) == {"Ivan Exampleov", "Example Shell Trading LLC", "Maria Witness"}
    ivan = subjects["Ivan Exampleov"]
    assert ivan.entity_type is EntityType.PERSON
    assert ivan.properties["sanctioned"] is True
    assert ivan.properties["datasets"] == ["US OFAC Specially Designated Nationals (SDN) List"]
    assert ivan.properties["aliases"] == ["Ivan Examplov", "I. Exampleov"]
    shell = subjects["Example Shell Trading LLC"]
    assert shell.entity_type is EntityType.ORGANIZATION
    assert len(shell.properties["datasets"]) == 2
    maria = subjects["Maria Witness"]
    assert "sanctioned" not in maria.properties
    kinds = {r.title: r.item_type for r in result.records}
    assert kinds["Maria Witness"] == "registry_entry"
    assert kinds["Ivan Exampleov"] == "sanction_entry"
    shell_record = next(r for r in result.records if r.title == "Example Shell Trading LLC")
    assert {(r.source[1], r.type) for r in shell_record.relations} == {
        ("info@shell-trading.example.com", RelationshipType.ASSOCIATED_WITH),
        ("+971 4 555 0101", RelationshipType.ASSOCIATED_WITH),
    }


def test_tomorrows_export_hashes_alike_when_only_bookkeeping_changed(site) -> None:
    today = (RECORDINGS / "targets.simple.csv").read_text()
    site.serve("/today.csv", today, kind="text/csv")
    site.serve("/tomorrow.csv", today.replace("2024-06-10", "2024-06-11"), kind="text/csv")
    first = run(PublicDbCollector(), {"url": f"{site.base}/today.csv"}).records
    second = run(PublicDbCollector(), {"url": f"{site.base}/tomorrow.csv"}).records
    assert [r.hash_basis for r in first] == [r.hash_basis for r in second]


def test_followthemoney_lines_from_the_import_folder_keep_their_links(tmp_path: Path) -> None:
    shutil.copy(RECORDINGS / "entities.ftm.jsonl", tmp_path / "entities.ftm.jsonl")
    context = CollectorContext(client=local_client(), import_dir=tmp_path)
    result = run(PublicDbCollector(), {"path": "entities.ftm.jsonl"}, context)
    subjects = _subjects([r for r in result.records if r.item_type != "registry_link"])
    olga = subjects["Olga Sampleova"]
    assert olga.properties["sanctioned"] is True
    assert olga.properties["datasets"] == ["eu_fsf", "gb_hmt_sanctions"]
    assert olga.properties["birth_date"] == "1968-11-30"
    assert "sanctioned" not in subjects["Sample Metals JSC"].properties
    link = next(r for r in result.records if r.item_type == "registry_link")
    assert [(r.source[1], r.type, r.target[1]) for r in link.relations] == [
        ("Olga Sampleova", RelationshipType.OWNS, "Sample Metals JSC")
    ]


def test_local_files_are_read_only_inside_the_import_folder(tmp_path: Path) -> None:
    (tmp_path / "inside").mkdir()
    (tmp_path / "secret.csv").write_text("id,name\n1,x\n")
    closed = CollectorContext(client=local_client())
    with pytest.raises(Invalid, match="reading server files is off"):
        run(PublicDbCollector(), {"path": "secret.csv"}, closed)
    fenced = CollectorContext(client=local_client(), import_dir=tmp_path / "inside")
    with pytest.raises(Invalid, match="inside the import folder"):
        run(PublicDbCollector(), {"path": "../secret.csv"}, fenced)


def test_other_lists_are_read_through_a_column_mapping(site) -> None:
    document = {
        "meta": {"count": 2},
        "data": {
            "companies": [
                {"company": {"legal_name": "Acme Widgets GmbH"}, "reg": "HRB 1", "blocked": "yes"},
                {"company": {"legal_name": "Bolt Supplies AG"}, "reg": "HRB 2", "blocked": "no"},
            ]
        },
    }
    site.serve("/register.json", json.dumps(document))
    config = {
        "url": f"{site.base}/register.json",
        "items_path": "data.companies",
        "dataset": "Example register",
        "columns": {
            "id": "reg",
            "name": "company.legal_name",
            "schema": None,
            "sanctioned": "blocked",
        },
    }
    subjects = _subjects(run(PublicDbCollector(), config).records)
    acme = subjects["Acme Widgets GmbH"]
    assert acme.entity_type is EntityType.ORGANIZATION
    assert acme.properties["sanctioned"] is True
    assert acme.properties["datasets"] == ["Example register"]
    assert "sanctioned" not in subjects["Bolt Supplies AG"].properties


def test_a_broken_list_is_a_clear_error(site) -> None:
    site.serve("/broken.jsonl", '{"id": 1, "schema": "Person"}\n{broken\n', kind="text/plain")
    with pytest.raises(CollectorError, match="line 2 is not JSON"):
        run(PublicDbCollector(), {"url": f"{site.base}/broken.jsonl", "format": "jsonl"})
    site.serve("/people.csv", "who,where\nx,y\n", kind="text/csv")
    with pytest.raises(CollectorError, match="no 'name' column"):
        run(PublicDbCollector(), {"url": f"{site.base}/people.csv"})
