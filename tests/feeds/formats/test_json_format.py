"""The JSON format: paths to records and fields, JSON Lines, the document size limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from krsn.errors import Invalid
from krsn.feeds.formats.base import FormatError
from krsn.feeds.formats.json_format import JsonFormat, split_path


def test_dotted_path_reads_a_real_event_document(shared_data, parse):
    path = shared_data("misp", "pymisp", "long_event.json")
    attributes = json.loads(path.read_text(encoding="utf-8"))["Event"]["Attribute"]
    rows, errors = parse(
        "json",
        path,
        {
            "path": "Event.Attribute",
            "fields": {"value": "value", "kind": "type", "first_seen": "timestamp"},
            "kind_map": {"ip-dst": "ipv4", "hostname": "domain"},
        },
    )
    assert errors == []
    assert len(rows) == len(attributes) == 370
    assert rows[0].value == attributes[0]["value"]
    assert rows[-1].value == attributes[-1]["value"]
    assert rows[-1].first_seen == datetime.fromtimestamp(int(attributes[-1]["timestamp"]), UTC)
    by_type = {a["type"]: a["value"] for a in attributes}
    kinds = {r.value: r.kind for r in rows}
    assert kinds[by_type["md5"]] == "md5"  # the feed's name is a kind already
    assert kinds[by_type["ip-dst"]] == "ipv4"  # mapped
    assert kinds[by_type["url"]] == "url"
    assert kinds[by_type["link"]] is None  # neither a kind nor mapped


def test_json_pointer_and_wildcards_reach_nested_lists(parse):
    document = {
        "data": [
            {"family": "emotet", "urls": ["http://a.example/x", "http://b.example/y"]},
            {"family": "qakbot", "urls": ["http://c.example/z"]},
        ]
    }
    body = json.dumps(document).encode()
    flat, _ = parse("json", body, {"path": "data.*.urls", "kind": "url"})
    assert [r.value for r in flat] == [
        "http://a.example/x",
        "http://b.example/y",
        "http://c.example/z",
    ]
    nested, _ = parse(
        "json", body, {"path": "/data", "fields": {"value": "urls", "malware_family": "family"}}
    )
    assert [(r.line, r.value, r.malware_family) for r in nested] == [
        (1, "http://a.example/x", "emotet"),
        (1, "http://b.example/y", "emotet"),
        (2, "http://c.example/z", "qakbot"),
    ]
    assert split_path("/a~1b/c~0d") == ("a/b", "c~d")


def test_records_without_a_value_are_reported(parse):
    body = json.dumps(
        {"iocs": [{"ioc": "evil.example", "tags": ["x", "y"]}, {"other": 1}, {"ioc": ""}]}
    ).encode()
    rows, errors = parse("json", body, {"path": "iocs", "fields": {"value": "ioc", "tags": "tags"}})
    assert [(r.value, r.tags) for r in rows] == [("evil.example", ("x", "y"))]
    assert [(e.line, e.reason) for e in errors] == [
        (2, "no value in this record"),
        (3, "no value in this record"),
    ]


def test_json_lines_reports_broken_lines_and_reads_the_rest(parse):
    body = (
        b'{"ioc": "a.example", "confidence": 90}\n'
        b"{broken\n"
        b"\n"
        b'{"ioc": "b.example", "confidence": 900}\n'
        b'{"ioc": "c.example"}\n'
    )
    rows, errors = parse(
        "json", body, {"json_lines": True, "fields": {"value": "ioc", "confidence": "confidence"}}
    )
    assert [(r.line, r.value, r.confidence) for r in rows] == [
        (1, "a.example", 90.0),
        (5, "c.example", None),
    ]
    assert [e.line for e in errors] == [2, 4]
    assert "not valid JSON" in errors[0].reason and "confidence" in errors[1].reason


def test_a_document_over_the_size_limit_is_refused(parse):
    body = json.dumps(["198.51.100.1"] * 1000).encode()
    with pytest.raises(FormatError, match="larger than 1,000 bytes"):
        parse("json", body, {"max_bytes": 1000})
    rows, _ = parse("json", body, {"max_bytes": len(body)})
    assert len(rows) == 1000


def test_too_many_records_is_refused(parse):
    with pytest.raises(FormatError, match="max_records"):
        parse("json", json.dumps(["a"] * 11).encode(), {"max_records": 10})


def test_unreadable_documents_are_format_errors(parse):
    with pytest.raises(FormatError, match="not valid JSON"):
        parse("json", b"ip,first_seen\n1.2.3.4,2024-01-01\n")
    with pytest.raises(FormatError, match="nested too deeply"):
        parse("json", b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(FormatError, match="empty"):
        parse("json", b"  \n")
    with pytest.raises(FormatError, match="nothing found at path"):
        parse("json", b'{"data": []}', {"path": "results"})


def test_rules_defaults_and_checks():
    fmt = JsonFormat()
    rules = fmt.validate_rules({})
    assert rules["path"] == "" and rules["fields"] == {"value": ""}
    assert rules["max_bytes"] == 256 * 1024 * 1024
    assert fmt.validate_rules({"json_lines": True})["max_bytes"] == 1024 * 1024 * 1024
    with pytest.raises(Invalid) as missing:
        fmt.validate_rules({"fields": {"tags": "t"}})
    assert missing.value.field == "parsing_rules.fields"
