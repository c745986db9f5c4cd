"""Indicators in free text: each type, written plainly and defanged, and what must not match."""

from __future__ import annotations

import pytest

from krsn.osint.extract.findings import Finding
from krsn.osint.extract.text import extract_text
from krsn.osint.models import EntityType as T


def found(text: str, *types: T) -> list[tuple[T, str]]:
    return [
        (f.entity_type, f.canonical) for f in extract_text(text, types=types or None, ner=False)
    ]


def canonicals(text: str, entity_type: T) -> list[str]:
    return [c for t, c in found(text, entity_type)]


def test_every_finding_slices_to_its_value_and_is_sorted_by_offset():
    text = (
        "C2 at hxxp://evil[.]example[.]com/gate.php (also 198.51.100.7), mail admin[at]evil(.)com,"
        " dropper 44d88612fea8a8f36de82e1278abb02f, CVE-2021-44228, BTC "
        "1FeexV6bAHb8ybZjqQMjJrcCrHGW9sb6uF, call +1 202 555 0143."
    )
    findings = extract_text(text, ner=False)
    assert [f.start for f in findings] == sorted(f.start for f in findings)
    for finding in findings:
        assert text[finding.start : finding.end] == finding.value
    assert {f.entity_type for f in findings} >= {
        T.URL,
        T.IP_ADDRESS,
        T.EMAIL,
        T.HASH,
        T.CVE,
        T.CRYPTOCURRENCY_ADDRESS,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Beacon to 5.39.222[.]150 every hour", "5.39.222.150"),
        ("C2 5.44.42(.)27:443 seen", "5.44.42.27"),
        ("host 192[.]168[dot]0[.]1 here", "192.168.0.1"),
        ("range 10.0.0.5/8 blocked", "10.0.0.0/8"),
        ("v6 2001:DB8:0:0::1 and", "2001:db8::1"),
        ("bracketed [2001:db8::2]:8443 too", "2001:db8::2"),
    ],
)
def test_addresses_are_found_plain_and_defanged_and_written_canonical(text, expected):
    assert canonicals(text, T.IP_ADDRESS) == [expected]


def test_version_numbers_and_object_ids_are_not_addresses():
    text = "Upgrade to version 1.2.3.4 or v2.0.0.1; OID 1.3.6.1.4.1.311.2 and 10:30:00 today."
    assert canonicals(text, T.IP_ADDRESS) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("resolve update-check[.]info now", "update-check.info"),
        ("see Evil.Example.COM.", "evil.example.com"),
        ("sub: anter[.]roboticseldomfutures[.]info", "anter.roboticseldomfutures.info"),
        ("spaced example [dot] org here", "example.org"),
        ("IDN xn--bcher-kva.de", "xn--bcher-kva.de"),
    ],
)
def test_domains_are_found_plain_and_defanged(text, expected):
    assert canonicals(text, T.DOMAIN) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "The dropper writes invoice.pdf and explorer.exe, then runs secretsdump.py",
        "run install.sh and read notes.md; unpack payload.zip",
        "Detected as Win32/Spy.Danabot and MSIL/KillDisk.I by the engine",
        "calls System.Net.WebClient and Marvel.Agent.Policy",
        "e.g. this, i.e. that, and a sentence.Next one",
    ],
)
def test_file_names_and_code_identifiers_are_not_domains(text):
    assert canonicals(text, T.DOMAIN) == []


def test_a_defanged_file_like_name_is_a_domain_because_someone_defanged_it():
    assert canonicals("C2: loader[.]py", T.DOMAIN) == ["loader.py"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("get hxxps://bad[.]example[.]org/gate.php?id=1.", "https://bad.example.org/gate.php?id=1"),
        ("(see https://example.com/a/b)", "https://example.com/a/b"),
        ("fxp://files.example.net/drop", "ftp://files.example.net/drop"),
        ("tcp://192[.]168[.]0[.]1:80/path", "tcp://192.168.0.1:80/path"),
        ("scheme-less 203.0.113.9:8080/panel/login here", "http://203.0.113.9:8080/panel/login"),
        ("plain example[.]com/drop/a.exe", "http://example.com/drop/a.exe"),
        ("hXXp[:]//evil.example.com/x", "http://evil.example.com/x"),
        ("`+http://nonamef5njcx[.]com+`", "http://nonamef5njcx.com/"),
    ],
)
def test_urls_are_found_refanged_and_trimmed(text, expected):
    assert canonicals(text, T.URL) == [expected]


