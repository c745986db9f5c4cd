"""The text format on real list feeds: plain lists, hosts files, filter lists, zone files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from krsn.errors import Invalid
from krsn.feeds.formats.base import FormatError
from krsn.feeds.formats.text_format import TextFormat


def entries(path: Path, comment: str = "#") -> list[str]:
    """The non-blank, non-comment lines of a file, stripped: the independent count."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith(comment)]


def test_ipsum_gives_every_ip_with_its_blocklist_count(shared_data, parse):
    path = shared_data("feeds", "ipsum", "ipsum.txt")
    expected = [line.split("\t") for line in entries(path)]
    rows, errors = parse(
        "text", path, {"regex": r"^(?P<value>\S+)\t(?P<lists>\d+)$", "kind": "ipv4"}
    )
    assert errors == []
    assert len(rows) == len(expected) == 120_430
    assert [r.value for r in rows[:3]] == [ip for ip, _ in expected[:3]]
    assert (rows[0].value, rows[0].extra) == (expected[0][0], {"lists": expected[0][1]})
    assert (rows[-1].value, rows[-1].extra["lists"]) == tuple(expected[-1])
    assert {r.kind for r in rows} == {"ipv4"}


def test_line_numbers_point_at_the_file_lines(shared_data, parse):
    path = shared_data("feeds", "ipsum", "ipsum.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    rows, _ = parse("text", path, {"regex": r"^(?P<value>\S+)\t"})
    for row in (rows[0], rows[1000], rows[-1]):
        assert lines[row.line - 1].startswith(row.value + "\t")


def test_bare_list_without_final_newline_keeps_its_last_value(shared_data, parse):
    path = shared_data("feeds", "threatfox-ips", "ips.txt")
    expected = entries(path)
    rows, errors = parse("text", path, {"kind": "ipv4", "tags": ["threatfox"]})
    assert errors == []
    assert [r.value for r in rows] == expected
    assert len(rows) == 19_863
    assert rows[-1].value == path.read_bytes().rsplit(b"\n", 1)[-1].decode()
    assert rows[0].tags == ("threatfox",)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("malware_emotet.txt", 15_034),
        ("malware_agenttesla.txt", 1_985),
        ("malware_apt_lazarus.txt", 5_573),
        ("malicious_sliver.txt", 7_984),
    ],
)
def test_maltrail_trails_give_every_entry_and_skip_reference_comments(
    shared_data, parse, name, count
):
    path = shared_data("feeds", "maltrail", name)
    expected = entries(path)
    rows, errors = parse("text", path, {"malware_family": name.split("_", 1)[1][:-4]})
    assert errors == []
    assert len(rows) == len(expected) == count
    assert (rows[0].value, rows[-1].value) == (expected[0], expected[-1])
    assert rows[0].kind is None  # mixed trails: normalisation decides
    assert not any(r.value.startswith("#") for r in rows)


def test_hosts_file_and_adguard_list_give_the_same_domains(shared_data, parse):
    hosts = shared_data("feeds", "blocklistproject", "ransomware.txt")
    adguard = shared_data("feeds", "blocklistproject", "ransomware-ags.txt")
    from_hosts, errors_hosts = parse(
        "text", hosts, {"regex": r"^0\.0\.0\.0\s+(?P<value>\S+)$", "kind": "domain"}
    )
    from_adguard, errors_adguard = parse(
        "text", adguard, {"comment_prefix": "!", "regex": r"^\|\|(?P<value>[^^]+)\^$"}
    )
    assert errors_hosts == errors_adguard == []
    header = hosts.read_text(encoding="utf-8")
    declared = int(re.search(r"^# Entries: ([\d,]+)", header, re.M)[1].replace(",", ""))  # type: ignore[index]
    assert len(from_hosts) == len(from_adguard) == declared == 1_904
    assert [r.value for r in from_hosts] == [r.value for r in from_adguard]
    assert from_hosts[0].value == entries(hosts)[0].split()[1]


def test_ublock_url_list_keeps_host_and_path(shared_data, parse):
    path = shared_data("feeds", "urlhaus-filter", "urlhaus-filter-online.txt")
    expected = entries(path, "!")
    rows, errors = parse(
        "text", path, {"comment_prefix": ["!"], "regex": r"^(?:\|\|)?(?P<value>[^$]+)"}
    )
    assert errors == []
    assert len(rows) == len(expected) == 6_817
    with_path = [r.value for r in rows if "/" in r.value]
    assert len(with_path) == 402
    last = expected[-1]
    assert rows[-1].value == last.removeprefix("||").removesuffix("$all")


