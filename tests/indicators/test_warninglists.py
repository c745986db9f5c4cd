"""Warninglists: MISP's lists and the built-in ones stop known-benign values, and say why."""

from __future__ import annotations

import ipaddress
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krsn.config import Settings
from krsn.errors import Invalid
from krsn.indicators.builtin_warninglists import BUILTIN_WARNINGLISTS
from krsn.indicators.normalise import Indicator, Kind, normalise
from krsn.indicators.warninglists import (
    Warninglist,
    WarninglistIndex,
    default_index,
    import_warninglists,
    kinds_of_attribute,
    load_directory,
    load_warninglist,
)
from support import shared_data

# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def misp_dir() -> Path:
    """The MISP lists of ../shared/data (skipped when absent, failed under CI)."""
    return shared_data("misp-warninglists")


@pytest.fixture(scope="module")
def misp_lists(misp_dir: Path) -> dict[str, Warninglist]:
    """Every shared list by its folder name (``rfc1918``, ``tranco10k``...)."""
    return {Path(w.origin).parent.name: w for w in load_directory(misp_dir)}


@pytest.fixture(scope="module")
def full_index(misp_lists: dict[str, Warninglist]) -> WarninglistIndex:
    """The built-in lists first, then every shared list: what the platform runs with."""
    return WarninglistIndex.build([*BUILTIN_WARNINGLISTS, *misp_lists.values()])


@pytest.fixture(scope="module")
def builtin_index() -> WarninglistIndex:
    return WarninglistIndex.build(BUILTIN_WARNINGLISTS)


def alone(wl: Warninglist) -> WarninglistIndex:
    return WarninglistIndex.build([wl])


def make(list_type: str, entries: list[str], attributes: list[str], name: str = "t") -> Warninglist:
    return load_warninglist(
        {
            "name": name,
            "version": 1,
            "description": "a list written by the test",
            "type": list_type,
            "matching_attributes": attributes,
            "list": entries,
        }
    )


def networks(wl: Warninglist) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e, strict=False) for e in wl.entries]


# --- loading --------------------------------------------------------------------------------


def test_every_shared_list_loads_with_its_type_and_kinds(
    misp_dir: Path, misp_lists: dict[str, Warninglist]
) -> None:
    files = sorted(misp_dir.glob("lists/*/list.json"))
    assert len(misp_lists) == len(files) >= 18
    for folder, wl in misp_lists.items():
        raw = json.loads((misp_dir / "lists" / folder / "list.json").read_text())
        assert wl.name == raw["name"] and wl.type == raw["type"] and wl.version == raw["version"]
        assert len(wl.entries) == len(raw["list"])
        assert wl.kinds, f"{folder} judges no kind of ours"
    assert misp_lists["rfc1918"].kinds == {Kind.IPV4, Kind.IPV6, Kind.CIDR}
    assert misp_lists["tranco10k"].kinds == {Kind.DOMAIN, Kind.URL}
    assert misp_lists["empty-hashes"].kinds == {Kind.MD5, Kind.SHA1, Kind.SHA256, Kind.SHA512}
    # the schema file beside the lists is not taken for one
    assert all(Path(w.origin).name == "list.json" for w in misp_lists.values())


def test_attribute_types_map_to_kinds_including_composites() -> None:
    assert kinds_of_attribute("domain|ip") == {Kind.DOMAIN, Kind.IPV4, Kind.IPV6, Kind.CIDR}
    assert kinds_of_attribute("filename|sha256") == {Kind.SHA256}
    assert kinds_of_attribute("email-src") == {Kind.EMAIL}
    assert kinds_of_attribute("ssdeep") == frozenset()


def test_a_list_without_matching_attributes_judges_every_kind_its_type_allows() -> None:
    assert make("cidr", ["10.0.0.0/8"], []).kinds == {Kind.IPV4, Kind.IPV6, Kind.CIDR}
    assert make("string", ["x"], []).kinds == set(Kind)


