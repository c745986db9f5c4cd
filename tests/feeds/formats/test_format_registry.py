"""The registry finds the built-in formats through the same entry points plugins use."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from krsn.errors import Invalid
from krsn.feeds.formats.base import FeedFormat
from krsn.feeds.formats.registry import GROUP, available_formats, get_format

BUILT_IN = {"csv", "json", "misp", "stix", "text", "xml"}


def test_every_built_in_format_is_registered_as_an_entry_point():
    assert {entry.name for entry in entry_points(group=GROUP)} >= BUILT_IN
    formats = available_formats()
    assert set(formats) >= BUILT_IN
    for name, fmt in formats.items():
        assert isinstance(fmt, FeedFormat)
        assert fmt.name == name


def test_get_format_returns_the_same_instance_each_time():
    assert get_format("csv") is get_format("csv")


def test_an_unknown_format_names_the_available_ones():
    with pytest.raises(Invalid) as unknown:
        get_format("yaml")
    assert unknown.value.field == "format"
    assert "unknown format 'yaml'" in unknown.value.reason
    assert "csv, json, misp, stix, text, xml" in unknown.value.reason


@pytest.mark.parametrize("name", sorted(BUILT_IN - {"xml"}))
def test_every_format_fills_in_defaults_and_keeps_them(name):
    fmt = get_format(name)
    rules = fmt.validate_rules({})
    assert rules["max_records"] == 5_000_000
    assert fmt.validate_rules(rules) == rules
    with pytest.raises(Invalid) as unknown:
        fmt.validate_rules({"no_such_rule": 1})
    assert unknown.value.field == "parsing_rules.no_such_rule"


def test_rules_must_be_an_object():
    with pytest.raises(Invalid) as wrong:
        get_format("text").validate_rules(["#"])  # type: ignore[arg-type]
    assert wrong.value.field == "parsing_rules"
