"""``krsn correlations``: discover after a real MISP import, list, show, verify, unverify and
annotate, with the audit rows they leave."""

from __future__ import annotations

from pathlib import Path

import pytest

from krsn.cli.correlations import since_of
from krsn.db.types import utcnow
from support import shared_data


@pytest.fixture
def imported(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))
    event = shared_data("misp", "pymisp", "existing_event.json")
    result = cli.json("misp", "import", str(event), "--reliability", "80")
    # The import correlates what it stored, as a feed run does.
    assert result["correlations"]["created"] > 0


def test_discover_list_show_verify_and_annotate(cli, imported):
    report = cli.json("correlations", "discover")
    assert report["scope"] == "all"
    assert report["found"]["ip_domain"] > 0 and report["found"]["hash_ip"] > 0
    # Found again by the full run, unchanged since the import discovered them.
    assert sum(report["created"].values()) == 0
    assert report["unchanged"]["ip_domain"] == report["found"]["ip_domain"]
    assert len(cli.audit("threat_correlation.discover")) == 2

    listed = cli.json("correlations", "list", "--type", "ip_domain", "--limit", "500")
    assert listed["total"] == report["found"]["ip_domain"] == len(listed["items"])
    strongest = max(listed["items"], key=lambda item: item["correlation_score"])
    assert strongest["primary_indicator"]["type"] == "domain"
    assert strongest["related_indicator"]["type"] == "ip"
    assert "object" in {e["kind"] for e in strongest["correlation_data"]["evidence"]}

    domain = strongest["primary_indicator"]["value"]
    around = cli.json("correlations", "list", "--indicator", domain, "--min-score", "50")
    assert strongest["id"] in {item["id"] for item in around["items"]}
    assert all(item["correlation_score"] >= 50 for item in around["items"])

    target = strongest["id"]
    shown = cli.json("correlations", "show", target)
    assert shown["id"] == target and shown["is_verified"] is False
    text = cli.ok("correlations", "show", target).stdout
    assert domain in text and "object" in text

    verified = cli.json("correlations", "verify", target, "--notes", "same C2 in our logs")
    assert verified["is_verified"] is True
    assert verified["analyst_notes"] == "same C2 in our logs"
    assert [i["id"] for i in cli.json("correlations", "list", "--verified")["items"]] == [target]
    assert cli.json("correlations", "unverify", target)["is_verified"] is False
    annotated = cli.json("correlations", "annotate", target, "checked twice")
    assert annotated["analyst_notes"] == "checked twice"
    changes = [(r.old_values, r.new_values) for r in cli.audit("threat_correlation.update", target)]
    assert changes == [
        (
            {"is_verified": False, "analyst_notes": None},
            {"is_verified": True, "analyst_notes": "same C2 in our logs"},
        ),
        ({"is_verified": True}, {"is_verified": False}),
        ({"analyst_notes": "same C2 in our logs"}, {"analyst_notes": "checked twice"}),
    ]

    again = cli.json("correlations", "discover", "--since", "7d")
    assert again["scope"] == "since" and again["unchanged"]["ip_domain"] > 0
    assert cli.json("correlations", "show", target)["analyst_notes"] == "checked twice"
    table = cli.ok("correlations", "discover").stdout
    assert "ip_domain" in table and "unchanged" in table


def test_mistakes_fail_with_a_message(cli, imported):
    assert "not a correlation id" in cli.failed("correlations", "show", "nope").stderr
    missing = "00000000-0000-0000-0000-000000000000"
    assert "No correlation" in cli.failed("correlations", "verify", missing).stderr
    assert "--since" in cli.failed("correlations", "discover", "--since", "last tuesday").stderr
    assert (
        "No indicator"
        in cli.failed("correlations", "list", "--indicator", "never-seen.example.com").stderr
    )


def test_since_reads_durations_and_times():
    now = utcnow()
    assert (now - since_of("7d", now=now)).days == 7
    assert (now - since_of("90m", now=now)).total_seconds() == 5400
    assert since_of("2024-05-01", now=now).isoformat() == "2024-05-01T00:00:00+00:00"
    assert since_of("2024-05-01T12:00:00+02:00", now=now).hour == 10