def test_rpz_zone_skips_its_soa_and_ns_records_when_asked(shared_data, parse):
    path = shared_data("feeds", "urlhaus-filter", "urlhaus-filter-rpz-online.conf")
    expected = [line.split()[0] for line in entries(path, ";") if line.endswith(" CNAME .")]
    rules = {"comment_prefix": ";", "regex": r"^(?P<value>[^\s$@]+)\s+CNAME\s+\.$"}
    rows, errors = parse("text", path, {**rules, "skip_unmatched": True})
    assert errors == []
    assert [r.value for r in rows] == expected
    assert len(rows) == 1_241
    _, reported = parse("text", path, rules)
    assert [e.reason for e in reported] == ["the line does not match the regex"] * 3


def test_regex_without_value_group_or_with_nested_repeats_is_refused():
    fmt = TextFormat()
    with pytest.raises(Invalid) as missing:
        fmt.validate_rules({"regex": r"(\S+)"})
    assert missing.value.field == "parsing_rules.regex"
    with pytest.raises(Invalid, match="exponential"):
        fmt.validate_rules({"regex": r"^(?P<value>(a+)+)$"})
    with pytest.raises(Invalid, match="exponential"):
        fmt.validate_rules({"regex": r"(?P<value>(?:\w*\.?)*)x"})
    with pytest.raises(Invalid, match="exponential"):
        fmt.validate_rules({"regex": r"(?P<value>(.*a)*)x"})
    # Possessive and atomic forms cannot backtrack, so they are allowed.
    fmt.validate_rules({"regex": r"^(?P<value>(?>a+)+)$"})
    fmt.validate_rules({"regex": r"^(?P<value>[a-z]+(?:\.[a-z]+)*)$"})
    fmt.validate_rules({"regex": r"^(?P<value>(?:\w+\.)+\w+)$"})


def test_unknown_rule_and_bad_values_name_the_key():
    fmt = TextFormat()
    with pytest.raises(Invalid) as unknown:
        fmt.validate_rules({"comment": "#"})
    assert unknown.value.field == "parsing_rules.comment"
    assert "comment_prefix" in unknown.value.reason
    with pytest.raises(Invalid) as kind:
        fmt.validate_rules({"kind": "ip"})
    assert kind.value.field == "parsing_rules.kind"
    with pytest.raises(Invalid) as limit:
        fmt.validate_rules({"max_line_length": 0})
    assert limit.value.field == "parsing_rules.max_line_length"


def test_rules_come_back_with_defaults():
    rules = TextFormat().validate_rules({})
    assert rules["comment_prefix"] == "#"
    assert rules["max_line_length"] == 65_536
    assert rules["max_records"] == 5_000_000
    assert rules["regex"] is None
    assert TextFormat().validate_rules(rules) == rules


def test_regex_groups_fill_row_fields(parse):
    data = b"# c\nevil.example 2024-01-02T03:04:05Z emotet 80\nbad line\n"
    rules = {
        "regex": r"^(?P<value>\S+) (?P<first_seen>\S+) (?P<malware_family>\S+) "
        r"(?P<confidence>\d+)$"
    }
    rows, errors = parse("text", data, rules)
    assert [(e.line, e.reason) for e in errors] == [(3, "the line does not match the regex")]
    (row,) = rows
    assert (row.line, row.value, row.malware_family, row.confidence) == (
        2,
        "evil.example",
        "emotet",
        80.0,
    )
    assert row.first_seen is not None and row.first_seen.isoformat() == "2024-01-02T03:04:05+00:00"


def test_a_bad_date_is_reported_with_its_line(parse):
    rows, errors = parse(
        "text",
        b"a.example 2024-01-01\nb.example yesterday\n",
        {"regex": r"^(?P<value>\S+) (?P<first_seen>\S+)$"},
    )
    assert [r.value for r in rows] == ["a.example"]
    assert errors[0].line == 2 and "first_seen" in errors[0].reason


def test_html_error_page_is_a_format_error(parse):
    with pytest.raises(FormatError, match="HTML"):
        parse("text", b"<!DOCTYPE html>\n<html><body>Login</body></html>\n")
