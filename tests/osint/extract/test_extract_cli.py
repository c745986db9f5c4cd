"""``krsn extract FILE``: what extraction finds, as a table or JSON, without storing it."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def test_extract_prints_findings_of_an_html_file_as_json(cli):
    rows = cli.json("extract", str(FIXTURES / "report.html"), "--no-ner")
    assert {(r["entity_type"], r["canonical"]) for r in rows} == {
        ("domain", "update-check.info"),
        ("ip_address", "203.0.113.77"),
        ("hash", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        ("cve", "CVE-2023-23397"),
    }
    assert set(rows[0]) == {
        "entity_type", "canonical", "value", "start", "end", "confidence", "method", "subtype"
    }  # fmt: skip


def test_extract_reads_an_eml_and_filters_by_type(cli):
    rows = cli.json("extract", str(FIXTURES / "phishing.eml"), "--type", "email", "--type", "phone")
    assert [(r["entity_type"], r["canonical"]) for r in rows] == [
        ("email", "billing@secure-invoices.example.co.uk"),
        ("email", "victim@acme-corp.com"),
        ("email", "jane.doe@acme-corp.com"),
        ("phone", "+442079460958"),
    ]


def test_extract_reads_stdin_and_prints_a_table(cli):
    result = cli.ok(
        "extract", "-", "--no-ner", input="beacon to hxxp://evil[.]example[.]com/gate\n"
    )
    assert "url" in result.stdout and "0.95" in result.stdout
    assert "1 found" in result.stdout


def test_extract_stores_nothing(cli):
    from sqlalchemy import func, select

    from krsn.osint.models import Entity

    cli.ok("extract", str(FIXTURES / "report.html"))
    with cli.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Entity)) == 0


def test_extract_fails_cleanly_on_a_missing_or_unreadable_file(cli, tmp_path):
    result = cli.failed("extract", str(tmp_path / "nope.txt"))
    assert "no such file" in result.stderr
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n garbage")
    assert "PDF" in cli.failed("extract", str(broken)).stderr
