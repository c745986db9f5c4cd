"""The catalogue of built-in feed templates: complete, well-formed, and right about each layout."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from typing import Any

import pytest

from krsn.errors import Invalid, NotFound
from krsn.feeds.formats.base import ParsedRow, ParseError
from krsn.feeds.templates import FeedTemplate, build_credential, get_template, list_templates
from krsn.indicators.normalise import Indicator, normalise
from support import shared_data

ISSUE_FEEDS = {
    "urlhaus",
    "feodotracker",
    "threatfox",
    "sslbl-certificates",
    "malwarebazaar",
    "spamhaus-drop",
    "spamhaus-edrop",
    "et-compromised-ips",
    "openphish",
    "blocklist-de",
    "ipsum",
    "firehol-level1",
    "cins-army",
    "circl-osint",
    "taxii",
}
PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}")
SAMPLE_FAMILIES = {"maltrail", "blocklistproject", "blocklistproject-adguard", "urlhaus-filter"}

EXAMPLE_VALUES: dict[str, dict[str, str]] = {
    "taxii": {"api_root": "https://taxii.example.org/api1", "collection_id": "abc-123"},
    "maltrail": {"trail": "malware/emotet", "family": "Emotet"},
}


def get_format(name: str) -> Any:
    try:
        from krsn.feeds.formats.registry import get_format as lookup
    except ImportError:
        pytest.skip("krsn.feeds.formats.registry is not written yet: rules cannot be checked")
    return lookup(name)


def parse(template: FeedTemplate, data: bytes, **values: str) -> list[ParsedRow | ParseError]:
    rendered = template.render(values or EXAMPLE_VALUES.get(template.name))
    parser = get_format(rendered.format)
    return list(parser.parse(io.BytesIO(data), rendered.parsing_rules))


def rows_of(items: list[ParsedRow | ParseError]) -> list[ParsedRow]:
    errors = [item for item in items if isinstance(item, ParseError)]
    assert not errors, errors[:3]
    return [item for item in items if isinstance(item, ParsedRow)]


# --- The catalogue -------------------------------------------------------------------------


def test_every_feed_the_issue_names_has_a_template() -> None:
    names = {template.name for template in list_templates()}
    assert names >= ISSUE_FEEDS | SAMPLE_FAMILIES


def test_templates_are_well_formed() -> None:
    templates = list_templates()
    assert len({t.name for t in templates}) == len(templates)
    for template in templates:
        assert 0 <= template.default_confidence <= 100
        assert 0 <= template.source_reliability <= 100
        assert template.kinds, template.name
        assert template.licence and template.description, template.name
        rendered = template.render(EXAMPLE_VALUES.get(template.name))
        assert rendered.url.startswith("https://"), template.name
        assert "{" not in rendered.url, template.name
        assert not PLACEHOLDER.search(json.dumps(template.parsing_rules)), template.name


@pytest.mark.parametrize(
    "template", [t for t in list_templates() if t.format != "taxii"], ids=lambda t: t.name
)
def test_template_rules_validate_against_their_format(template: FeedTemplate) -> None:
    parser = get_format(template.format)
    parser.validate_rules(template.parsing_rules)
    parser.validate_rules(template.render(EXAMPLE_VALUES.get(template.name)).parsing_rules)


def test_an_unknown_template_names_the_close_ones() -> None:
    with pytest.raises(NotFound, match="feodotracker"):
        get_template("feodo")
    with pytest.raises(NotFound, match="spamhaus-drop"):
        get_template("spamhaus")
    assert get_template(" URLhaus ").name == "urlhaus"


# --- Parameters ----------------------------------------------------------------------------


def test_the_taxii_template_builds_the_collection_url_and_takes_a_credential() -> None:
    taxii = get_template("taxii")
    rendered = taxii.render(
        {
            "api_root": "https://taxii.example.org/api1/",
            "collection_id": "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
        }
    )
    assert rendered.url == (
        "https://taxii.example.org/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/"
    )
    assert build_credential(taxii, secret="pw", username="analyst") == {
        "type": "basic",
        "username": "analyst",
        "password": "pw",
    }
    assert build_credential(taxii, secret="t0k") == {"type": "bearer", "token": "t0k"}
    with pytest.raises(Invalid, match="credential is stored on the source") as caught:
        taxii.render({**EXAMPLE_VALUES["taxii"], "token": "t0k"})
    assert caught.value.field == "token"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"collection_id": "x"}, "api_root"),
        ({"api_root": "ftp://taxii.example.org", "collection_id": "x"}, "api_root"),
        (
            {"api_root": "https://taxii.example.org", "collection_id": "../../admin"},
            "collection_id",
        ),
        ({**EXAMPLE_VALUES["taxii"], "colection": "x"}, "colection"),
    ],
)
def test_bad_template_parameters_are_refused_by_name(values: dict[str, str], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        get_template("taxii").render(values)
    assert caught.value.field == field


def test_parameters_fill_rules_and_unset_ones_drop_out() -> None:
    maltrail = get_template("maltrail")
    with_family = maltrail.render({"trail": "malware/emotet", "family": "Emotet"})
    assert with_family.url == (
        "https://raw.githubusercontent.com/stamparm/maltrail/master/trails/static/malware/emotet.txt"
    )
    assert with_family.parsing_rules["malware_family"] == "Emotet"
    assert "malware_family" not in maltrail.render({"trail": "malware/emotet"}).parsing_rules
    with pytest.raises(Invalid):
        maltrail.render({"trail": "../../../etc/passwd"})
    hosts = get_template("blocklistproject").render({"list": "phishing"})
    assert hosts.url == "https://blocklistproject.github.io/Lists/phishing.txt"
    assert hosts.parsing_rules["tags"] == ["phishing"]
    assert get_template("blocklistproject").render().url.endswith("/ransomware.txt")


def test_abuse_ch_templates_take_an_auth_key_header() -> None:
    abuse_ch = [t for t in list_templates() if t.provider == "abuse.ch"]
    assert {t.name for t in abuse_ch} >= {"urlhaus", "threatfox", "feodotracker"}
    for template in abuse_ch:
        assert template.credential is not None, template.name
        assert (template.credential.types, template.credential.name) == (("header",), "Auth-Key")
    assert build_credential(get_template("urlhaus"), secret="abc") == {
        "type": "header",
        "name": "Auth-Key",
        "value": "abc",
    }
    with pytest.raises(Invalid, match="takes no credential"):
        build_credential(get_template("spamhaus-drop"), secret="abc")


# --- Each template reads its feed's real layout --------------------------------------------


def kinds(rows: list[ParsedRow]) -> Counter[str]:
    found: Counter[str] = Counter()
    for row in rows:
        result = normalise(row.value)
        found[result.kind.value if isinstance(result, Indicator) else "rejected"] += 1
    return found


SAMPLES: list[tuple[str, dict[str, str], tuple[str, ...], int, dict[str, int]]] = [
    ("feodotracker", {}, ("abusech-feodo", "ipblocklist.csv"), 28, {"ipv4": 28}),
    ("ipsum", {}, ("ipsum", "ipsum.txt"), 120_430, {"ipv4": 120_430}),
    ("threatfox-ips", {}, ("threatfox-ips", "ips.txt"), 19_863, {"ipv4": 19_863}),
    ("blocklistproject", {}, ("blocklistproject", "ransomware.txt"), 1904, {"domain": 1904}),
    (
        "blocklistproject-adguard",
        {},
        ("blocklistproject", "ransomware-ags.txt"),
        1904,
        {"domain": 1904},
    ),
    (
        "urlhaus-filter",
        {},
        ("urlhaus-filter", "urlhaus-filter-online.txt"),
        6817,
        {"domain": 1241, "ipv4": 5174, "url": 402},
    ),
    (
        "urlhaus-filter-rpz",
        {},
        ("urlhaus-filter", "urlhaus-filter-rpz-online.conf"),
        1241,
        {"domain": 1241},
    ),
]


@pytest.mark.parametrize(("name", "values", "path", "count", "expected"), SAMPLES)
def test_templates_read_the_local_samples(
    name: str, values: dict[str, str], path: tuple[str, ...], count: int, expected: dict[str, int]
) -> None:
    data = shared_data("feeds", *path).read_bytes()
    rows = rows_of(parse(get_template(name), data, **values))
    assert len(rows) == count
    assert kinds(rows) == expected


def test_the_feodo_template_keeps_dates_and_family() -> None:
    data = shared_data("feeds", "abusech-feodo", "ipblocklist.csv").read_bytes()
    first = rows_of(parse(get_template("feodotracker"), data))[0]
    assert first.value == "192.9.135.73"
    assert first.malware_family == "Pikabot"
    assert first.first_seen is not None and first.first_seen.isoformat().startswith("2023-05-23")
    assert first.last_seen is not None and first.last_seen.isoformat().startswith("2024-04-01")


@pytest.mark.parametrize(
    "trail", ["malware_emotet", "malware_agenttesla", "malware_apt_lazarus", "malicious_sliver"]
)
def test_maltrail_trails_skip_bare_paths_and_keep_indicators(trail: str) -> None:
    data = shared_data("feeds", "maltrail", f"{trail}.txt").read_bytes()
    rows = rows_of(parse(get_template("maltrail"), data, trail=trail.replace("_", "/", 1)))
    assert rows and not any(row.value.startswith("/") for row in rows)
    found = kinds(rows)
    assert found["rejected"] < len(rows) * 0.01, found


# Recorded lines in each feed's current layout, for the feeds with no local copy.
RECORDED: dict[str, tuple[bytes, list[tuple[str, dict[str, Any]]]]] = {
    "urlhaus": (
        b"################################################################\n"
        b"# abuse.ch URLhaus Database Dump (CSV - online URLs only)      #\n"
        b"#\n"
        b"# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
        b'"3045621","2024-04-04 07:00:05","http://198.51.100.23:43817/Mozi.m","online",'
        b'"2024-04-04 07:00:05","malware_download","elf,Mozi",'
        b'"https://urlhaus.abuse.ch/url/3045621/","lrz_urlhaus"\n',
        [
            (
                "http://198.51.100.23:43817/Mozi.m",
                {"tags": ("elf", "Mozi"), "description": "malware_download", "kind": "url"},
            )
        ],
    ),
    "threatfox": (
        json.dumps(
            {
                "1844853": [
                    {
                        "ioc_value": "64.227.143.36:5555",
                        "ioc_type": "ip:port",
                        "threat_type": "botnet_cc",
                        "malware": "win.cobalt_strike",
                        "malware_alias": "Agentemis,BEACON,CobaltStrike,cobeacon",
                        "malware_printable": "Cobalt Strike",
                        "first_seen_utc": "2026-07-04 21:46:30",
                        "last_seen_utc": None,
                        "confidence_level": 75,
                        "is_compromised": False,
                        "reference": None,
                        "tags": "CobaltStrike,drb-ra",
                        "anonymous": "0",
                        "reporter": "drb_ra",
                    }
                ],
                "1844855": [
                    {
                        "ioc_value": "dazayse.hi-lo.bet",
                        "ioc_type": "domain",
                        "threat_type": "payload_delivery",
                        "malware_printable": "ClearFake",
                        "first_seen_utc": "2026-07-04 22:19:04",
                        "last_seen_utc": None,
                        "confidence_level": 100,
                        "tags": "ClearFake,win-0x4679,windows",
                    }
                ],
            }
        ).encode(),
        [
            (
                "64.227.143.36:5555",
                {"kind": None, "malware_family": "Cobalt Strike", "confidence": 75.0},
            ),
            ("dazayse.hi-lo.bet", {"kind": "domain", "confidence": 100.0}),
        ],
    ),
    "sslbl-certificates": (
        b"################################################################\n"
        b"# abuse.ch SSLBL SSL Certificate Blacklist (SHA1 Fingerprints) #\n"
        b"# Listingdate,SHA1,Listingreason\n"
        b"2024-04-03 08:40:20,4b5cbb1f7c3d1d0b8f2e2cc5b2bd2e0d6d3e1f4a,AsyncRAT C&C\n",
        [
            (
                "4b5cbb1f7c3d1d0b8f2e2cc5b2bd2e0d6d3e1f4a",
                {"kind": "sha1", "description": "AsyncRAT C&C"},
            )
        ],
    ),
    "sslbl-ips": (
        b"# Firstseen,DstIP,DstPort\n2024-04-03 12:05:11,203.0.113.77,443\n",
        [("203.0.113.77", {"kind": "ipv4"})],
    ),
    "malwarebazaar": (
        b"################################################################\n"
        b"# MalwareBazaar recent malware samples (CSV)                   #\n"
        b'# "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name",'
        b'"file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep",'
        b'"tlsh"\n'
        b'"2026-08-11 05:46:57", "1e768ef07fb5576fd1e0e0f0795e9d2232d0d329fc86ef6e654a5a52318bd335"'
        b', "60151c2dfd54f09522181f197cb21092", "db165c79f4e206c8aee9234299eb456b9d986c9a", '
        b'"rep", "x.exe", "exe", "application/x-dosexec", "AgentTesla", "n/a", "n/a", '
        b'"f34d5f2d4577ed6d9ceec516c1f5a744", "3072:abc", "T1ABC"\n'
        b'"2026-08-11 05:45:52", "3687aa4cf981d249fa36cc6ba10c7b3f258cbb7fd0f63a6e6536a7aa69daf98d"'
        b', "7c1309c2a371a9f9d2f250cbc8cd2be3", "79ced6811afcf526f0886d232021dadbf51781df", '
        b'"rep", "b.arm6", "elf", "application/x-executable", "n/a", "n/a", "n/a", "n/a", '
        b'"384:x", "T1"\n',
        [
            (
                "1e768ef07fb5576fd1e0e0f0795e9d2232d0d329fc86ef6e654a5a52318bd335",
                {"malware_family": "AgentTesla", "kind": "sha256"},
            ),
            (
                "3687aa4cf981d249fa36cc6ba10c7b3f258cbb7fd0f63a6e6536a7aa69daf98d",
                {"malware_family": None},
            ),
        ],
    ),
    "spamhaus-drop": (
        b"; Spamhaus DROP List 2024/04/04 - (c) 2024 The Spamhaus Project SLU\n"
        b"; https://www.spamhaus.org/drop/drop.txt\n"
        b"; Last-Modified: Thu, 04 Apr 2024 09:17:39 GMT\n"
        b"1.10.16.0/20 ; SBL256894\n"
        b"2.56.192.0/22 ; SBL459831\n",
        [("1.10.16.0/20", {"kind": "cidr"}), ("2.56.192.0/22", {"kind": "cidr"})],
    ),
    "spamhaus-drop-v6": (
        b"; Spamhaus IPv6 DROP List\n2001:678:738::/48 ; SBL635844\n",
        [("2001:678:738::/48", {"kind": "cidr"})],
    ),
    "firehol-level1": (
        b"#\n# firehol_level1\n#\n0.0.0.0/8\n1.10.16.0/20\n5.188.11.1\n",
        [("0.0.0.0/8", {}), ("1.10.16.0/20", {}), ("5.188.11.1", {})],
    ),
    "openphish": (
        b"https://login-secure.example-phish.com/signin\nhttp://198.51.100.4/paypal/\n",
        [
            ("https://login-secure.example-phish.com/signin", {"kind": "url"}),
            ("http://198.51.100.4/paypal/", {"kind": "url"}),
        ],
    ),
    "blocklist-de": (
        b"1.12.249.176\n2001:db8::dead:beef\n",
        [("1.12.249.176", {"kind": None}), ("2001:db8::dead:beef", {"kind": None})],
    ),
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_templates_read_recorded_lines_of_their_feed(name: str) -> None:
    data, expected = RECORDED[name]
    rows = rows_of(parse(get_template(name), data))
    assert [row.value for row in rows] == [value for value, _ in expected]
    for row, (_, fields) in zip(rows, expected, strict=True):
        for field, wanted in fields.items():
            assert getattr(row, field) == wanted, (name, field)


def test_the_spamhaus_sbl_id_is_kept_in_extra() -> None:
    data, _ = RECORDED["spamhaus-drop"]
    first = rows_of(parse(get_template("spamhaus-drop"), data))[0]
    assert first.extra.get("sbl") == "SBL256894"
