"""The CSV format: the abuse.ch export, column maps by name and index, broken rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from krsn.errors import Invalid
from krsn.feeds.formats.base import FormatError
from krsn.feeds.formats.csv_format import CsvFormat

FEODO_RULES = {
    "header": True,
    "columns": {
        "value": "dst_ip",
        "first_seen": "first_seen_utc",
        "last_seen": "last_online",
        "malware_family": "malware",
    },
    "tags": ["botnet-c2"],
}


def test_feodo_export_gives_each_c2_with_dates_and_family(shared_data, parse):
    path = shared_data("feeds", "abusech-feodo", "ipblocklist.csv")
    text = path.read_text(encoding="utf-8")
    data = [line for line in text.splitlines() if line.startswith('"')][1:]
    trailer = text.splitlines()[-1]
    assert trailer == f"# END {len(data)} entries"
    rows, errors = parse("csv", path, FEODO_RULES)
    assert errors == []
    assert len(rows) == len(data) == 28
    first = data[0].replace('"', "").split(",")
    assert rows[0].value == first[1]
    assert rows[0].first_seen == datetime.fromisoformat(first[0]).replace(tzinfo=UTC)
    assert rows[0].last_seen == datetime.fromisoformat(first[4]).replace(tzinfo=UTC)
    assert rows[0].malware_family == first[5] == "Pikabot"
    assert rows[0].tags == ("botnet-c2",)
    assert rows[0].raw is not None and rows[0].raw["dst_port"] == first[2]
    assert rows[-1].value == data[-1].replace('"', "").split(",")[1]
    assert path.read_text(encoding="utf-8").splitlines()[rows[-1].line - 1] == data[-1]


def test_same_file_by_column_index_with_header_skipped(shared_data, parse):
    path = shared_data("feeds", "abusech-feodo", "ipblocklist.csv")
    by_name, _ = parse("csv", path, FEODO_RULES)
    by_index, errors = parse(
        "csv",
        path,
        {"skip_header": True, "columns": {"value": 1, "first_seen": 0, "malware_family": 5}},
    )
    assert errors == []
    assert [(r.value, r.first_seen, r.malware_family) for r in by_index] == [
        (r.value, r.first_seen, r.malware_family) for r in by_name
    ]


def test_fieldnames_name_the_columns_of_a_headerless_file(parse):
    data = b"evil.example;phishing|bank;75\ngood.example;;\n"
    rows, errors = parse(
        "csv",
        data,
        {
            "delimiter": ";",
            "fieldnames": ["host", "labels", "score"],
            "columns": {"value": "host", "tags": "labels", "confidence": "score"},
            "tag_separator": "|",
            "kind": "domain",
        },
    )
    assert errors == []
    assert [(r.value, r.tags, r.confidence, r.kind) for r in rows] == [
        ("evil.example", ("phishing", "bank"), 75.0, "domain"),
        ("good.example", (), None, "domain"),
    ]


def test_tab_separated_with_kind_column_and_map(parse):
    data = b"ioc\ttype\n1.2.3.4:80\tip:port\nabc\tmd5_hash\n"
    rows, _ = parse(
        "csv",
        data,
        {
            "delimiter": "\\t",
            "header": True,
            "columns": {"value": "ioc", "kind": "type"},
            "kind_map": {"md5_hash": "md5"},
        },
    )
    assert [(r.value, r.kind) for r in rows] == [("1.2.3.4:80", None), ("abc", "md5")]


def test_broken_rows_are_reported_with_their_lines_and_good_rows_still_come(parse):
    data = (
        b"# banner\n"
        b'"first","ip","family"\n'
        b'"2024-01-01","192.0.2.1","a"\n'  # 3 good
        b'"2024-01-02","192.0.2.2"x,"b"\n'  # 4 broken quoting
        b'"2024-01-03"\n'  # 5 too few columns
        b'"not a date","192.0.2.4","d"\n'  # 6 bad date
        b'"2024-01-05","","e"\n'  # 7 empty value
        b'"2024-01-06","192.0.2.6,"f"\n'  # 8 unterminated quote
        b'"2024-01-07","192.0.2.7","g"\n'  # 9 good
    )
    rows, errors = parse(
        "csv",
        data,
        {"header": True, "columns": {"value": "ip", "first_seen": "first", "malware_family": 2}},
    )
    assert [(r.line, r.value) for r in rows] == [(3, "192.0.2.1"), (9, "192.0.2.7")]
    assert [e.line for e in errors] == [4, 5, 6, 7, 8]
    reasons = {e.line: e.reason for e in errors}
    assert "broken CSV" in reasons[4]
    assert reasons[5] == "1 column(s), expected at least 3"
    assert "first_seen" in reasons[6]
    assert reasons[7] == "no value"


def test_a_column_missing_from_the_header_is_a_format_error(shared_data, parse):
    path = shared_data("feeds", "abusech-feodo", "ipblocklist.csv")
    with pytest.raises(FormatError, match="'ip_address'"):
        parse("csv", path, {"header": True, "columns": {"value": "ip_address"}})


def test_rules_are_checked():
    fmt = CsvFormat()
    with pytest.raises(Invalid) as named:
        fmt.validate_rules({"columns": {"value": "ip"}})
    assert "header" in named.value.reason
    with pytest.raises(Invalid) as delimiter:
        fmt.validate_rules({"delimiter": ";;"})
    assert delimiter.value.field == "parsing_rules.delimiter"
    with pytest.raises(Invalid) as field:
        fmt.validate_rules({"columns": {"value": 0, "port": 2}})
    assert "port" in field.value.reason
    with pytest.raises(Invalid):
        fmt.validate_rules({"columns": {"first_seen": 0}})
    rules = fmt.validate_rules({"skip_header": True})
    assert rules["header"] is True and "skip_header" not in rules
    assert rules["delimiter"] == "," and rules["quotechar"] == '"'
    assert rules["columns"] == {"value": 0}
    assert fmt.validate_rules(rules) == rules
