"""Normalisation: every indicator type detected, canonicalised and signed, or rejected with why."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krsn.errors import Invalid
from krsn.indicators.models import IndicatorType
from krsn.indicators.normalise import (
    MAX_LENGTH,
    Indicator,
    Kind,
    Rejected,
    _normalise_fully,
    hash_signature,
    normalise,
    normalise_many,
    require,
)
from support import shared_data


def accepted(raw: str, **kwargs: object) -> Indicator:
    result = normalise(raw, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Indicator), f"{raw!r} rejected: {result}"
    return result


def reason(raw: str, **kwargs: object) -> str:
    result = normalise(raw, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Rejected), f"{raw!r} accepted as {result}"
    return result.reason


# --- canonical forms ------------------------------------------------------------------------

SHA1_EMPTY = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    ("raw", "kind", "canonical"),
    [
        ("192.0.2.1", Kind.IPV4, "192.0.2.1"),
        (" 192.0.2.1 \r", Kind.IPV4, "192.0.2.1"),
        ("10.1.2.3", Kind.IPV4, "10.1.2.3"),  # private IPs are warninglists' business
        ("2001:DB8:0:0:0:0:0:1", Kind.IPV6, "2001:db8::1"),
        ("[2001:db8::1]", Kind.IPV6, "2001:db8::1"),
        ("::ffff:192.0.2.1", Kind.IPV4, "192.0.2.1"),
        ("192.0.2.1:8080", Kind.IPV4, "192.0.2.1"),
        ("[2001:db8::1]:443", Kind.IPV6, "2001:db8::1"),
        ("10.0.0.5/8", Kind.CIDR, "10.0.0.0/8"),
        ("192.0.2.7/32", Kind.IPV4, "192.0.2.7"),
        ("2001:db8::1/64", Kind.CIDR, "2001:db8::/64"),
        ("2001:db8::1/128", Kind.IPV6, "2001:db8::1"),
        ("Evil.Example.COM.", Kind.DOMAIN, "evil.example.com"),
        ("bücher.de", Kind.DOMAIN, "xn--bcher-kva.de"),
        ("XN--BCHER-KVA.de", Kind.DOMAIN, "xn--bcher-kva.de"),
        ("пример.рф", Kind.DOMAIN, "xn--e1afmkfd.xn--p1ai"),
        ("my_host.duckdns.org", Kind.DOMAIN, "my_host.duckdns.org"),
        ("blogspot.com", Kind.DOMAIN, "blogspot.com"),  # a private suffix is an ordinary domain
        ("evil.blogspot.com", Kind.DOMAIN, "evil.blogspot.com"),
        ("a.b.kobe.jp", Kind.DOMAIN, "a.b.kobe.jp"),
        ("evil.com:8080", Kind.DOMAIN, "evil.com"),
        ("HTTP://Evil.COM:80", Kind.URL, "http://evil.com/"),
        ("https://evil.com:443/a", Kind.URL, "https://evil.com/a"),
        ("https://evil.com:8443/a", Kind.URL, "https://evil.com:8443/a"),
        (
            "http://evil.com/%7euser/%2f?q=%41%2a#%62",
            Kind.URL,
            "http://evil.com/~user/%2F?q=A%2A#b",
        ),
        ("http://evil.com/ü dir/?b=2&a=1", Kind.URL, "http://evil.com/%C3%BC%20dir/?b=2&a=1"),
        ("http://bücher.de/", Kind.URL, "http://xn--bcher-kva.de/"),
        ("http://[2001:DB8::1]:8080/x", Kind.URL, "http://[2001:db8::1]:8080/x"),
        ("http://User:Pass@evil.com/", Kind.URL, "http://User:Pass@evil.com/"),
        ("evil.com/gate.php", Kind.URL, "http://evil.com/gate.php"),
        ("ftp://evil.com", Kind.URL, "ftp://evil.com"),
        ("tcp://192.0.2.1:4444", Kind.URL, "tcp://192.0.2.1:4444"),
        ("ldap://192.0.2.1:1389/a", Kind.URL, "ldap://192.0.2.1:1389/a"),
        ("D41D8CD98F00B204E9800998ECF8427E", Kind.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
        (SHA1_EMPTY.upper(), Kind.SHA1, SHA1_EMPTY),
        (SHA256_EMPTY, Kind.SHA256, SHA256_EMPTY),
        ("cf83e135" * 16, Kind.SHA512, "cf83e135" * 16),
        ("John.Doe@Example.COM", Kind.EMAIL, "john.doe@example.com"),
        ("admin@bücher.de", Kind.EMAIL, "admin@xn--bcher-kva.de"),
        ('"evil.com"', Kind.DOMAIN, "evil.com"),
        ("<admin@evil.com>", Kind.EMAIL, "admin@evil.com"),
        ("evil\u200b.com", Kind.DOMAIN, "evil.com"),  # zero-width space inserted by a report
    ],
)
def test_each_kind_is_detected_and_canonicalised(raw: str, kind: Kind, canonical: str) -> None:
    indicator = accepted(raw)
    assert (indicator.kind, indicator.value) == (kind, canonical)
    assert indicator.signature == hash_signature(kind, canonical)


@pytest.mark.parametrize(
    ("defanged", "canonical"),
    [
        ("hxxp://evil[.]com/gate.php", "http://evil.com/gate.php"),
        ("hxxps[://]evil(.)com", "https://evil.com/"),
        ("http[:]//evil[.]com:80/x", "http://evil.com/x"),
        ("fxp://evil[.]com", "ftp://evil.com"),
        ("evil[.]com", "evil.com"),
        ("evil[dot]com", "evil.com"),
        ("192.0.2[.]1", "192.0.2.1"),
        ("71[.]115.193.247:9000", "71.115.193.247"),
        ("admin[at]evil[.]com", "admin@evil.com"),
        ("admin(at)evil(.)com", "admin@evil.com"),
    ],
)
def test_defanged_values_are_refanged_before_canonicalising(defanged: str, canonical: str) -> None:
    assert accepted(defanged).value == canonical


# --- rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected_reason"),
    [
        ("", "empty value"),
        ("  \t ", "empty value"),
        ("[]", "empty value"),
        ("a" * (MAX_LENGTH + 1), "too long: 2049 characters"),
        ("evil\x00.com", "control character U+0000"),
        ("evil\u202e.com", "control character U+202E"),
        ("256.1.1.1", "not a valid IPv4 address: octet 256"),
        ("1.2.3", "not a valid IPv4 address: 3 parts"),
        ("010.1.1.1", "ambiguous IPv4 address: leading zero in octet '010'"),
        ("12345", "a bare number"),
        ("\u0661.2.3.4", "invalid IDNA name"),  # an Arabic-Indic digit is not an octet
        ("fe80::1%eth0", "IPv6 zone index is not allowed"),
        ("2001:db8::g", "not a valid IPv6 address"),
        ("10.0.0.0/33", "not a valid CIDR prefix for ipv4: /33"),
        ("0.0.0.0/0", "a /0 range covers every address"),
        ("example.invalid", "domain has no public suffix: example.invalid"),
        ("localhost", "domain has no public suffix: localhost"),
        ("com", "a public suffix alone is not a domain: com"),
        ("co.uk", "a public suffix alone is not a domain: co.uk"),
        ("a" * 64 + ".com", "domain label longer than 63 characters"),
        (".".join(["a" * 60] * 5) + ".com", "domain longer than 253 characters"),
        ("-evil.com", "domain label starts or ends with a hyphen: -evil"),
        ("evil..com", "domain has an empty label"),
        ("*.evil.com", "wildcard domains are not indicators"),
        ("xn--zz.com", "invalid IDNA name"),
        ("b\u00fccher_x.de", "invalid IDNA name"),
        ("+evil.com+", "unrecognised value"),
        ("deadbeefdeadbeefdead", "hash of 20 hex digits"),
        ("gopher://evil.com/", "unsupported URL scheme: gopher"),
        ("javascript://evil.com/", "unsupported URL scheme: javascript"),
        ("http://", "URL has no host"),
        ("/gate.php", "URL has no host"),
        ("http:/evil.com/x", "URL scheme not followed by '//'"),
        ("http://localhost:8080/", "domain has no public suffix: localhost"),
        ("http://evil.com:99999/", "URL port out of range: 99999"),
        ("http://[2001:db8::1/", "URL host has an unclosed bracket"),
        ("http://ev%69l.com/", "percent-encoded URL host"),
        ("a b@evil.com", "invalid e-mail local part"),
        ('"quoted"@evil.com', "invalid e-mail local part"),
        ("admin@evil.invalid", "invalid e-mail domain: domain has no public suffix"),
        ("admin@[192.0.2.1]", "e-mail with an address literal is not accepted"),
        ("@evil.com", "e-mail has an empty local part"),
    ],
)
def test_every_rejection_says_why(raw: str, expected_reason: str) -> None:
    assert expected_reason in reason(raw)


def test_private_and_reserved_ips_are_not_rejected_here() -> None:
    for raw in ("10.0.0.1", "192.168.1.1", "127.0.0.1", "0.0.0.0", "::1", "fc00::1"):  # noqa: S104
        accepted(raw)


def test_a_long_url_that_grows_past_the_limit_when_encoded_is_rejected() -> None:
    raw = "http://evil.com/" + "ü" * 1000
    assert "URL too long once canonical" in reason(raw)


# --- expected kinds -------------------------------------------------------------------------


def test_a_declared_kind_accepts_its_own_values() -> None:
    assert accepted("d41d8cd98f00b204e9800998ecf8427e", expected=Kind.MD5).kind is Kind.MD5
    assert accepted("192.0.2.1", expected=IndicatorType.IP).kind is Kind.IPV4
    assert accepted("10.0.0.0/8", expected=IndicatorType.IP).kind is Kind.CIDR
    assert accepted("192.0.2.1/32", expected=Kind.CIDR).kind is Kind.IPV4
    assert accepted("evil.com", expected=IndicatorType.URL).value == "http://evil.com/"


def test_a_declared_kind_rejects_other_kinds_with_both_named() -> None:
    assert reason("da39a3ee5e6b4b0d3255bfef95601890afd80709", expected=Kind.MD5).startswith(
        "expected md5, got sha1"
    )
    assert reason("evil.com", expected=IndicatorType.IP).startswith("expected ip, got domain")
    assert reason("2001:db8::1", expected=Kind.IPV4).startswith("expected ipv4, got ipv6")
    assert "hash is not hexadecimal: contains 'x'" in reason("x" * 32, expected=IndicatorType.HASH)
    assert "not an IP address" in reason("evil!", expected=IndicatorType.IP)


def test_require_raises_invalid_naming_the_field() -> None:
    with pytest.raises(Invalid) as caught:
        require("example.invalid", field="indicator")
    assert caught.value.field == "indicator"
    assert "no public suffix" in caught.value.reason
    assert require("evil[.]com").value == "evil.com"


# --- the batch path -------------------------------------------------------------------------


def test_normalise_many_keeps_order_and_reports_rejections_by_position() -> None:
    indicators, rejected = normalise_many(["evil[.]com", "nope", "192.0.2.1", "evil.com", ""])
    assert [i.value for i in indicators] == ["evil.com", "192.0.2.1", "evil.com"]
    assert [(position, r.raw) for position, r in rejected] == [(1, "nope"), (4, "")]
    assert indicators[0].signature == indicators[2].signature


def test_normalise_many_checks_the_declared_kind_of_a_column() -> None:
    indicators, rejected = normalise_many(["hxxp://evil[.]com/a", "evil.com"], expected=Kind.URL)
    assert [i.value for i in indicators] == ["http://evil.com/a", "http://evil.com/"]
    assert rejected == []


# --- the signature contract -----------------------------------------------------------------


def test_signature_is_sha256_of_stored_type_and_canonical_value() -> None:
    assert hash_signature(Kind.IPV4, "192.0.2.1") == hashlib.sha256(b"ip:192.0.2.1").hexdigest()
    # Pinned: stored rows are keyed by this value, so the formula must never change.
    assert (
        hash_signature(IndicatorType.DOMAIN, "evil.com")
        == "3b7ef89c43703cece22da40e006ff815cd3093138edcc6158fd32a3cdf74ecfd"
    )


def test_kinds_sharing_a_stored_type_share_the_signature_space() -> None:
    assert hash_signature(Kind.CIDR, "10.0.0.0/8") == hash_signature(IndicatorType.IP, "10.0.0.0/8")
    assert hash_signature(Kind.MD5, "x") == hash_signature(Kind.SHA512, "x")
    assert hash_signature(Kind.MD5, "x") != hash_signature(Kind.DOMAIN, "x")


def test_every_kind_maps_to_a_stored_indicator_type() -> None:
    assert {kind.indicator_type for kind in Kind} == set(IndicatorType)
    assert Kind.CIDR.indicator_type is IndicatorType.IP
    assert Kind.SHA256.indicator_type is IndicatorType.HASH


def test_the_public_suffix_list_is_read_offline() -> None:
    # A fresh interpreter with every network connection failing must still validate suffixes.
    script = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from krsn.indicators.normalise import normalise, Indicator\n"
        "assert isinstance(normalise('evil.co.uk'), Indicator)\n"
        "assert 'no public suffix' in normalise('evil.invalid').reason\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)  # noqa: S603


# --- properties -----------------------------------------------------------------------------

SUFFIXES = ["com", "net", "org", "ru", "de", "co.uk", "com.br", "xn--p1ai", "io", "co.jp"]
# IDNA 2008 reserves "--" in the third and fourth places (punycode's xn--), so a name of
# mixed ASCII and non-ASCII labels may not use it there.
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?", fullmatch=True).filter(
    lambda label: label[2:4] != "--"
)
IDN_LABEL = st.sampled_from(["bücher", "münchen", "пример", "例え", "ελληνικά", "straße"])


def _randomly_upper(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def domains(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.one_of(LABEL, IDN_LABEL), min_size=1, max_size=3))
    name = ".".join([*labels, draw(st.sampled_from(SUFFIXES))])
    return _randomly_upper(draw, name) + draw(st.sampled_from(["", "."]))


ipv4s = st.ip_addresses(v=4).map(str)
ipv6s = st.ip_addresses(v=6).map(str)


@st.composite
def cidrs(draw: st.DrawFn) -> str:
    address = draw(st.ip_addresses())
    width = 32 if address.version == 4 else 128
    return f"{address}/{draw(st.integers(1, width))}"


@st.composite
def hashes(draw: st.DrawFn) -> str:
    digest = draw(st.sampled_from([16, 20, 32, 64]))
    return _randomly_upper(draw, draw(st.binary(min_size=digest, max_size=digest)).hex())


PATH_CHARS = st.sampled_from([*"abcXYZ019-._~!$&'*+,;=:@/", "%41", "%2f", "%7E", "%20", "é"])


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "ftp", "wss", "tcp"]))
    host = draw(st.one_of(domains(), ipv4s, ipv6s.map(lambda a: f"[{a}]")))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":21"]))
    path = "".join(draw(st.lists(PATH_CHARS, max_size=12)))
    query = "".join(draw(st.lists(PATH_CHARS, max_size=8)))
    query = draw(st.sampled_from(["", "?" + query]))
    fragment = draw(st.sampled_from(["", "#top", "#a/b"]))
    return f"{scheme}://{host.rstrip('.')}{port}/{path}{query}{fragment}"


@st.composite
def emails(draw: st.DrawFn) -> str:
    atom = r"[A-Za-z0-9_+-]{1,10}"
    local = draw(st.from_regex(rf"{atom}(\.{atom}){{0,2}}", fullmatch=True))
    return f"{local}@{draw(domains()).rstrip('.')}"


indicators = st.one_of(ipv4s, ipv6s, cidrs(), domains(), urls(), hashes(), emails())


@given(indicators)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_generated_indicators_are_accepted_and_normalising_twice_changes_nothing(raw: str) -> None:
    first = accepted(raw)
    assert normalise(first.value) == first


@given(st.text(max_size=60) | st.text(alphabet="ab1.:/@[]()%-_xhtp ", max_size=40))
@settings(max_examples=400)
def test_whatever_is_accepted_is_a_fixed_point(raw: str) -> None:
    first = normalise(raw)
    if isinstance(first, Indicator):
        assert normalise(first.value) == first


DOTS = ["[.]", "(.)", "{.}", "[dot]", "(DOT)", " [.] "]
ATS = ["[at]", "(at)", "[@]", " [AT] "]
WRAPPERS = [("", ""), ("  ", "\t"), ('"', '"'), ("'", "'"), ("<", ">"), ("[", "]")]


@st.composite
def defanged(draw: st.DrawFn, plain: str) -> str:
    """``plain`` as a threat report might print it."""
    value = plain
    if value.startswith("http"):
        value = draw(st.sampled_from(["hxxp", "hXXp", "http"])) + value[4:]
    if "://" in value:
        value = value.replace("://", draw(st.sampled_from(["://", "[://]", "[:]//"])), 1)
    if "@" in value and "://" not in plain:
        value = value.replace("@", draw(st.sampled_from(ATS)))
    dot = draw(st.sampled_from(DOTS))
    value = "".join(dot if char == "." and draw(st.booleans()) else char for char in value)
    before, after = draw(st.sampled_from(WRAPPERS))
    return before + value + after


@given(st.data(), indicators)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_a_defanged_value_gives_the_same_indicator_as_its_plain_form(
    data: st.DataObject, plain: str
) -> None:
    expected = accepted(plain)
    assert accepted(data.draw(defanged(plain))).signature == expected.signature


@given(st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,70}", fullmatch=True))
def test_the_fast_local_part_check_agrees_with_email_validator(local: str) -> None:
    import email_validator

    try:
        email_validator.validate_email(f"{local}@example.com", check_deliverability=False)
        valid = True
    except email_validator.EmailNotValidError:
        valid = False
    result = normalise(f"{local}@example.com", expected=IndicatorType.EMAIL)
    assert isinstance(result, Indicator) is valid


# --- real threat reports --------------------------------------------------------------------


HASH_FILES = {"samples.md5": Kind.MD5, "samples.sha1": Kind.SHA1, "samples.sha256": Kind.SHA256}


def _lines(path: Path) -> Iterator[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield line


def test_vendor_hash_lists_normalise_to_their_declared_kind() -> None:
    root = shared_data("ioc-text")
    checked = 0
    for path in sorted(root.glob("*/*/samples.*")):
        indicators, rejected = normalise_many(_lines(path), expected=HASH_FILES[path.name])
        checked += len(indicators) + len(rejected)
        # upper-case SHA-1s, CRLF line ends and trailing spaces are all in there
        assert rejected == [], f"{path.parent.name}/{path.name}: {rejected[:3]}"
        assert all(i.value == i.value.lower() for i in indicators)
    assert checked > 2000


def test_vendor_network_lists_normalise_without_rejections() -> None:
    root = shared_data("ioc-text", "avast")
    kinds = set()
    for path in sorted(root.glob("*/network.txt")):
        indicators, rejected = normalise_many(_lines(path))
        assert rejected == [], f"{path.parent.name}: {rejected}"
        kinds |= {i.kind for i in indicators}
    # defanged domains, ip:port, fxp:// and hxxps:// URLs and e-mails are all in there
    assert {Kind.DOMAIN, Kind.IPV4, Kind.URL, Kind.EMAIL} <= kinds


_HEADING = re.compile(r"(=+) (.*)")
_CODE = re.compile(r"`\+{0,2}([^`]+?)\+{0,2}`")
_NETWORK_HEADING = re.compile(r"network|c&c|urls|domains|servers", re.IGNORECASE)


def _network_iocs(adoc: str) -> Iterator[str]:
    """Values quoted in the network sections of an ESET AsciiDoc IOC write-up."""
    level: int | None = None
    in_block = False
    for line in adoc.splitlines():
        if line.startswith(("```", "----")):
            in_block = not in_block
            continue
        if in_block:
            if level is not None and line.strip():
                yield line.strip()
            continue
        heading = _HEADING.fullmatch(line)
        if heading is not None:
            depth = len(heading.group(1))
            if level is not None and depth <= level:
                level = None
            if level is None and _NETWORK_HEADING.search(heading.group(2)):
                level = depth
            continue
        if level is not None:
            yield from (v for v in _CODE.findall(line) if v != "N/A")


def test_network_iocs_of_vendor_write_ups_normalise() -> None:
    root = shared_data("ioc-text", "eset")
    total = 0
    for readme in sorted(root.glob("*/README.adoc")):
        values = list(_network_iocs(readme.read_text(encoding="utf-8")))
        indicators, rejected = normalise_many(values)
        total += len(indicators)
        # The only rejections are URL paths quoted in a table's notes ("/djour.php"): no host.
        for _, rejection in rejected:
            assert rejection.raw.startswith("/"), f"{readme.parent.name}: {rejection}"
            assert rejection.reason == "URL has no host"
    assert total > 900


def test_extractor_test_cases_normalise_or_are_rejected_for_a_stated_reason() -> None:
    root = shared_data("ioc-text", "iocextract")
    broken = {  # values an extractor tolerates but that are not well-formed indicators
        "http://[example.com": "URL host has an unclosed bracket",
        "http://fdc4:2581:575b:5a72:0000:0000:0000:0001": "not a valid URL authority",
        "http://example,com/": "character ',' not allowed in a domain",
        "http://example[.com/": "character '[' not allowed in a domain",
    }
    indicators, rejected = normalise_many(_lines(root / "valid.txt"))
    assert {r.raw: r.reason for _, r in rejected}.keys() == broken.keys()
    for _, rejection in rejected:
        assert broken[rejection.raw] in rejection.reason
    assert len(indicators) > 40
    indicators, rejected = normalise_many(_lines(root / "invalid.txt"))
    assert indicators == []


def test_labelled_extraction_cases_normalise_as_their_labelled_type() -> None:
    cases = json.loads(
        shared_data("ioc-text", "ioc-finder", "ioc-finder-cases.json").read_text(encoding="utf-8")
    )["cases"]
    labels: dict[str, Kind | IndicatorType] = {
        "domains": IndicatorType.DOMAIN,
        "urls": IndicatorType.URL,
        "ipv4s": Kind.IPV4,
        "ipv6s": Kind.IPV6,
        "ipv4_cidrs": Kind.CIDR,
        "md5s": Kind.MD5,
        "sha1s": Kind.SHA1,
        "sha256s": Kind.SHA256,
        "sha512s": Kind.SHA512,
        "email_addresses": IndicatorType.EMAIL,
    }
    refused = {  # deliberate decisions of ours, documented in the module
        "1.1.1.1/0": "a /0 range covers every address",
        "1.2.3.4/0": "a /0 range covers every address",
        "test@[192.168.0.1]": "e-mail with an address literal is not accepted",
    }
    checked = 0
    for case in cases:
        for label, values in case["expected"].items():
            if label not in labels:
                continue
            for value in values:
                checked += 1
                result = normalise(value, expected=labels[label])
                if value in refused:
                    assert isinstance(result, Rejected)
                    assert refused[value] in result.reason
                else:
                    assert isinstance(result, Indicator), f"{case['id']}: {value!r}: {result}"
    assert checked > 80


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.tuples(*[st.integers(0, 255)] * 4).map(lambda o: ".".join(map(str, o))),
        st.sampled_from([32, 40, 64, 128]).flatmap(
            lambda n: st.text("0123456789abcdef", min_size=n, max_size=n)
        ),
        st.sampled_from(["010.1.1.1", "1.2.3.256", "ABCDEF" * 6 + "abcd", "1.2.3.4 ", "0" * 33]),
    )
)
def test_the_shortcut_for_plain_addresses_and_digests_agrees_with_the_full_path(
    raw: str,
) -> None:
    assert normalise(raw) == _normalise_fully(raw, None)


_LABELS = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True)
_TOPS = st.sampled_from(["com", "net", "ru", "xyz", "uk", "jp", "de", "foo", "zz", "co"])


@given(labels=st.lists(_LABELS, min_size=1, max_size=5), top=_TOPS)
def test_the_fast_path_of_plain_domains_agrees_with_the_full_one(labels, top):
    from krsn.indicators.normalise import _normalise_fully

    value = ".".join([*labels, top])
    assert normalise(value) == _normalise_fully(value, None)
