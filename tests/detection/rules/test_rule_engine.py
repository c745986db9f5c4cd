"""The rule engine on real databases: each rule type firing on ingest and sighting
observations, windows read back from ``rule_matches``, ML scores from stored predictions and
from registered scorers, and the rule cache following changes made by another process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select

from krsn.db import Database
from krsn.detection.models import (
    AlertPriority,
    AlertSeverity,
    CorrelationRule,
    RuleMatch,
)
from krsn.detection.observations import Firing, Observation, Origin
from krsn.detection.rules import engine, service
from krsn.identity.audit import Actor
from krsn.indicators.lookup import LookupIndicator, lookup
from krsn.indicators.models import IndicatorType, Severity
from krsn.indicators.normalise import Indicator, normalise
from krsn.indicators.store import Report, upsert_indicators
from krsn.ml.models import MLModel, MLPrediction

T = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T + timedelta(minutes=n)


def add_rule(
    db: Database,
    name: str,
    rule_type: str,
    definition: dict[str, Any],
    **fields: Any,
) -> uuid.UUID:
    values = {"name": name, "rule_type": rule_type, "rule_definition": definition, **fields}
    with db.transaction() as session:
        return service.create_rule(session, actor=Actor.system(), values=values).id


def stored(db: Database, *values: str, tags: tuple[str, ...] = ()) -> dict[str, LookupIndicator]:
    """Indicators stored for these values, as a lookup finds them."""
    reports = []
    for value in values:
        reading = normalise(value)
        assert isinstance(reading, Indicator)
        reports.append(Report(indicator=reading, seen_at=T, confidence=80, tags=tags))
    with db.transaction() as session:
        upsert_indicators(session, reports=reports, source="test feed", now=T)
    with db.transaction(readonly=True) as session:
        hits, _ = lookup(session, values=list(values))
    return {hit.value: hit.indicator for hit in hits}


def made_up(value: str = "45.9.148.9", **fields: Any) -> LookupIndicator:
    """An indicator that only exists in memory (for rules that write nothing)."""
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "indicator_value": value,
        "indicator_type": IndicatorType.IP,
        "severity": Severity.HIGH,
        "confidence_score": 80.0,
        "threat_score": 70.0,
        "decayed_threat_score": 70.0,
        "first_seen_at": T,
        "last_seen_at": T,
        "tags": ("c2",),
        "malware_families": (),
    }
    values.update(fields)
    return LookupIndicator(**values)


def seen(
    value: str,
    at: datetime = T,
    indicator: LookupIndicator | None = None,
    *,
    origin: Origin = Origin.SIGHTING,
    **fields: Any,
) -> Observation:
    reading = normalise(value)
    kind, canonical = (
        (reading.kind.value, reading.value) if isinstance(reading, Indicator) else ("?", value)
    )
    return Observation(
        origin=origin,
        value=value,
        kind=kind,
        canonical=canonical,
        observed_at=at,
        indicator=indicator,
        **fields,
    )


def evaluate(db: Database, observations: list[Observation], now: datetime = T) -> list[Firing]:
    with db.transaction() as session:
        return engine.evaluate(session, observations, now=now)


def fired(db: Database, observations: list[Observation], now: datetime = T) -> list[str]:
    return sorted(f"{f.rule_name}:{f.observation.value}" for f in evaluate(db, observations, now))


def match_rows(db: Database, rule_id: uuid.UUID) -> int:
    with db.transaction(readonly=True) as session:
        return session.scalar(
            select(func.count()).select_from(RuleMatch).where(RuleMatch.rule_id == rule_id)
        )


# --- pattern ------------------------------------------------------------------------------


def test_a_pattern_rule_fires_on_the_sightings_and_ingests_it_describes(db):
    c2_seen = add_rule(
        db,
        "c2 seen inside",
        "pattern",
        {
            "condition": {
                "all": [
                    {"field": "origin", "op": "eq", "value": "sighting"},
                    {"field": "indicator.tags", "op": "contains", "value": "c2"},
                ]
            }
        },
        parameters={"playbook": "isolate-host"},
        time_window_minutes=60,
    )
    add_rule(
        db,
        "abuse reports",
        "pattern",
        {
            "condition": {"field": "source", "op": "eq", "value": "abuse.ch"},
            "severity": "low",
            "title": "{source} reported {value} ({indicator.type})",
        },
    )
    indicator = made_up()
    firings = evaluate(
        db,
        [
            seen("45.9.148.9", indicator=indicator, host="web-01"),
            seen("45.9.148.9", indicator=indicator, origin=Origin.INGEST, source="abuse.ch"),
            seen("45.9.148.9", indicator=made_up(tags=("phishing",)), host="web-02"),
        ],
    )
    assert [(f.rule_name, f.observation.origin) for f in firings] == [
        ("abuse reports", Origin.INGEST),
        ("c2 seen inside", Origin.SIGHTING),
    ]
    reported, inside = firings
    assert inside.rule_id == c2_seen
    assert inside.key == f"{c2_seen}:{indicator.id}"
    assert inside.severity is AlertSeverity.HIGH  # the indicator's
    assert inside.priority is AlertPriority.HIGH
    assert inside.title == "c2 seen inside: 45.9.148.9"
    assert inside.window_minutes == 60
    assert inside.evidence["parameters"] == {"playbook": "isolate-host"}
    assert reported.severity is AlertSeverity.LOW  # the rule's
    assert reported.title == "abuse.ch reported 45.9.148.9 (ip)"
    assert reported.window_minutes is None


def test_without_an_indicator_the_key_is_the_canonical_value_and_severity_medium(db):
    rule_id = add_rule(db, "watched", "pattern", {"condition": {"field": "host", "op": "exists"}})
    (firing,) = evaluate(db, [seen("HXXP://Evil[.]example.org/x", host="h")])
    assert firing.key == f"{rule_id}:http://evil.example.org/x"
    assert firing.severity is AlertSeverity.MEDIUM
    assert firing.priority is AlertPriority.NORMAL


def test_an_inactive_rule_never_fires(db):
    add_rule(
        db, "off", "pattern", {"condition": {"field": "host", "op": "exists"}}, is_active=False
    )
    assert evaluate(db, [seen("1.2.3.4", host="h")]) == []


def test_confidence_threshold_counts_only_confident_indicators(db):
    add_rule(
        db,
        "confident",
        "pattern",
        {"condition": {"field": "kind", "op": "eq", "value": "ipv4"}},
        confidence_threshold=70,
    )
    assert fired(
        db,
        [
            seen("10.0.0.1", indicator=made_up("10.0.0.1", confidence_score=70.0)),
            seen("10.0.0.2", indicator=made_up("10.0.0.2", confidence_score=69.99)),
            seen("10.0.0.3", indicator=made_up("10.0.0.3", confidence_score=None)),
            seen("10.0.0.4"),
        ],
    ) == ["confident:10.0.0.1"]


# --- threshold ----------------------------------------------------------------------------


def test_a_threshold_fires_when_the_nth_event_falls_within_the_window(db):
    found = stored(db, "45.9.148.9", "45.9.148.10")
    rule_id = add_rule(
        db,
        "beaconing",
        "threshold",
        {
            "condition": {"field": "origin", "op": "eq", "value": "sighting"},
            "group_by": ["host"],
            "count": 3,
        },
        time_window_minutes=10,
    )
    a, b = found["45.9.148.9"], found["45.9.148.10"]
    # Two events, then a third 11 minutes after the first: the first has left the window.
    assert fired(db, [seen("45.9.148.9", minutes(0), a, host="web")], minutes(0)) == []
    assert fired(db, [seen("45.9.148.9", minutes(2), a, host="web")], minutes(2)) == []
    assert fired(db, [seen("45.9.148.10", minutes(11), b, host="web")], minutes(11)) == []
    # Another host does not add to this one's count.
    assert fired(db, [seen("45.9.148.9", minutes(11.5), a, host="db")], minutes(11.5)) == []
    # The third event within ten minutes fires, and only it.
    firings = evaluate(db, [seen("45.9.148.9", minutes(12), a, host="web")], minutes(12))
    assert [(f.observation.observed_at, f.evidence["count"]) for f in firings] == [(minutes(12), 3)]
    (firing,) = firings
    assert firing.key == f"{rule_id}:web"
    assert firing.title == "beaconing: 3 events for web"
    assert firing.evidence["group"] == {"host": "web"}
    assert firing.window_minutes == 10
    # A fourth while the count stays at N or more does not fire again.
    assert fired(db, [seen("45.9.148.9", minutes(12), a, host="web")], minutes(12)) == []
    assert match_rows(db, rule_id) == 6


def test_a_threshold_reached_within_one_batch_fires_on_the_nth_event(db):
    found = stored(db, "evil.example.org", "bad.example.org")
    add_rule(
        db,
        "burst",
        "threshold",
        {"group_by": ["indicator.id"], "count": 2},
        time_window_minutes=5,
    )
    evil, bad = found["evil.example.org"], found["bad.example.org"]
    firings = evaluate(
        db,
        [
            seen("evil.example.org", minutes(1), evil),
            seen("bad.example.org", minutes(1), bad),
            seen("evil.example.org", minutes(2), evil),
            seen("evil.example.org", minutes(3), evil),
        ],
        minutes(3),
    )
    assert [(f.observation.value, f.observation.observed_at) for f in firings] == [
        ("evil.example.org", minutes(2))
    ]


def test_events_already_outside_the_window_are_not_counted_or_kept(db):
    found = stored(db, "evil.example.org")
    rule_id = add_rule(db, "late", "threshold", {"count": 2}, time_window_minutes=10)
    evil = found["evil.example.org"]
    late = [
        seen("evil.example.org", minutes(-30), evil),
        seen("evil.example.org", minutes(-20), evil),
    ]
    assert fired(db, late, T) == []
    assert match_rows(db, rule_id) == 0


# --- time-based -----------------------------------------------------------------------------


def test_an_ordered_sequence_needs_its_steps_in_order_and_an_unordered_one_does_not(db):
    found = stored(db, "evil.example.org", "45.9.148.9")
    steps = [
        {"field": "kind", "op": "eq", "value": "domain"},
        {"field": "kind", "op": "eq", "value": "ipv4"},
    ]
    ordered = add_rule(
        db,
        "resolve then connect",
        "time_based",
        {"steps": steps, "group_by": ["host"], "ordered": True},
        time_window_minutes=30,
    )
    add_rule(
        db,
        "both seen",
        "time_based",
        {"steps": steps, "group_by": ["host"], "ordered": False},
        time_window_minutes=30,
    )
    domain, address = found["evil.example.org"], found["45.9.148.9"]
    # The address first, then the domain: only the unordered rule is complete.
    assert fired(db, [seen("45.9.148.9", minutes(0), address, host="pc")], minutes(0)) == []
    assert fired(db, [seen("evil.example.org", minutes(1), domain, host="pc")], minutes(1)) == [
        "both seen:evil.example.org"
    ]
    # The address again after the domain completes the ordered one, once.
    firings = evaluate(db, [seen("45.9.148.9", minutes(2), address, host="pc")], minutes(2))
    assert [f.rule_id for f in firings] == [ordered]
    assert [s["step"] for s in firings[0].evidence["steps"]] == [0, 1]
    assert firings[0].key == f"{ordered}:pc"
    assert fired(db, [seen("45.9.148.9", minutes(3), address, host="pc")], minutes(3)) == []


def test_a_sequence_must_complete_within_the_window(db):
    found = stored(db, "evil.example.org", "45.9.148.9")
    add_rule(
        db,
        "quick",
        "time_based",
        {
            "steps": [
                {"field": "kind", "op": "eq", "value": "domain"},
                {"field": "kind", "op": "eq", "value": "ipv4"},
            ],
            "group_by": ["host"],
        },
        time_window_minutes=5,
    )
    assert (
        fired(
            db,
            [seen("evil.example.org", minutes(0), found["evil.example.org"], host="pc")],
            minutes(0),
        )
        == []
    )
    assert (
        fired(db, [seen("45.9.148.9", minutes(6), found["45.9.148.9"], host="pc")], minutes(6))
        == []
    )


# --- ML -------------------------------------------------------------------------------------


def add_model(db: Database, name: str, *, active: bool = True) -> uuid.UUID:
    with db.transaction() as session:
        model = MLModel(model_name=name, is_active=active, model_type="classifier")
        session.add(model)
        session.flush()
        return model.id


def predict(
    db: Database, model_id: uuid.UUID, indicator: LookupIndicator, score: str, at: datetime
) -> None:
    with db.transaction() as session:
        session.add(
            MLPrediction(
                model_id=model_id,
                indicator_id=uuid.UUID(indicator.id),
                prediction_score=Decimal(score),
                predicted_at=at,
            )
        )


def test_an_ml_rule_fires_on_the_latest_stored_prediction_of_an_active_model(db):
    found = stored(db, "evil.example.org", "fine.example.org", "other.example.org")
    model = add_model(db, "dga")
    retired = add_model(db, "old-dga", active=False)
    evil, fine, other = (
        found["evil.example.org"],
        found["fine.example.org"],
        found["other.example.org"],
    )
    predict(db, model, evil, "0.2000", minutes(-60))
    predict(db, model, evil, "0.9100", minutes(-10))  # the latest
    predict(db, model, fine, "0.9500", minutes(-60))
    predict(db, model, fine, "0.1000", minutes(-10))
    predict(db, retired, other, "0.9900", minutes(-10))
    rule_id = add_rule(db, "dga", "ml", {"model": "dga", "min_score": 0.9, "severity": "high"})
    add_rule(db, "old", "ml", {"model": "old-dga", "min_score": 0.5})
    firings = evaluate(
        db,
        [
            seen("evil.example.org", indicator=evil),
            seen("fine.example.org", indicator=fine),
            seen("other.example.org", indicator=other),
            seen("nothing.example.org"),
        ],
    )
    assert [(f.rule_name, f.observation.value) for f in firings] == [("dga", "evil.example.org")]
    (firing,) = firings
    assert firing.key == f"{rule_id}:{evil.id}"
    assert firing.evidence["score"] == pytest.approx(0.91)
    assert firing.evidence["scored_by"] == "prediction"
    assert firing.title == "dga: evil.example.org scored 0.91 by dga"


@pytest.fixture
def length_scorer() -> Iterator[list[int]]:
    calls: list[int] = []

    def score(observations):
        calls.append(len(observations))
        return [min(len(o.canonical) / 40, 1.0) for o in observations]

    engine.register_scorer("long-names", score)
    try:
        yield calls
    finally:
        engine.unregister_scorer("long-names")


def test_an_ml_rule_reads_a_registered_scorer_once_per_batch(db, length_scorer):
    add_rule(
        db,
        "long names",
        "ml",
        {
            "model": "long-names",
            "min_score": 0.6,
            "condition": {"field": "origin", "op": "eq", "value": "sighting"},
        },
    )
    firings = evaluate(
        db,
        [
            seen("short.example.org"),
            seen("a-very-long-name.example.org"),
            seen("another-long-name.example.org"),
            seen("ingested-long-name.example.org", origin=Origin.INGEST),
        ],
    )
    assert [f.observation.value for f in firings] == [
        "a-very-long-name.example.org",
        "another-long-name.example.org",
    ]
    assert {f.evidence["scored_by"] for f in firings} == {"scorer"}
    assert length_scorer == [3]  # the sightings the condition let through, in one call


def test_a_failing_scorer_scores_nothing_and_stops_nothing(db):
    def broken(observations):
        raise RuntimeError("model file missing")

    add_rule(db, "broken model", "ml", {"model": "broken", "min_score": 0.1})
    add_rule(db, "any host", "pattern", {"condition": {"field": "host", "op": "exists"}})
    engine.register_scorer("broken", broken)
    try:
        assert fired(db, [seen("evil.example.org", host="h")]) == ["any host:evil.example.org"]
    finally:
        engine.unregister_scorer("broken")


# --- the rule cache ---------------------------------------------------------------------------


def test_the_cache_follows_a_change_made_through_another_database_object(db):
    first = add_rule(db, "first", "pattern", {"condition": {"field": "host", "op": "exists"}})
    assert fired(db, [seen("1.2.3.4", host="h")]) == ["first:1.2.3.4"]

    other = Database(db.url)
    try:
        with other.transaction() as session:
            row = service.get_rule(session, first)
            service.set_active(session, row, actor=Actor.system(), active=False)
            service.create_rule(
                session,
                actor=Actor.system(),
                values={
                    "name": "second",
                    "rule_type": "pattern",
                    "rule_definition": {"condition": {"field": "host", "op": "eq", "value": "h"}},
                },
            )
    finally:
        other.dispose()
    assert fired(db, [seen("1.2.3.4", host="h")]) == ["second:1.2.3.4"]


def test_with_no_active_rule_a_call_costs_one_query(db):
    add_rule(
        db, "off", "pattern", {"condition": {"field": "host", "op": "exists"}}, is_active=False
    )
    evaluate(db, [seen("1.2.3.4", host="h")])  # loads the (empty) set of active rules
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert evaluate(db, [seen("1.2.3.4", host="h")] * 50) == []
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements


def test_a_rule_stored_invalid_is_skipped_not_fatal(db):
    add_rule(db, "good", "pattern", {"condition": {"field": "host", "op": "exists"}})
    with db.transaction() as session:
        session.add(
            CorrelationRule(
                name="broken",
                rule_type="pattern",
                rule_definition={"condition": {"field": "nope", "op": "eq", "value": 1}},
            )
        )
    assert fired(db, [seen("1.2.3.4", host="h")]) == ["good:1.2.3.4"]


# --- state housekeeping -----------------------------------------------------------------------


def test_prune_drops_events_older_than_their_rules_window(db):
    found = stored(db, "evil.example.org")
    short = add_rule(db, "short", "threshold", {"count": 100}, time_window_minutes=10)
    long = add_rule(db, "long", "threshold", {"count": 100}, time_window_minutes=120)
    evil = found["evil.example.org"]
    evaluate(
        db,
        [seen("evil.example.org", minutes(0), evil), seen("evil.example.org", minutes(5), evil)],
        minutes(5),
    )
    assert (match_rows(db, short), match_rows(db, long)) == (2, 2)
    with db.transaction() as session:
        removed = engine.prune(session, now=minutes(12))
    assert removed == 1
    assert (match_rows(db, short), match_rows(db, long)) == (1, 2)
    with db.transaction() as session:
        assert engine.prune(session, now=minutes(200)) == 3
    assert (match_rows(db, short), match_rows(db, long)) == (0, 0)


def test_changing_what_a_threshold_rule_counts_forgets_its_events(db):
    found = stored(db, "evil.example.org")
    rule_id = add_rule(db, "counting", "threshold", {"count": 5}, time_window_minutes=60)
    evaluate(db, [seen("evil.example.org", minutes(0), found["evil.example.org"])], minutes(0))
    assert match_rows(db, rule_id) == 1
    with db.transaction() as session:
        row = service.get_rule(session, rule_id)
        service.update_rule(session, row, actor=Actor.system(), changes={"description": "x"})
    assert match_rows(db, rule_id) == 1
    with db.transaction() as session:
        row = service.get_rule(session, rule_id)
        service.update_rule(
            session, row, actor=Actor.system(), changes={"rule_definition": {"count": 3}}
        )
    assert match_rows(db, rule_id) == 0
