"""Hostile and mistaken input: huge lines, binary garbage, endless responses, wrong formats.

Every case ends in rows and ``ParseError``s or one ``FormatError``, never another exception
or a hang, and memory stays bounded by the limits in the rules.
"""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.registry import get_format

MIB = 1024 * 1024


class WatchedStream(io.BytesIO):
    """Bytes that remember the largest single read asked of them."""

    largest = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        line = super().readline(size)
        self.largest = max(self.largest, len(line))
        return line


class EndlessStream(io.RawIOBase):
    """A response that never ends (a "2 GB" body), made up on the fly."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.pending = head
        self.body = body
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while len(self.pending) < len(buffer):
            self.pending += self.body * 1024
        size = len(buffer)
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.served += size
        return size


def drain(fmt: str, data: bytes | io.IOBase, rules: dict | None = None) -> list:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    return list(get_format(fmt).parse(stream, rules or {}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fmt", "rules"), [("text", {}), ("csv", {}), ("json", {"json_lines": True})]
)
def test_a_one_mib_line_is_one_error_and_is_never_read_whole(fmt, rules):
    good = b'"ok.example"' if fmt == "json" else b"ok.example"
    data = good + b"\n" + b"a" * MIB + b"\n" + good + b"\n"
    stream = WatchedStream(data)
    items = drain(fmt, stream, rules)
    assert [type(i) for i in items] == [ParsedRow, ParseError, ParsedRow]
    assert items[1].line == 2 and "longer than 65,536 bytes" in items[1].reason
    assert stream.largest <= 65_536 + 2


def test_a_long_last_line_without_newline_is_reported(parse):
    rows, errors = parse("text", b"a.example\n" + b"b" * 70_000)
    assert [r.value for r in rows] == ["a.example"]
    assert [e.line for e in errors] == [2]


@pytest.mark.parametrize("fmt", ["text", "csv"])
def test_nul_bytes_and_bad_utf8_cost_only_their_line(fmt, parse):
    lines = [f"host{i}.example".encode() for i in range(200)]
    lines[10] = b"evil\x00.example"
    lines[20] = b"caf\xe9.example"
    rows, errors = parse(fmt, b"\n".join(lines) + b"\n")
    assert len(rows) == 198
    assert [(e.line, e.reason.split(":")[0]) for e in errors] == [
        (11, "binary data"),
        (21, "not valid utf-8 at column 4"),
    ]


@pytest.mark.parametrize(
    ("fmt", "rules"),
    [
        ("text", {}),
        ("csv", {}),
        ("json", {}),
        ("json", {"json_lines": True}),
        ("xml", {"item_xpath": "//item"}),
        ("stix", {}),
        ("misp", {}),
    ],
)
def test_random_binary_is_a_format_error(fmt, rules):
    garbage = random.Random(7).randbytes(MIB)
    with pytest.raises(FormatError, match=r"not text|not valid JSON|not well-formed"):
        drain(fmt, garbage, rules)


def test_binary_after_a_text_start_is_refused_once_it_dominates():
    head = b"\n".join(f"host{i}.example".encode() for i in range(1000)) + b"\n"
    garbage = random.Random(8).randbytes(4 * MIB)
    with pytest.raises(FormatError, match="not text"):
        drain("text", head + garbage)


@pytest.mark.parametrize(
    ("fmt", "rules", "head", "body"),
    [
        ("text", {"max_bytes": 4 * MIB}, b"", b"198.51.100.7\n"),
        ("csv", {"max_records": 50_000}, b"", b"198.51.100.7,x\n"),
        ("json", {"max_bytes": 4 * MIB}, b"[", b'"198.51.100.7",'),
        ("json", {"json_lines": True, "max_bytes": 4 * MIB}, b"", b'{"v": 1}\n'),
        ("xml", {"item_xpath": "//i", "max_bytes": 4 * MIB}, b"<r>", b"<i>a</i>"),
        ("stix", {"max_bytes": 4 * MIB}, b'{"objects": [', b'{"type": "x"},'),
        ("misp", {"max_bytes": 4 * MIB}, b'{"Event": {"Attribute": [', b"{},"),
    ],
)
def test_an_endless_response_stops_at_the_limit(fmt, rules, head, body):
    stream = EndlessStream(head, body)
    with pytest.raises(FormatError, match=r"max_bytes|max_records"):
        drain(fmt, io.BufferedReader(stream), rules)
    assert stream.served <= 8 * MIB + 64 * 1024


def test_too_many_lines_is_refused(parse):
    with pytest.raises(FormatError, match="more than 3 records"):
        parse("text", b"a\nb\nc\nd\n", {"max_records": 3})


def test_wrong_formats_give_clear_errors(shared_data, parse):
    stix = shared_data("stix", "oasis-docs", "apt1.json")
    with pytest.raises(FormatError, match="looks like JSON"):
        parse("csv", stix, {"columns": {"value": 1}})
    with pytest.raises(FormatError, match="looks like JSON"):
        parse("text", shared_data("misp", "pymisp", "long_event.json"))
    with pytest.raises(FormatError, match="not in the header"):
        parse(
            "csv",
            shared_data("feeds", "ipsum", "ipsum.txt"),
            {"header": True, "columns": {"value": "ip"}},
        )
    with pytest.raises(FormatError, match="not valid JSON"):
        parse("stix", shared_data("feeds", "threatfox-ips", "ips.txt"))
    with pytest.raises(FormatError, match="not well-formed"):
        parse("xml", stix, {"item_xpath": "//indicator"})
    with pytest.raises(FormatError, match="looks like XML"):
        parse("text", b'<?xml version="1.0"?>\n<items/>\n')


def test_csv_rules_on_a_compact_stix_bundle_report_rows_not_crashes(shared_data, parse):
    # One line of JSON that does not start like JSON to the sniffer still parses to errors or
    # rows; nothing else escapes.
    body = b"x" + shared_data("stix", "oasis-docs", "indicator-for-malicious-url.json").read_bytes()
    rows, errors = parse("csv", body.replace(b"\n", b" "), {"columns": {"value": 3}})
    assert len(rows) + len(errors) == 1


TEXT_RULES = st.sampled_from(
    [
        {},
        {"comment_prefix": ["#", "!", ";"]},
        {"regex": r"^(?P<value>\S+)(?:\s+(?P<first_seen>\S+))?"},
        {"regex": r"(?P<value>[a-z.]+)", "skip_unmatched": True, "max_line_length": 16},
    ]
)
CSV_RULES = st.sampled_from(
    [
        {},
        {"header": True, "columns": {"value": 0, "first_seen": 1, "confidence": 2}},
        {"delimiter": ";", "columns": {"value": 1, "tags": 0}, "max_line_length": 32},
        {"fieldnames": ["a", "b"], "columns": {"value": "b"}, "quotechar": "'"},
    ]
)


def _only_rows_and_errors(fmt: str, data: bytes, rules: dict) -> None:
    try:
        items = drain(fmt, data, rules)
    except FormatError:
        return
    assert all(isinstance(i, ParsedRow | ParseError) for i in items)
    lines = [i.line for i in items]
    assert lines == sorted(lines)
    assert all(isinstance(i, ParseError) or i.value.strip() == i.value != "" for i in items)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), rules=TEXT_RULES)
def test_text_parser_never_fails_but_with_format_error_on_any_text(text, rules):
    _only_rows_and_errors("text", text.encode("utf-8", "surrogatepass"), rules)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), rules=CSV_RULES)
def test_csv_parser_never_fails_but_with_format_error_on_any_text(text, rules):
    _only_rows_and_errors("csv", text.encode("utf-8", "surrogatepass"), rules)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=4096), fmt=st.sampled_from(["text", "csv"]))
def test_line_parsers_never_fail_but_with_format_error_on_any_bytes(data, fmt):
    _only_rows_and_errors(fmt, data, {})


VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1
).filter(lambda v: v.strip() == v and not v.startswith(("#", "{", "[", "<")))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(VALUES, min_size=1, max_size=50), crlf=st.booleans())
def test_a_plain_list_gives_back_exactly_its_values(values, crlf):
    newline = "\r\n" if crlf else "\n"
    body = ("# header" + newline + newline.join(values)).encode()
    items = drain("text", body, {})
    assert [(i.line, i.value) for i in items] == [(n, v) for n, v in enumerate(values, start=2)]
