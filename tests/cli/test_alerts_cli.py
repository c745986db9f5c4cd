"""``krsn sightings post`` and ``krsn alerts``: from a file of observables to a closed alert,
on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from detection_support import seed_indicators


def test_posting_a_file_raises_alerts_that_are_triaged_from_the_command_line(
    cli: Any, tmp_path: Path
) -> None:
    seed_indicators(cli.database, ["evil.example.org", "198.51.100.0/24"])
    sightings = tmp_path / "seen.ndjson"
    sightings.write_bytes(
        b"\n".join(
            orjson.dumps(item)
            for item in [
                {"value": "evil[.]example[.]org", "host": "ws-1"},
                {"value": "198.51.100.20", "host": "ws-2", "log_source": "proxy"},
                {"value": "clean.example.net"},
                {"value": "???"},
            ]
        )
    )
    report = cli.json("sightings", "post", str(sightings))
    assert report["received"] == 4
    assert report["matched"] == 2
    assert report["alerts_created"] == 2
    assert report["unreadable"] == 1
    assert report["problems"][0]["index"] == 3

    listed = cli.json("alerts", "list", "--active")
    assert len(listed) == 2
    by_value = {alert["indicator_value"]: alert for alert in listed}
    assert set(by_value) == {"evil.example.org", "198.51.100.0/24"}
    alert_id = by_value["evil.example.org"]["id"]

    cli.ok("users", "create", "ana", "--email", "ana@example.org", "--role", "analyst")
    acked = cli.json("alerts", "ack", alert_id, "--as", "ana")
    assert acked["status"] == "investigating"
    assert acked["assigned_username"] == "ana"

    closed = cli.json("alerts", "resolve", alert_id, "--notes", "sinkholed")
    assert closed["status"] == "resolved"
    assert closed["resolution_notes"] == "sinkholed"
    assert cli.audit("alert.update", alert_id)

    shown = cli.ok("alerts", "show", alert_id).stdout
    assert "sinkholed" in shown and "evil.example.org" in shown
    assert len(cli.json("alerts", "list", "--active")) == 1
    assert len(cli.json("sightings", "list", "--host", "ws-2")) == 1


def test_plain_text_and_csv_files_are_read_and_bad_ids_fail_cleanly(
    cli: Any, tmp_path: Path
) -> None:
    seed_indicators(cli.database, ["evil.example.org"])
    text = tmp_path / "seen.txt"
    text.write_text("# proxy log\nevil.example.org\n\nclean.example.net\n")
    assert cli.json("sightings", "post", str(text))["matched"] == 1
    table = tmp_path / "seen.csv"
    table.write_text("value,host\nevil.example.org,ws-9\n")
    assert cli.json("sightings", "post", str(table))["alerts_updated"] == 1
    alert = cli.json("alerts", "list")[0]
    assert alert["occurrence_count"] == 2
    cli.failed("alerts", "show", "not-an-id")
    cli.failed("alerts", "assign", alert["id"], "nobody-by-that-name")
    cli.failed("alerts", "resolve", alert["id"], "--mark-indicator")
