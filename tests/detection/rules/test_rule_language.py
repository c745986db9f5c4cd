"""The rule condition language: every operator on every kind of field, missing fields that
are false rather than errors, faults named by their JSON path, and regular expressions that
cannot run away."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krsn.detection.models import RuleType, WatchlistItemType, WatchlistType
from krsn.detection.observations import Observation, Origin, WatchlistHit
from krsn.detection.rules import language
from krsn.detection.rules.engine import compile_rule
from krsn.errors import Invalid
from krsn.indicators.lookup import LookupIndicator
from krsn.indicators.models import IndicatorType, Severity

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def indicator(**fields: Any) -> LookupIndicator:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "indicator_value": "45.9.148.9",
        "indicator_type": IndicatorType.IP,
        "severity": Severity.HIGH,
        "confidence_score": 80.0,
        "threat_score": 70.0,
        "decayed_threat_score": 65.5,
        "first_seen_at": AT,
        "last_seen_at": AT,
        "tags": ("c2", "cobalt-strike"),
        "malware_families": ("CobaltStrike",),
    }
    values.update(fields)
    return LookupIndicator(**values)


def observation(**fields: Any) -> Observation:
    values: dict[str, Any] = {
        "origin": Origin.SIGHTING,
        "value": "45.9.148.9",
        "kind": "ipv4",
        "canonical": "45.9.148.9",
        "observed_at": AT,
        "indicator": indicator(),
        "host": "web-01",
        "sensor": "zeek",
        "log_source": "conn.log",
        "context": {"port": 443, "proto": "tcp", "user": {"name": "alice"}, "flags": ["syn"]},
        "watchlist_hits": [
            WatchlistHit(
                item_id=uuid.uuid4(),
                watchlist_id=uuid.uuid4(),
                watchlist_name="crown jewels",
                list_type=WatchlistType.IP_BLACKLIST,
                item_type=WatchlistItemType.IP,
                item_value="45.9.148.0/24",
            )
        ],
    }
    values.update(fields)
    return Observation(**values)


def holds(tree: dict[str, Any], obs: Observation | None = None) -> bool:
    return language.compile_condition(tree, where="condition")(obs or observation())


def leaf(field: str, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    node = {"field": field, "op": op, **extra}
    if value is not None:
        node["value"] = value
    return node


def fault(tree: Any) -> Invalid:
    with pytest.raises(Invalid) as caught:
        language.compile_condition(tree, where="rule_definition.condition")
    return caught.value


# --- operators ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (leaf("origin", "eq", "sighting"), True),
        (leaf("origin", "eq", "ingest"), False),
        (leaf("host", "ne", "web-02"), True),
        (leaf("host", "ne", "web-01"), False),
        (leaf("kind", "in", ["ipv4", "ipv6"]), True),
        (leaf("kind", "not_in", ["ipv4", "ipv6"]), False),
        (leaf("indicator.type", "eq", "ip"), True),
        (leaf("indicator.severity", "in", ["critical", "high"]), True),
        (leaf("value", "contains", "148"), True),
        (leaf("value", "startswith", "45.9."), True),
        (leaf("value", "endswith", ".10"), False),
        (leaf("value", "matches", r"^45\.9\.\d+\.\d+$"), True),
        (leaf("indicator.confidence", "gte", 80), True),
        (leaf("indicator.confidence", "gt", 80), False),
        (leaf("indicator.threat_score", "lt", 70.5), True),
        (leaf("indicator.decayed_threat_score", "lte", 65), False),
        (leaf("indicator.confidence", "eq", 80), True),
        (leaf("indicator.tags", "contains", "c2"), True),
        (leaf("indicator.tags", "contains", "c"), False),
        (leaf("indicator.tags", "in", ["phishing", "cobalt-strike"]), True),
        (leaf("indicator.tags", "not_in", ["phishing"]), True),
        (leaf("indicator.tags", "startswith", "cobalt"), True),
        (leaf("indicator.malware_families", "matches", "(?i)^cobalt"), True),
        (leaf("watchlist.names", "contains", "crown jewels"), True),
        (leaf("watchlist.types", "contains", "ip_blacklist"), True),
        (leaf("value", "in_cidr", "45.9.148.0/24"), True),
        (leaf("value", "in_cidr", ["10.0.0.0/8", "2001:db8::/32"]), False),
        (leaf("context.port", "eq", 443), True),
        (leaf("context.port", "eq", "443"), False),
        (leaf("context.port", "gt", 1024), False),
        (leaf("context.proto", "in", ["tcp", "udp"]), True),
        (leaf("context.user.name", "eq", "alice"), True),
        (leaf("context.flags", "contains", "syn"), True),
        (leaf("context.proto", "contains", "cp"), True),
        (leaf("host", "exists"), True),
        (leaf("feed", "exists"), False),
        (leaf("feed", "exists", False), True),
        (leaf("indicator.id", "exists"), True),
    ],
)
def test_each_operator_compares_as_documented(node, expected):
    assert holds(node) is expected


def test_a_boolean_is_never_equal_to_a_number():
    obs = observation(context={"flag": True, "one": 1})
    assert holds(leaf("context.flag", "eq", True), obs)
    assert not holds(leaf("context.one", "eq", True), obs)
    assert not holds(leaf("context.flag", "eq", 1), obs)
    assert not holds(leaf("context.one", "in", [True]), obs)


def test_a_range_value_is_inside_a_wider_range():
    obs = observation(value="45.9.148.0/26")
    assert holds(leaf("value", "in_cidr", "45.9.0.0/16"), obs)
    assert not holds(leaf("value", "in_cidr", "45.9.148.128/25"), obs)
    assert not holds(leaf("value", "in_cidr", "45.9.0.0/16"), observation(value="evil.example"))


@pytest.mark.parametrize(
    "node",
    [
        leaf("feed", "eq", "x"),
        leaf("feed", "ne", "x"),
        leaf("feed", "not_in", ["x"]),
        leaf("source", "startswith", "x"),
        leaf("context.missing", "ne", 1),
        leaf("context.port.deeper", "eq", 1),
        leaf("indicator.tags", "not_in", ["x"]),
        leaf("indicator.confidence", "lt", 1000),
        leaf("watchlist.names", "not_in", ["x"]),
    ],
)
def test_comparing_with_a_missing_field_is_false_never_an_error(node):
    bare = observation(indicator=None, context={"port": 443}, watchlist_hits=[], source=None)
    assert holds(node, bare) is False


def test_branches_combine_and_negate():
    tree = {
        "all": [
            leaf("origin", "eq", "sighting"),
            {"any": [leaf("kind", "eq", "domain"), leaf("indicator.tags", "contains", "c2")]},
            {"not": leaf("host", "startswith", "test-")},
        ]
    }
    assert holds(tree)
    assert not holds(tree, observation(host="test-box"))
    assert not holds(tree, observation(origin=Origin.INGEST))


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "path", "words"),
    [
        (
            {"all": [leaf("host", "eq", "a"), leaf("host", "like", "a")]},
            "all.1.op",
            "unknown operator",
        ),
        (
            {"all": [{"field": "hostname", "op": "eq", "value": "a"}]},
            "all.0.field",
            "unknown field",
        ),
        ({"any": [leaf("indicator.confidence", "gt", "high")]}, "any.0.value", "number"),
        ({"not": leaf("origin", "eq", "sightings")}, "not.value", "never 'sightings'"),
        ({"all": []}, "all", "non-empty"),
        ({"all": [leaf("host", "in", [])]}, "all.0.value", "non-empty list"),
        ({"all": [leaf("host", "in", ["a", 3])]}, "all.0.value.1", "string"),
        ({"all": [leaf("indicator.tags", "eq", "c2")]}, "all.0.op", "is a list"),
        ({"all": [leaf("host", "gt", 3)]}, "all.0.op", "not a number"),
        ({"all": [leaf("value", "in_cidr", "10.0.0.300/8")]}, "all.0.value", "CIDR"),
        ({"all": [leaf("value", "in_cidr", ["10.0.0.0/8", "x"])]}, "all.0.value.1", "CIDR"),
        ({"all": [{"field": "host", "op": "eq"}]}, "all.0.value", "required"),
        ({"all": [{"field": "host", "value": "a"}]}, "all.0.op", "required"),
        ({"all": [{"op": "eq", "value": "a"}]}, "all.0.field", "required"),
        ({"all": [leaf("host", "eq", "a", extra=1)]}, "all.0.extra", "not part"),
        ({"all": [leaf("host", "exists", "yes")]}, "all.0.value", "true or false"),
        ({"all": [leaf("context.a b", "eq", 1)]}, "all.0.field", "context.<key>"),
        ({"all": [leaf("value", "matches", "(a+)+$")]}, "all.0.value", "exponential"),
        ({"all": [leaf("value", "matches", "[")]}, "all.0.value", "not a regular expression"),
        ({"all": [leaf("host", "eq", "a")], "any": []}, "any", "holds nothing else"),
        ({"all": ["host = a"]}, "all.0", "must be an object"),
    ],
)
def test_a_fault_names_its_json_path(tree, path, words):
    error = fault(tree)
    assert error.field == f"rule_definition.condition.{path}", error
    assert words in error.reason


def test_depth_and_size_are_bounded():
    deep: dict[str, Any] = leaf("host", "eq", "a")
    for _ in range(language.MAX_DEPTH + 1):
        deep = {"not": deep}
    assert "deeper" in fault(deep).reason

    wide = {"any": [leaf("host", "eq", str(i)) for i in range(language.MAX_NODES)]}
    assert "nodes" in fault(wide).reason

    many = {"all": [leaf("host", "in", [str(i) for i in range(language.MAX_LIST + 1)])]}
    assert "at most" in fault(many).reason


def test_a_rule_definition_fault_is_named_under_rule_definition():
    with pytest.raises(Invalid) as caught:
        compile_rule(
            rule_id=None,
            name="r",
            rule_type=RuleType.PATTERN,
            definition={"condition": {"all": [leaf("host", "eq", "a"), leaf("host", "op", 1)]}},
        )
    assert caught.value.field == "rule_definition.condition.all.1.op"

    for definition, field in [
        ({"condition": leaf("host", "eq", "a"), "colour": "red"}, "rule_definition.colour"),
        ({"condition": leaf("host", "eq", "a"), "severity": "dire"}, "rule_definition.severity"),
        ({"condition": leaf("host", "eq", "a"), "title": "{nope}"}, "rule_definition.title"),
        ({}, "rule_definition.condition"),
    ]:
        with pytest.raises(Invalid) as caught:
            compile_rule(rule_id=None, name="r", rule_type="pattern", definition=definition)
        assert caught.value.field == field


@pytest.mark.parametrize(
    ("rule_type", "definition", "window", "field"),
    [
        ("threshold", {"count": 3}, None, "time_window_minutes"),
        ("threshold", {"count": 0}, 10, "rule_definition.count"),
        (
            "threshold",
            {"count": 3, "group_by": ["indicator.tags"]},
            10,
            "rule_definition.group_by.0",
        ),
        ("threshold", {"count": 3, "group_by": ["host", "host"]}, 10, "rule_definition.group_by"),
        ("time_based", {"steps": [leaf("host", "eq", "a")]}, 10, "rule_definition.steps"),
        (
            "time_based",
            {"steps": [leaf("host", "eq", "a"), {"all": [leaf("kind", "eq", "dns")]}]},
            10,
            "rule_definition.steps.1.all.0.value",
        ),
        (
            "time_based",
            {"steps": [leaf("host", "exists")] * 2, "ordered": "yes"},
            10,
            "rule_definition.ordered",
        ),
        ("ml", {"model": "m"}, None, "rule_definition.min_score"),
        ("ml", {"model": "m", "min_score": 1.5}, None, "rule_definition.min_score"),
        ("ml", {"min_score": 0.5}, None, "rule_definition.model"),
        ("pattern", {"condition": leaf("host", "exists")}, 0, "time_window_minutes"),
        ("sequence", {}, None, "rule_type"),
    ],
)
def test_each_rule_type_checks_its_own_definition(rule_type, definition, window, field):
    with pytest.raises(Invalid) as caught:
        compile_rule(
            rule_id=None,
            name="r",
            rule_type=rule_type,
            definition=definition,
            time_window_minutes=window,
        )
    assert caught.value.field == field, caught.value


# --- regular expressions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+b", r"(a|aa)*b", r"(\w+\.)+com", r"(a{1,3})+", r"(x)\1", r"(?P<n>x)(?P=n)", "(?x)a +"],
)
def test_patterns_that_backtrack_exponentially_are_refused(pattern):
    assert fault(leaf("value", "matches", pattern)).field.endswith(".value")


@pytest.mark.parametrize("pattern", [r".*a.*b", r"\w+\w+x", r"a|.*b.*c"])
def test_an_unanchored_pattern_may_hold_one_unbounded_repeat(pattern):
    assert "unbounded" in fault(leaf("value", "matches", pattern)).reason


@pytest.mark.parametrize(
    "pattern", [r"\w{1,16}\w{1,16}\w+x", r"(a|b|c)(d|e)\w*x", r"^(\w{1,16}){16}x"]
)
def test_bounded_repeats_beside_unbounded_ones_are_limited(pattern):
    assert "ways" in fault(leaf("value", "matches", pattern)).reason


@pytest.mark.parametrize(
    "pattern",
    [
        r"^https?://[^/]+/.*\.exe$",
        r"(\d{1,3}\.){3}\d{1,3}",
        r"^[a-f0-9]{32}$",
        r"(?i)evil",
        r"^(com|net)\.example$",
        r".*\.onion",
        r"(a|a)(a|a)\w*x",
        r"^\w{1,16}\w{1,16}\w*x",
        r"^https?://(www\.)?[^/]+/.*$",
    ],
)
def test_accepted_patterns_stay_fast_on_hostile_text(pattern):
    test = language.compile_condition(leaf("value", "matches", pattern), where="c")
    for text in ("a" * 100_000 + "1.1.1", "a@a." * 30_000, "1." * 50_000):
        started = time.perf_counter()
        test(observation(value=text))
        assert time.perf_counter() - started < 0.25


def test_a_pattern_reads_only_the_start_of_a_long_value():
    test = language.compile_condition(leaf("value", "matches", "needle"), where="c")
    assert test(observation(value="x" * 100 + "needle"))
    assert not test(observation(value="x" * language.MATCHED_PREFIX + "needle"))


# --- keys and titles ------------------------------------------------------------------------


def test_a_group_key_joins_its_fields_and_is_none_when_one_is_missing():
    names, key = language.compile_group(["host", "context.port"], where="g")
    assert names == ("host", "context.port")
    assert key(observation()) == ("web-01|443", {"host": "web-01", "context.port": 443})
    assert key(observation(host=None)) is None
    assert language.compile_group([], where="g")[1](observation()) == ("*", {})


def test_a_long_group_key_becomes_a_digest():
    _, key = language.compile_group(["value"], where="g")
    long = key(observation(value="x" * 500))
    assert long is not None and long[0].startswith("sha256:") and len(long[0]) == 71
    assert key(observation(value="y" * 500))[0] != long[0]  # type: ignore[index]


def test_a_title_fills_known_places_only():
    template = language.compile_template(
        "{rule}: {value} on {host} ({indicator.type}, {indicator.tags}) {feed}",
        where="t",
        extras=["rule"],
    )
    assert (
        template.render(observation(), {"rule": "R"})
        == "R: 45.9.148.9 on web-01 (ip, c2, cobalt-strike) -"
    )
    for bad in ["{value.__class__}", "{value!r}", "{value:>99999}", "{0}", "{", "{}"]:
        with pytest.raises(Invalid):
            language.compile_template(bad, where="t", extras=["rule"])


def test_a_long_title_is_cut_to_the_alert_column():
    template = language.compile_template("{value}", where="t", extras=[])
    title = template.render(observation(value="v" * 900), {})
    assert len(title) == language.MAX_TEMPLATE and title.endswith("…")


# --- any input ----------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
_fields = st.sampled_from([*language.FIELDS, "context.port", "context.flags", "nope"])
_ops = st.sampled_from([*language.OPERATORS, "like"])
_leaves = st.builds(
    lambda f, o, v: {"field": f, "op": o, "value": v},
    _fields,
    _ops,
    _json | st.sampled_from(["sighting", "ipv4", "c2", "45.9.148.0/24", "^45", "a+b"]),
)
_trees = st.recursive(
    _leaves,
    lambda inner: (
        st.builds(lambda c: {"all": c}, st.lists(inner, max_size=3))
        | st.builds(lambda c: {"any": c}, st.lists(inner, max_size=3))
        | st.builds(lambda c: {"not": c}, inner)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(tree=_trees | _json)
def test_any_tree_is_either_refused_with_a_path_or_runs_without_error(tree):
    try:
        test = language.compile_condition(tree, where="rule_definition.condition")
    except Invalid as error:
        assert error.field.startswith("rule_definition.condition")
        return
    for obs in (observation(), observation(indicator=None, context={}, watchlist_hits=[])):
        assert test(obs) in (True, False)


@settings(max_examples=500, deadline=None)
@given(pattern=st.text(alphabet="()[]{}|*+?^$\\.,:=!<>Pa1x-#", max_size=24))
def test_any_pattern_is_either_refused_or_compiled(pattern):
    try:
        test = language.compile_condition(leaf("value", "matches", pattern), where="c")
    except Invalid:
        return
    test(observation(value="a" * 2000))
