"""The STIX format: indicator patterns and observables from real 2.0 and 2.1 bundles."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from krsn.feeds.formats.base import FormatError
from krsn.feeds.formats.stix_format import simple_comparisons


def objects_of(path):
    return json.loads(path.read_text(encoding="utf-8"))["objects"]


def test_url_indicator_gives_its_url_dates_labels_and_malware(shared_data, parse):
    path = shared_data("stix", "oasis-docs", "indicator-for-malicious-url.json")
    objects = objects_of(path)
    indicator = next(o for o in objects if o["type"] == "indicator")
    malware = next(o for o in objects if o["type"] == "malware")
    rows, errors = parse("stix", path)
    assert errors == []
    (row,) = rows
    assert f"[url:value = '{row.value}']" == indicator["pattern"]
    assert row.kind == "url"
    assert row.first_seen is not None
    assert row.first_seen.isoformat().startswith(indicator["valid_from"][:19])
    assert row.tags == tuple(indicator["indicator_types"])
    assert row.malware_family == malware["name"]
    assert row.extra["stix_id"] == indicator["id"]
    assert row.extra["spec_version"] == "2.1"
    assert row.line == objects.index(indicator) + 1


def test_file_hash_indicator_gives_the_hash_with_its_kind(shared_data, parse):
    path = shared_data("stix", "oasis-docs", "malware-indicator-for-file-hash.json")
    pattern = next(o for o in objects_of(path) if o["type"] == "indicator")["pattern"]
    rows, _ = parse("stix", path)
    assert [(r.kind, r.value) for r in rows] == [("sha256", pattern.split("'")[-2])]


def test_tlp_marking_definition_in_the_bundle_reaches_the_row(shared_data, parse):
    path = shared_data("stix", "oasis-docs", "using-marking-definitions.json")
    tlp = next(
        o["definition"]["tlp"]
        for o in objects_of(path)
        if o["type"] == "marking-definition" and o.get("definition_type") == "tlp"
    )
    rows, _ = parse("stix", path)
    assert [r.extra["tlp"] for r in rows] == [f"tlp:{tlp}"]


def test_or_of_md5_comparisons_gives_one_row_per_hash_and_the_rest_stay_patterns(
    shared_data, parse
):
    path = shared_data("stix", "stix-elevator", "Appendix_G_IOCs_Full.json")
    indicators = [o for o in objects_of(path) if o["type"] == "indicator"]
    only_md5 = re.compile(
        r"\[file:hashes\.MD5 = '[0-9a-f]{32}'(?: OR file:hashes\.MD5 = '[0-9a-f]{32}')*\]"
    )
    simple = [o for o in indicators if only_md5.fullmatch(o["pattern"])]
    expected_hashes = [h for o in simple for h in re.findall(r"'([0-9a-f]{32})'", o["pattern"])]
    rows, errors = parse("stix", path)
    assert errors == []
    assert len(indicators) == 47
    hashes = [r.value for r in rows if r.kind == "md5"]
    assert hashes == expected_hashes
    complex_rows = [r for r in rows if r.kind is None]
    assert len(complex_rows) == len(indicators) - len(simple)
    assert all(r.value == r.extra["pattern"] for r in complex_rows)


def test_composite_patterns_with_and_are_kept_whole(shared_data, parse):
    path = shared_data("stix", "stix-elevator", "composite.json")
    indicators = [o for o in objects_of(path) if o["type"] == "indicator"]
    rows, _ = parse("stix", path)
    kept = [r.value for r in rows if r.kind is None]
    assert kept == [o["pattern"] for o in indicators if " AND " in o["pattern"]]
    assert len({r.extra["stix_id"] for r in rows}) == len(indicators)


def test_observables_without_spec_version_are_rows(shared_data, parse):
    path = shared_data("stix", "json-schemas-examples", "infrastructure.json")
    scos = {o["type"]: o["value"] for o in objects_of(path) if "value" in o}
    rows, _ = parse("stix", path)
    assert {(r.kind, r.value) for r in rows} == {
        ("ipv4", scos["ipv4-addr"]),
        ("domain", scos["domain-name"]),
    }
    _, none_when_off = parse("stix", path, {"include_observables": False})
    assert parse("stix", path, {"include_observables": False})[0] == []
    assert none_when_off == []


def test_observables_are_dated_by_the_observed_data_that_saw_them(shared_data, parse):
    path = shared_data("misp", "misp-stix-pairs", "test_event1_stix21.json")
    objects = objects_of(path)
    domain = next(o for o in objects if o["type"] == "domain-name")
    observed = next(
        o for o in objects if o["type"] == "observed-data" and domain["id"] in o["object_refs"]
    )
    ref = domain["id"]
    rows, _ = parse("stix", path)
    seen = [r for r in rows if r.extra["stix_id"] == ref]
    assert [r.value for r in seen] == [domain["value"]]
    assert seen[0].first_seen is not None and seen[0].last_seen is not None
    assert seen[0].first_seen.isoformat()[:19] == observed["first_observed"][:19]
    assert seen[0].last_seen.isoformat()[:19] == observed["last_observed"][:19]


def test_c2_ip_list_observables_in_bundle_order(shared_data, parse):
    path = shared_data("stix", "stix-elevator", "command-and-control-ip-list.json")
    ips = [o["value"] for o in objects_of(path) if o["type"] == "ipv4-addr"]
    rows, _ = parse("stix", path)
    assert [(r.line, r.kind, r.value) for r in rows] == [
        (n, "ipv4", ip) for n, ip in enumerate(ips, start=1)
    ]


def test_stix_20_and_21_renderings_of_one_event_give_the_same_indicators(shared_data, parse):
    for name in ("test_event1", "test_objects_collection"):
        older, _ = parse("stix", shared_data("misp", "misp-stix-pairs", f"{name}_stix20.json"))
        newer, _ = parse("stix", shared_data("misp", "misp-stix-pairs", f"{name}_stix21.json"))
        assert older, name
        assert Counter((r.kind, r.value) for r in older) == Counter(
            (r.kind, r.value) for r in newer
        )
        assert {r.extra["spec_version"] for r in older} == {"2.0"}


def test_documents_without_indicators_give_nothing(shared_data, parse):
    rows, errors = parse("stix", shared_data("stix", "common-objects", "paid_ransom.json"))
    assert rows == errors == []
    single = shared_data(
        "stix",
        "python-stix2-store",
        "directory",
        "directory--572827aa-e0cd-44fd-afd5-a717a7585f39.json",
    )
    assert parse("stix", single) == ([], [])


def test_non_stix_documents_are_format_errors(shared_data, parse):
    with pytest.raises(FormatError, match="not STIX"):
        parse("stix", shared_data("stix", "taxii", "default_data.json"))
    with pytest.raises(FormatError, match="not STIX"):
        parse("stix", shared_data("misp", "pymisp", "57c4445b-c548-4654-af0b-4be3950d210f.json"))


def test_bare_lists_and_broken_objects(parse):
    body = json.dumps(
        [
            {
                "type": "indicator",
                "id": "indicator--1",
                "pattern": "[ipv6-addr:value = '2001:db8::/32']",
            },
            {"type": "indicator", "id": "indicator--2"},
            "not an object",
            {"type": "indicator", "id": "indicator--3", "pattern": "x", "pattern_type": "sigma"},
            {
                "type": "indicator",
                "id": "indicator--4",
                "pattern": "[url:value = 'a']",
                "confidence": 300,
            },
        ]
    ).encode()
    rows, errors = parse("stix", body)
    assert [(r.line, r.kind, r.value) for r in rows] == [
        (1, "cidr", "2001:db8::/32"),
        (4, None, "x"),
    ]
    assert rows[1].extra["pattern_type"] == "sigma"
    assert [e.line for e in errors] == [2, 3, 5]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ipv4-addr:value = '198.51.100.1']", [("ipv4", "198.51.100.1")]),
        (
            "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']",
            [("domain", "a.example"), ("domain", "b.example")],
        ),
        (
            "[url:value = 'http://x/?q=it\\'s'] OR [email-addr:value = 'a@b.example']",
            [("url", "http://x/?q=it's"), ("email", "a@b.example")],
        ),
        (
            "[file:hashes.'SHA-1' = 'aa' OR file:hashes.SHA256 = 'bb'"
            " OR file:hashes.'SHA-512' = 'cc']",
            [("sha1", "aa"), ("sha256", "bb"), ("sha512", "cc")],
        ),
        ("[email-message:from_ref.value = 'x@y.example']", [("email", "x@y.example")]),
        ("[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']", None),
        ("[ipv4-addr:value = '1.2.3.4'] WITHIN 10 SECONDS", None),
        ("[ipv4-addr:value != '1.2.3.4']", None),
        ("[file:name = 'x.exe']", None),
        ("[network-traffic:dst_ref.value = '1.2.3.4']", None),
        ("[email-message:to_refs[*].value = 'a@b.example']", None),
        ("[ipv4-addr:value = '1.2.3.4'", None),
        ("ipv4-addr:value = '1.2.3.4'", None),
        ("", None),
    ],
)
def test_simple_comparisons(pattern, expected):
    assert simple_comparisons(pattern) == expected