def test_the_host_of_a_url_is_not_reported_again_as_a_domain():
    assert found("https://evil.example.com/x", T.DOMAIN, T.URL) == [
        (T.URL, "https://evil.example.com/x")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to Admin@Evil.Example.com", "admin@evil.example.com"),
        ("decservice@ukr[.]net", "decservice@ukr.net"),
        ("ops[at]evil(.)com", "ops@evil.com"),
        ("bob [@] example [dot] org", "bob@example.org"),
    ],
)
def test_emails_are_found_plain_and_defanged(text, expected):
    assert canonicals(text, T.EMAIL) == [expected]


def test_jabber_ids_are_chat_handles_not_mailboxes():
    assert found("contact foo@swissjabber.de", T.EMAIL, T.USERNAME) == [
        (T.USERNAME, "xmpp:foo@swissjabber.de")
    ]


def test_hashes_have_their_algorithm_as_subtype_and_lower_case():
    md5 = "44D88612FEA8A8F36DE82E1278ABB02F"
    sha1 = "3395856ce81f2b7382dee72602f798b642f14140"
    sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
    sha512 = "a" * 64 + "b" * 64
    findings = extract_text(f"{md5} {sha1}\n{sha256}|{sha512}", types=[T.HASH], ner=False)
    assert [(f.subtype, f.canonical) for f in findings] == [
        ("md5", md5.lower()),
        ("sha1", sha1),
        ("sha256", sha256),
        ("sha512", sha512),
    ]


def test_hex_of_other_lengths_serial_numbers_and_long_numbers_are_not_hashes():
    text = (
        "id 0123456789abcdef0123456789abcdef01 and 12345678901234567890123456789012\n"
        "=== Code signing certificate serial numbers\n4C8DEF294478B7D59EE95C61FAE3D965"
    )
    assert canonicals(text, T.HASH) == []


def test_an_import_hash_is_labelled_as_one():
    findings = extract_text(
        "Dropper imphash: 18ddf28a71089acdbab5038f58044c0a", types=[T.HASH], ner=False
    )
    assert [f.subtype for f in findings] == ["imphash"]


def test_cve_ids_are_upper_case_whatever_the_separator():
    assert canonicals("cve-2014-1000, CVE 2021-44228 and CVE_2019_0708", T.CVE) == [
        "CVE-2014-1000",
        "CVE-2021-44228",
        "CVE-2019-0708",
    ]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("call +44 20 7946 0958 now", "+442079460958"),
        ("tel +1 (202) 555-0143.", "+12025550143"),
        ("WhatsApp +7 495 123-45-67", "+74951234567"),
    ],
)
def test_international_phone_numbers_are_validated_and_written_in_e164(text, number):
    findings = extract_text(text, types=[T.PHONE], ner=False)
    assert [(f.canonical, f.method) for f in findings] == [(number, "phonenumbers")]


def test_numbers_that_are_not_valid_phones_are_left_alone():
    assert canonicals("build +1234 5 and +999 1234567 and +141.98.233[.]17", T.PHONE) == []


def test_a_failed_phone_candidate_does_not_hide_the_address_after_its_plus():
    assert found("|`+141.98.233[.]17+` |") == [(T.IP_ADDRESS, "141.98.233.17")]


def test_national_numbers_are_read_when_a_region_is_given():
    text = "Call (202) 555-0143 today"
    assert extract_text(text, types=[T.PHONE], ner=False) == []
    findings = extract_text(text, types=[T.PHONE], ner=False, phone_region="US")
    assert [f.canonical for f in findings] == ["+12025550143"]


def test_handles_need_a_network_named_near_them():
    text = "Follow @jack on Twitter. In the script: @echo off and @property."
    assert found(text, T.USERNAME) == [(T.USERNAME, "twitter:jack")]


def test_mastodon_accounts_and_profile_urls_are_handles():
    text = (
        "Posted by @Gargron@mastodon.social, mirrored at https://twitter.com/ESETresearch "
        "and github.com/torvalds; see https://infosec.exchange/@someone too."
    )
    handles = [c for t, c in found(text, T.USERNAME)]
    assert handles == [
        "mastodon:gargron@mastodon.social",
        "twitter:esetresearch",
        "github:torvalds",
        "mastodon:someone@infosec.exchange",
    ]


def test_twitter_pages_that_are_not_profiles_are_not_handles():
    assert (
        canonicals("https://twitter.com/search?q=x and https://twitter.com/home", T.USERNAME) == []
    )


def test_types_limit_what_is_returned():
    text = "evil.com 198.51.100.1 CVE-2020-0001"
    assert found(text, T.CVE) == [(T.CVE, "CVE-2020-0001")]


def test_findings_carry_method_and_confidence():
    findings = extract_text(
        "hxxp://evil[.]com/x and http://good.example.com/y", types=[T.URL], ner=False
    )
    defanged, plain = findings
    assert isinstance(defanged, Finding)
    assert defanged.method == plain.method == "regex"
    assert 0 < plain.confidence < defanged.confidence <= 1
