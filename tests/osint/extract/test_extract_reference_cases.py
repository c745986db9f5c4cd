"""The published extractors' own labelled cases, read from the shared sample data."""

from __future__ import annotations

import pytest

from krsn.indicators.normalise import Indicator, Kind, normalise
from krsn.osint.extract.text import extract_text
from krsn.osint.models import EntityType as T
from support import shared_data

_ENTITY = {
    Kind.IPV4: T.IP_ADDRESS,
    Kind.IPV6: T.IP_ADDRESS,
    Kind.CIDR: T.IP_ADDRESS,
    Kind.DOMAIN: T.DOMAIN,
    Kind.URL: T.URL,
    Kind.EMAIL: T.EMAIL,
    Kind.MD5: T.HASH,
    Kind.SHA1: T.HASH,
    Kind.SHA256: T.HASH,
    Kind.SHA512: T.HASH,
}


def found(text: str) -> set[tuple[T, str]]:
    return {(f.entity_type, f.canonical) for f in extract_text(text, ner=False)}


def test_iocextract_valid_values_are_all_found_in_its_input():
    folder = shared_data("ioc-text", "iocextract")
    text = (folder / "input.txt").read_text()
    ours = found(text)
    # Hosts inside URLs count: a URL finding carries its host.
    hosts = {c.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0] for t, c in ours if t is T.URL}
    missing = []
    for line in (folder / "valid.txt").read_text().splitlines():
        result = normalise(line)
        if not isinstance(result, Indicator):
            continue  # values the platform itself refuses (http://[example.com)
        wanted = (_ENTITY[result.kind], result.value)
        if wanted not in ours and not (wanted[0] is T.DOMAIN and result.value in hosts):
            missing.append(line)
    assert missing == []


def test_iocextract_invalid_values_yield_nothing():
    folder = shared_data("ioc-text", "iocextract")
    for line in (folder / "invalid.txt").read_text().splitlines():
        assert found(line) == set(), line


def test_iocsearcher_bitcoin_ethereum_and_monero_addresses_are_all_found():
    path = shared_data("ioc-text", "iocsearcher", "blockchain_valid.ioc")
    lines = [line.split(" ", 1) for line in path.read_text().splitlines() if line.strip()]
    ours = {
        (f.subtype, f.canonical)
        for f in extract_text(path.read_text(), types=[T.CRYPTOCURRENCY_ADDRESS], ner=False)
    }
    coin_of = {"bitcoin": "btc", "ethereum": "eth", "monero": "xmr"}
    wanted = {
        (
            coin_of[coin],
            address.lower() if coin == "ethereum" or address.startswith("bc1") else address,
        )
        for coin, address in lines
        if coin in coin_of
    }
    assert wanted == ours  # and nothing of the other coins


@pytest.mark.parametrize("case_name", ["domain_1", "ipv4_1", "ipv6_1", "monero_2", "cve_1"])
def test_ioc_finder_cases_of_our_types_are_matched(case_name):
    import json

    cases = json.loads(shared_data("ioc-text", "ioc-finder", "ioc-finder-cases.json").read_text())
    case = next(c for c in cases["cases"] if c["id"] == case_name)
    ours = extract_text(case["text"], ner=False)
    expected = case["expected"]
    by_type = {
        "domains": T.DOMAIN,
        "ipv4s": T.IP_ADDRESS,
        "ipv6s": T.IP_ADDRESS,
        "monero_addresses": T.CRYPTOCURRENCY_ADDRESS,
        "cves": T.CVE,
    }
    for key, entity_type in by_type.items():
        if key not in expected:
            continue
        want = set()
        for value in expected[key]:
            result = normalise(value) if entity_type in (T.DOMAIN, T.IP_ADDRESS) else None
            want.add(result.value if isinstance(result, Indicator) else value)
        assert {f.canonical for f in ours if f.entity_type is entity_type} == want, key


def test_eset_sample_hashes_in_a_report_are_all_found():
    folder = shared_data("ioc-text", "eset", "agrius")
    text = (folder / "README.adoc").read_text()
    sha1 = {line.strip().lower() for line in (folder / "samples.sha1").read_text().split()}
    ours = {f.canonical for f in extract_text(text, types=[T.HASH], ner=False)}
    assert sha1 <= ours
