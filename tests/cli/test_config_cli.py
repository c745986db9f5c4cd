"""``krsn config``: values set as JSON or plain text, read back, listed, audited."""

from __future__ import annotations

from krsn.identity.models import SystemConfiguration


def stored_value(cli, key: str) -> object:
    with cli.database.transaction(readonly=True) as session:
        entry = session.get(SystemConfiguration, key)
        assert entry is not None
        return entry.value


def test_set_stores_a_value_that_parses_as_json_as_json(cli):
    cli.ok("config", "set", "feeds.limits", '{"a": 1}')
    assert stored_value(cli, "feeds.limits") == {"a": 1}
    cli.ok("config", "set", "feeds.ttl", "30")
    assert stored_value(cli, "feeds.ttl") == 30
    cli.ok("config", "set", "feeds.on", "true")
    assert stored_value(cli, "feeds.on") is True
    [row] = cli.audit("config.set", "feeds.limits")
    assert row.old_values is None
    assert row.new_values is not None and row.new_values["value"] == {"a": 1}


def test_set_stores_anything_else_as_a_string(cli):
    cli.ok("config", "set", "greeting", "plain")
    assert stored_value(cli, "greeting") == "plain"
    cli.ok("config", "set", "banner", "[/b] not markup {")
    assert stored_value(cli, "banner") == "[/b] not markup {"


def test_set_replaces_a_value_and_audits_old_and_new(cli):
    cli.ok("config", "set", "k", "1", "--category", "performance", "--description", "One")
    cli.ok("config", "set", "k", "2")
    got = cli.json("config", "get", "k")
    assert got["value"] == 2
    assert got["category"] == "performance"
    assert got["description"] == "One"
    rows = cli.audit("config.set", "k")
    assert len(rows) == 2
    assert rows[1].old_values is not None and rows[1].old_values["value"] == 1


def test_get_as_json_and_for_people(cli):
    cli.ok("config", "set", "k", '{"a": [1, 2]}', "--category", "security")
    got = cli.json("config", "get", "k")
    assert got["key"] == "k"
    assert got["value"] == {"a": [1, 2]}
    assert got["category"] == "security"
    assert '{"a": [1, 2]}' in cli.ok("config", "get", "k").stdout


def test_values_that_look_like_markup_print_as_text(cli):
    assert "[/x]" in cli.ok("config", "set", "odd", "[/x]").stdout
    assert "[/x]" in cli.ok("config", "get", "odd").stdout
    assert "[/x]" in cli.ok("config", "list").stdout


def test_list_as_json_shows_every_value_in_key_order(cli):
    assert cli.json("config", "list") == []
    cli.ok("config", "set", "b.key", "plain")
    cli.ok("config", "set", "a.key", '{"a": 1}', "--category", "integration")
    listed = cli.json("config", "list")
    assert [(e["key"], e["value"]) for e in listed] == [("a.key", {"a": 1}), ("b.key", "plain")]
    only = cli.json("config", "list", "--category", "integration")
    assert [e["key"] for e in only] == ["a.key"]


def test_get_of_a_missing_key_fails_clearly(cli):
    assert "missing" in cli.failed("config", "get", "missing").stderr


def test_a_key_with_forbidden_characters_is_refused(cli):
    assert "key" in cli.failed("config", "set", "no spaces", "1").stderr
    assert cli.json("config", "list") == []
    assert cli.audit("config.set") == []