@pytest.mark.parametrize(
    ("change", "where", "why"),
    [
        ({"type": "glob"}, "type", "not one of"),
        ({"version": "3"}, "version", "must be int"),
        ({"version": True}, "version", "must be int"),
        ({"list": "10.0.0.0/8"}, "list", "must be list"),
        ({"list": ["10.0.0.0/8", "10.0.0.300"]}, "list[1]", "not an IP address"),
        ({"matching_attributes": "ip-src"}, "matching_attributes", "list of strings"),
        ({"name": ""}, "name", "must not be empty"),
    ],
)
def test_an_invalid_list_is_refused_naming_the_file_and_key(
    tmp_path: Path, change: dict[str, object], where: str, why: str
) -> None:
    data = {
        "name": "broken",
        "version": 1,
        "description": "d",
        "type": "cidr",
        "list": ["10.0.0.0/8"],
        **change,
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(Invalid) as caught:
        load_warninglist(path)
    assert caught.value.field == f"{path}: {where}"
    assert why in caught.value.reason


def test_missing_keys_bad_json_and_bad_entries_are_named(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text('{"name": "x", "version": 1, "type": "string", "list": []}')
    with pytest.raises(Invalid, match="description: missing"):
        load_warninglist(path)
    path.write_text("{not json")
    with pytest.raises(Invalid, match="not valid JSON"):
        load_warninglist(path)
    with pytest.raises(Invalid, match=r"list\[0\].*not a host name"):
        make("hostname", ["bad host name"], ["domain"])
    with pytest.raises(Invalid, match=r"list\[0\].*regular expression"):
        make("regex", ["/unclosed(/"], ["url"])


def test_a_folder_of_plain_json_files_loads_and_duplicate_names_are_refused(
    tmp_path: Path,
) -> None:
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.json").write_text(make("string", ["x"], [], name=stem).to_json())
    assert [w.name for w in load_directory(tmp_path)] == ["a", "b"]
    (tmp_path / "c.json").write_text(make("string", ["y"], [], name="a").to_json())
    with pytest.raises(Invalid, match="also the name of the list in"):
        load_directory(tmp_path)


# --- matching, with values taken from the lists themselves -----------------------------------


def test_an_exact_entry_of_a_string_list_matches_its_list(
    misp_lists: dict[str, Warninglist],
) -> None:
    hashes = misp_lists["common-ioc-false-positive"]
    index = alone(hashes)
    for entry in hashes.entries:
        result = normalise(entry)
        assert isinstance(result, Indicator)
        assert index.match(result.kind, result.value) == hashes.name
    tlds = misp_lists["tlds"]
    assert alone(tlds).match(Kind.DOMAIN, tlds.entries[0].lower()) == tlds.name  # AAA is aaa


def test_a_hostname_entry_and_every_name_under_it_match(
    misp_lists: dict[str, Warninglist],
) -> None:
    for folder in ("tranco10k", "url-shortener", "dynamic-dns"):
        wl = misp_lists[folder]
        index = alone(wl)
        for entry in wl.entries[:: max(1, len(wl.entries) // 50)]:
            host = entry.strip(".")
            assert index.match(Kind.DOMAIN, host) == wl.name
            assert index.match(Kind.DOMAIN, f"deep.sub.{host}") == wl.name
            # a name that only ends with the same letters is not under the entry
            assert index.match(Kind.DOMAIN, f"x{host}") in (None, wl.name)
    tranco = misp_lists["tranco10k"]
    assert alone(tranco).match(Kind.DOMAIN, "xgoogle.com") is None
    assert "google.com" in tranco.entries


def test_an_address_inside_a_cidr_entry_matches_and_one_just_outside_does_not(
    misp_lists: dict[str, Warninglist],
) -> None:
    for folder in ("rfc1918", "rfc5735", "rfc6598", "multicast", "amazon-aws", "sinkholes"):
        wl = misp_lists[folder]
        index = alone(wl)
        nets = networks(wl)
        for net in nets[:: max(1, len(nets) // 40)]:
            assert index.match(Kind.IPV4, str(net.network_address)) == wl.name
            assert index.match(Kind.IPV4, str(net.broadcast_address)) == wl.name
            for outside in (int(net.network_address) - 1, int(net.broadcast_address) + 1):
                if 0 <= outside < 2**32:
                    address = ipaddress.IPv4Address(outside)
                    covered = any(address in other for other in nets)
                    expected = wl.name if covered else None
                    assert index.match(Kind.IPV4, str(address)) == expected


def test_single_addresses_of_a_cidr_list_are_ranges_of_one(
    misp_lists: dict[str, Warninglist],
) -> None:
    resolvers = misp_lists["public-dns-v4"]
    index = alone(resolvers)
    assert "8.8.8.8" in resolvers.entries
    assert index.match(Kind.IPV4, "8.8.8.8") == resolvers.name
    assert index.match(Kind.IPV4, "8.8.8.7") is None


def test_a_cidr_value_inside_a_listed_range_matches_and_one_overlapping_it_does_not(
    misp_lists: dict[str, Warninglist],
) -> None:
    rfc1918 = misp_lists["rfc1918"]
    index = alone(rfc1918)
    assert index.match(Kind.CIDR, "10.20.0.0/16") == rfc1918.name
    assert index.match(Kind.CIDR, "172.16.0.0/12") == rfc1918.name
    assert index.match(Kind.CIDR, "172.0.0.0/8") is None  # larger than the listed /12
    assert index.match(Kind.CIDR, "11.0.0.0/8") is None
    assert index.match(Kind.CIDR, "192.168.1.1") == rfc1918.name  # a plain address as CIDR


def test_ipv6_addresses_and_ranges_match(misp_lists: dict[str, Warninglist]) -> None:
    linklocal, documentation = misp_lists["ipv6-linklocal"], misp_lists["rfc3849"]
    index = WarninglistIndex.build([linklocal, documentation, misp_lists["public-dns-v6"]])
    assert index.match(Kind.IPV6, "fe80::1") == linklocal.name  # the entry is FE80::/10
    assert index.match(Kind.IPV6, "febf:ffff::1") == linklocal.name
    assert index.match(Kind.IPV6, "fec0::1") is None
    assert index.match(Kind.IPV6, "2001:db8:1::5") == documentation.name
    assert index.match(Kind.CIDR, "2001:db8:ab00::/40") == documentation.name
    resolver = ipaddress.ip_address(misp_lists["public-dns-v6"].entries[0]).compressed
    assert index.match(Kind.IPV6, resolver) == misp_lists["public-dns-v6"].name


def test_a_url_whose_host_is_listed_matches(
    misp_lists: dict[str, Warninglist], full_index: WarninglistIndex
) -> None:
    shortener = misp_lists["url-shortener"]
    host = shortener.entries[3]
    assert alone(shortener).match(Kind.URL, f"https://{host}/a1b2c3?x=1") == shortener.name
    assert alone(shortener).match(Kind.URL, f"https://user@{host}:8443/x") == shortener.name
    # lists on domains and on addresses judge a URL's host too
    assert full_index.match(Kind.URL, "http://192.168.1.20/admin") == "krsn-special-ipv4"
    assert full_index.match(Kind.URL, "http://[fe80::1]/") == "krsn-special-ipv6"
    dynamic = misp_lists["dynamic-dns"]
    host = dynamic.entries[10].strip(".")
    assert alone(dynamic).match(Kind.URL, f"http://c2.{host}/gate.php") == dynamic.name


def test_a_value_of_a_kind_the_list_does_not_judge_does_not_match(
    misp_lists: dict[str, Warninglist],
) -> None:
    tranco = misp_lists["tranco10k"]  # hostname, domain, url
    assert alone(tranco).match(Kind.EMAIL, "someone@google.com") is None
    rfc6761 = misp_lists["rfc6761"]  # strings on hostname and domain only
    assert alone(rfc6761).match(Kind.DOMAIN, "example.com") == rfc6761.name
    assert alone(rfc6761).match(Kind.EMAIL, "someone@example.com") is None
    hashes = misp_lists["empty-hashes"]
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    assert alone(hashes).match(Kind.MD5, md5) == hashes.name
    only_urls = make("string", [md5], ["url"])
    assert alone(only_urls).match(Kind.MD5, md5) is None
    assert alone(misp_lists["rfc1918"]).match(Kind.DOMAIN, "10.0.0.1") is None


def test_string_lists_on_urls_keep_case_and_other_kinds_ignore_it() -> None:
    url_list = make("string", ["http://x.com/Path"], ["url"])
    assert alone(url_list).match(Kind.URL, "http://x.com/Path") == "t"
    assert alone(url_list).match(Kind.URL, "http://x.com/path") is None
    emails = make("string", ["Boss@Corp.COM"], ["email-src"])
    assert alone(emails).match(Kind.EMAIL, "boss@corp.com") == "t"


def test_substring_and_regex_lists_match_like_misp() -> None:
    substrings = make("substring", ["/wp-admin/", "phish", "ph"], ["url"], name="subs")
    regexes = make("regex", ["/^https?:\\/\\/[^\\/]+\\.TEST-CDN\\.net\\//i", "^ftp://"], ["url"])
    index = WarninglistIndex.build([substrings, regexes])
    assert index.match(Kind.URL, "http://a.com/wp-admin/x") == "subs"
    assert index.match(Kind.URL, "http://a.com/graph") == "subs"  # "ph" is in it
    assert index.match(Kind.URL, "https://img.test-cdn.net/logo.png") == "t"
    assert index.match(Kind.URL, "ftp://a.com/") == "t"
    assert index.match(Kind.URL, "http://a.com/other") is None
    backrefs = make("regex", ["(a)\\1", "(b)\\1"], [])
    assert alone(backrefs).match(Kind.DOMAIN, "bb.com") == "t"


def test_the_first_list_in_order_wins_and_explain_names_every_list_and_entry(
    misp_lists: dict[str, Warninglist], full_index: WarninglistIndex
) -> None:
    assert full_index.match(Kind.IPV4, "10.1.2.3") == "krsn-special-ipv4"
    hits = full_index.explain(Kind.IPV4, "10.1.2.3")
    assert [(h.name, h.entry) for h in hits][:1] == [("krsn-special-ipv4", "10.0.0.0/8")]
    assert (misp_lists["rfc1918"].name, "10.0.0.0/8") in [(h.name, h.entry) for h in hits]
    hits = full_index.explain(Kind.URL, "https://maps.google.com/x")
    assert hits[0].name == misp_lists["tranco10k"].name
    assert (hits[0].entry, hits[0].matched) == ("google.com", "maps.google.com")
    assert full_index.explain(Kind.DOMAIN, "login-secure-update.ru") == []
    reordered = WarninglistIndex.build([misp_lists["rfc1918"], *BUILTIN_WARNINGLISTS])
    assert reordered.match(Kind.IPV4, "10.1.2.3") == misp_lists["rfc1918"].name


def test_match_many_answers_in_order_and_checks_a_repeated_value_once(
    full_index: WarninglistIndex,
) -> None:
    raw = ["10.0.0.1", "8.8.8.8", "evil-c2-host.xyz", "10.0.0.1", "http://bit.ly/x", "::1"]
    indicators = [normalise(v) for v in raw]
    assert all(isinstance(i, Indicator) for i in indicators)
    batch = [i for i in indicators if isinstance(i, Indicator)]
    expected = [full_index.match(i.kind, i.value) for i in batch]
    assert full_index.match_many(batch) == expected
    assert expected[0] == expected[3] == "krsn-special-ipv4"
    assert expected[2] is None
    assert full_index.match_many([]) == []


# --- the built-in lists -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "name"),
    [
        (Kind.IPV4, "10.1.2.3", "krsn-special-ipv4"),
        (Kind.IPV4, "192.168.0.1", "krsn-special-ipv4"),
        (Kind.IPV4, "127.0.0.1", "krsn-special-ipv4"),
        (Kind.IPV4, "100.64.0.1", "krsn-special-ipv4"),
        (Kind.IPV4, "198.19.255.255", "krsn-special-ipv4"),
        (Kind.IPV4, "255.255.255.255", "krsn-special-ipv4"),
        (Kind.CIDR, "192.0.2.0/25", "krsn-special-ipv4"),
        (Kind.IPV6, "::1", "krsn-special-ipv6"),
        (Kind.IPV6, "fe80::1", "krsn-special-ipv6"),
        (Kind.IPV6, "2001:db8::1", "krsn-special-ipv6"),
        (Kind.IPV6, "fd12:3456::1", "krsn-special-ipv6"),
        (Kind.IPV6, "ff02::1", "krsn-special-ipv6"),
        (Kind.DOMAIN, "foo.example.com", "krsn-reserved-domains"),
        (Kind.DOMAIN, "example.net", "krsn-reserved-domains"),
        (Kind.DOMAIN, "x.invalid", "krsn-reserved-domains"),
        (Kind.DOMAIN, "printer.local", "krsn-reserved-domains"),
        (Kind.DOMAIN, "router.home.arpa", "krsn-reserved-domains"),
        (Kind.URL, "http://web.test/login", "krsn-reserved-domains"),
        (Kind.EMAIL, "alice@example.org", "krsn-reserved-domains"),
    ],
)
def test_the_builtin_lists_stop_special_addresses_and_reserved_names(
    builtin_index: WarninglistIndex, kind: Kind, value: str, name: str
) -> None:
    assert builtin_index.match(kind, value) == name


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (Kind.IPV4, "8.8.8.8"),
        (Kind.IPV4, "185.220.101.4"),
        (Kind.IPV6, "2a00:1450:4001:80b::200e"),
        (Kind.IPV6, "2001:0:53aa:64c::1"),  # Teredo embeds a real address: left to judge
        (Kind.DOMAIN, "login-secure-update.ru"),
        (Kind.DOMAIN, "examples.com"),
        (Kind.DOMAIN, "notexample.com"),
        (Kind.DOMAIN, "abc.onion"),
        (Kind.URL, "http://198.51.99.1/x"),
        (Kind.CIDR, "10.0.0.0/7"),
    ],
)
def test_the_builtin_lists_leave_public_values_alone(
    builtin_index: WarninglistIndex, kind: Kind, value: str
) -> None:
    assert builtin_index.match(kind, value) is None


def test_a_public_resolver_is_stopped_only_by_a_resolver_list_and_named_after_it(
    misp_lists: dict[str, Warninglist], full_index: WarninglistIndex
) -> None:
    assert full_index.match(Kind.IPV4, "8.8.8.8") == misp_lists["public-dns-v4"].name
    for value in ("login-secure-update.ru", "cdn-update-check.xyz", "185.220.101.4"):
        kind = Kind.IPV4 if value[0].isdigit() else Kind.DOMAIN
        assert full_index.match(kind, value) is None


def test_builtin_entries_are_canonical_and_named_uniquely() -> None:
    names = [w.name for w in BUILTIN_WARNINGLISTS]
    assert names == ["krsn-special-ipv4", "krsn-special-ipv6", "krsn-reserved-domains"]
    for wl in BUILTIN_WARNINGLISTS:
        if wl.type == "cidr":
            for entry in wl.entries:
                assert str(ipaddress.ip_network(entry)) == entry  # host bits clear, compressed


# --- the platform's folder of imported lists ------------------------------------------------


def test_default_index_is_the_builtins_until_lists_are_imported(
    tmp_path: Path, misp_dir: Path, misp_lists: dict[str, Warninglist]
) -> None:
    config = Settings(data_dir=tmp_path)
    first = default_index(config)
    assert [w.name for w in first.lists] == [w.name for w in BUILTIN_WARNINGLISTS]
    assert default_index(config) is first  # compiled once
    assert first.match(Kind.IPV4, "8.8.8.8") is None

    names = import_warninglists(misp_dir / "lists" / "public-dns-v4", config, mode="suppress")
    assert names == [misp_lists["public-dns-v4"].name]
    stored = tmp_path / "warninglists" / "public-dns-v4.json"
    source = misp_dir / "lists" / "public-dns-v4" / "list.json"
    assert stored.read_bytes() == source.read_bytes()  # copied unmodified
    second = default_index(config)
    assert second is not first
    assert second.match(Kind.IPV4, "8.8.8.8") == misp_lists["public-dns-v4"].name
    assert default_index(config, reload=True) is not second


def test_importing_a_list_again_replaces_it_and_an_invalid_source_copies_nothing(
    tmp_path: Path, misp_dir: Path
) -> None:
    config = Settings(data_dir=tmp_path / "data")
    source = tmp_path / "source"
    shutil.copytree(misp_dir / "lists" / "rfc1918", source / "private")
    import_warninglists(source, config)
    target = tmp_path / "data" / "warninglists"
    assert sorted(p.name for p in target.iterdir()) == ["private.json", "private.mode"]
    # the same list under another file name replaces the first copy
    renamed = tmp_path / "renamed"
    shutil.copytree(misp_dir / "lists" / "rfc1918", renamed / "rfc1918")
    import_warninglists(renamed, config)
    assert sorted(p.name for p in target.iterdir()) == ["rfc1918.json", "rfc1918.mode"]

    broken = tmp_path / "broken"
    shutil.copytree(misp_dir / "lists" / "multicast", broken / "multicast")
    (broken / "bad").mkdir()
    (broken / "bad" / "list.json").write_text('{"name": "bad", "version": 1}')
    with pytest.raises(Invalid, match="description: missing"):
        import_warninglists(broken, config)
    assert sorted(p.name for p in target.iterdir()) == ["rfc1918.json", "rfc1918.mode"]
    with pytest.raises(Invalid, match="built-in"):
        import_warninglists(_written(tmp_path / "x.json", BUILTIN_WARNINGLISTS[0]), config)


def test_a_broken_file_in_the_platform_folder_is_skipped_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = Settings(data_dir=tmp_path)
    folder = tmp_path / "warninglists"
    folder.mkdir()
    (folder / "broken.json").write_text("[]")
    _written(folder / "mine.json", make("hostname", ["corp.example"], ["domain"], name="mine"))
    (folder / "mine.mode").write_text("suppress\n")
    index = default_index(config, reload=True)
    assert index.match(Kind.DOMAIN, "intranet.corp.example") == "krsn-reserved-domains"
    assert [w.name for w in index.lists][-1] == "mine"
    assert "broken.json" in caplog.text


def _written(path: Path, wl: Warninglist) -> Path:
    path.write_text(wl.to_json())
    return path


# --- properties -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cidr_lists(misp_lists: dict[str, Warninglist]) -> list[Warninglist]:
    return [*BUILTIN_WARNINGLISTS[:1], *(w for w in misp_lists.values() if w.type == "cidr")]


@pytest.fixture(scope="module")
def cidr_oracle(
    cidr_lists: list[Warninglist],
) -> tuple[WarninglistIndex, list[tuple[str, list[ipaddress.IPv4Network]]], list[int]]:
    by_list = [
        (wl.name, [n for n in networks(wl) if isinstance(n, ipaddress.IPv4Network)])
        for wl in cidr_lists
    ]
    edges = sorted(
        {
            edge
            for _, nets in by_list
            for n in nets
            for edge in (int(n.network_address), int(n.broadcast_address))
        }
    )
    return WarninglistIndex.build(cidr_lists), by_list, edges


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_interval_lookup_agrees_with_checking_every_network(
    cidr_oracle: tuple[WarninglistIndex, list[tuple[str, list[ipaddress.IPv4Network]]], list[int]],
    data: st.DataObject,
) -> None:
    index, by_list, edges = cidr_oracle
    # Random addresses, and addresses on and beside the edges of listed ranges.
    near_edge = st.sampled_from(edges).flatmap(lambda e: st.sampled_from([e - 1, e, e + 1]))
    number = data.draw(
        st.one_of(st.integers(0, 2**32 - 1), near_edge).filter(lambda n: 0 <= n < 2**32)
    )
    ip = ipaddress.IPv4Address(number)
    expected = next((name for name, nets in by_list if any(ip in net for net in nets)), None)
    assert index.match(Kind.IPV4, str(ip)) == expected


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_index_names_the_same_first_list_as_checking_each_list_entry_by_entry(
    full_index: WarninglistIndex, misp_lists: dict[str, Warninglist], data: st.DataObject
) -> None:
    hosts = [e.strip(".") for w in misp_lists.values() if w.type == "hostname" for e in w.entries]
    label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10).filter(
        lambda s: s[0] != "-" and s[-1] != "-"
    )
    host = st.one_of(
        st.sampled_from(hosts),
        st.tuples(label, st.sampled_from(hosts)).map(".".join),
        st.tuples(label, st.sampled_from(["com", "ru", "example", "test", "io"])).map(".".join),
    )
    kind, value = data.draw(
        st.one_of(
            host.map(lambda h: (Kind.DOMAIN, h)),
            host.map(lambda h: (Kind.URL, f"https://{h}/p")),
            st.tuples(label, host).map(lambda t: (Kind.EMAIL, f"{t[0]}@{t[1]}")),
            st.ip_addresses(v=6).map(lambda a: (Kind.IPV6, a.compressed)),
            st.ip_addresses(v=4).map(lambda a: (Kind.URL, f"tcp://u:p@{a}:4444")),
            st.ip_addresses(v=6).map(lambda a: (Kind.URL, f"https://[{a.compressed}]:8443/")),
            st.tuples(st.ip_addresses(v=4), st.integers(1, 31)).map(
                lambda t: (Kind.CIDR, str(ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False)))
            ),
        )
    )
    hits = full_index.explain(kind, value)
    assert full_index.match(kind, value) == (hits[0].name if hits else None)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_cidr_value_matches_the_first_list_with_one_entry_holding_all_of_it(
    cidr_oracle: tuple[WarninglistIndex, list[tuple[str, list[ipaddress.IPv4Network]]], list[int]],
    data: st.DataObject,
) -> None:
    index, by_list, edges = cidr_oracle
    number = data.draw(st.one_of(st.integers(0, 2**32 - 1), st.sampled_from(edges)))
    value = ipaddress.ip_network(
        f"{ipaddress.IPv4Address(number)}/{data.draw(st.integers(4, 31))}", strict=False
    )
    first, last = int(value.network_address), int(value.broadcast_address)
    expected = next(
        (
            name
            for name, nets in by_list
            if any(
                int(n.network_address) <= first and last <= int(n.broadcast_address) for n in nets
            )
        ),
        None,
    )
    assert index.match(Kind.CIDR, str(value)) == expected
    hits = index.explain(Kind.CIDR, str(value))
    assert (hits[0].name if hits else None) == expected


def test_adjacent_entries_of_a_list_do_not_make_one_larger_entry() -> None:
    halves = make("cidr", ["10.0.0.0/25", "10.0.0.128/25"], ["ip-dst"])
    index = alone(halves)
    assert index.match(Kind.CIDR, "10.0.0.0/25") == "t"
    assert index.match(Kind.CIDR, "10.0.0.0/24") is None  # no one entry holds it
    assert index.match(Kind.IPV4, "10.0.0.128") == "t"
