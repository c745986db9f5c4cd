"""``krsn rules``: create, show, list, change, switch, delete and test correlation rules from
the command line, audited as the command line."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from krsn.db.types import utcnow
from krsn.detection.models import CorrelationRule, Sighting
from krsn.indicators.normalise import Indicator, normalise
from krsn.indicators.store import Report, upsert_indicators

C2 = json.dumps(
    {
        "condition": {
            "all": [
                {"field": "origin", "op": "eq", "value": "sighting"},
                {"field": "indicator.tags", "op": "contains", "value": "c2"},
            ]
        },
        "severity": "high",
    }
)


def test_a_rule_is_created_shown_and_listed(cli):
    created = cli.json(
        "rules",
        "create",
        "c2 inside",
        "--type",
        "pattern",
        "--definition",
        C2,
        "--window",
        "60",
        "--parameters",
        '{"playbook": "isolate"}',
    )
    assert created["is_active"] is True
    assert created["time_window_minutes"] == 60
    assert created["parameters"] == {"playbook": "isolate"}
    (entry,) = cli.audit("correlation_rule.create", created["id"])
    assert entry.new_values["name"] == "c2 inside"

    assert cli.json("rules", "show", "C2 INSIDE")["id"] == created["id"]
    assert cli.json("rules", "show", created["id"])["rule_definition"] == json.loads(C2)
    assert [r["name"] for r in cli.json("rules", "list")] == ["c2 inside"]
    assert cli.json("rules", "list", "--type", "threshold") == []
    table = cli.ok("rules", "list").stdout
    assert "c2 inside" in table and "pattern" in table


def test_a_rule_from_a_file_is_switched_on_changed_and_deleted(cli, tmp_path):
    path = tmp_path / "burst.json"
    path.write_text(json.dumps({"group_by": ["host"], "count": 5}), encoding="utf-8")
    rule = cli.json(
        "rules",
        "create",
        "burst",
        "--type",
        "threshold",
        "--file",
        str(path),
        "--window",
        "10",
        "--confidence-threshold",
        "60",
        "--inactive",
    )
    assert (rule["is_active"], rule["confidence_threshold"]) == (False, 60.0)
    assert cli.json("rules", "list", "--inactive")[0]["name"] == "burst"

    assert cli.json("rules", "enable", "burst")["is_active"] is True
    assert "Disabled rule 'burst': inactive." in cli.ok("rules", "disable", "burst").stdout
    changed = cli.json("rules", "update", "burst", "--window", "30", "--name", "slow burst")
    assert (changed["name"], changed["time_window_minutes"]) == ("slow burst", 30)
    updates = cli.audit("correlation_rule.update", rule["id"])
    assert [u.new_values for u in updates] == [
        {"is_active": True},
        {"is_active": False},
        {"name": "slow burst", "time_window_minutes": 30},
    ]

    cli.ok("rules", "delete", "slow burst")
    assert cli.json("rules", "list") == []
    assert cli.audit("correlation_rule.delete", rule["id"])


def test_a_faulty_rule_fails_with_the_path_and_saves_nothing(cli):
    bad = json.dumps({"condition": {"any": [{"field": "host", "op": "near", "value": "x"}]}})
    result = cli.failed("rules", "create", "bad", "--type", "pattern", "--definition", bad)
    assert "rule_definition.condition.any.0.op" in result.stderr
    result = cli.failed("rules", "create", "bad", "--type", "pattern", "--definition", "{nope")
    assert "--definition: not JSON" in result.stderr
    result = cli.failed(
        "rules", "create", "bad", "--type", "threshold", "--definition", '{"count": 2}'
    )
    assert "time_window_minutes" in result.stderr
    assert "No correlation rule 'ghost'" in cli.failed("rules", "show", "ghost").stderr
    with cli.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(CorrelationRule)) == 0


def seed(cli, ages_in_minutes: list[int]) -> None:
    now = utcnow()
    reading = normalise("45.9.148.9")
    assert isinstance(reading, Indicator)
    with cli.database.transaction() as session:
        result = upsert_indicators(
            session,
            reports=[Report(indicator=reading, seen_at=now, confidence=80, tags=("c2",))],
            source="seed",
            now=now - timedelta(days=30),
        )
        for age in ages_in_minutes:
            session.add(
                Sighting(
                    value="45.9.148.9",
                    matched="45.9.148.9",
                    indicator_id=result.ids[reading.signature],
                    observed_at=now - timedelta(minutes=age),
                    host="web-01",
                )
            )


def test_rules_test_replays_the_last_week_without_switching_the_rule_on(cli):
    seed(cli, [60 * 24 * 8, 60 * 24 * 3, 60 * 5, 30])
    rule = cli.json("rules", "create", "c2", "--type", "pattern", "--definition", C2, "--inactive")
    report = cli.json("rules", "test", "c2", "--since", "7d")
    assert (report["events_scanned"], report["firings"], report["capped"]) == (3, 3, False)
    assert report["rule_id"] == rule["id"]
    assert [s["severity"] for s in report["samples"]] == ["high"] * 3
    assert cli.json("rules", "show", "c2")["is_active"] is False

    recent = cli.json("rules", "test", "c2", "--since", "12h", "--limit", "1")
    assert (recent["events_total"], recent["events_scanned"], recent["capped"]) == (2, 1, True)

    text = cli.ok("rules", "test", "c2", "--since", "7d").stdout
    assert "3 firing(s) over 1 key(s) in 3 event(s)" in text
    assert "First firings:" in text

    assert "--since" in cli.failed("rules", "test", "c2", "--since", "a while").stderr
