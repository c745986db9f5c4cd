from __future__ import annotations

import re
import time
import urllib.parse

import pyotp

from krsn.security.mfa import (
    consume_recovery_code,
    generate_recovery_codes,
    hash_recovery_code,
    new_totp_secret,
    provisioning_uri,
    qr_svg_data_uri,
    verify_totp,
)

AT = 1_700_000_015.0  # the middle of a 30 s step
STEP = int(AT // 30)


def test_the_current_code_verifies_and_returns_its_step() -> None:
    secret = new_totp_secret()
    before = int(time.time() // 30)
    step = verify_totp(secret, pyotp.TOTP(secret).now(), last_used_step=None)
    assert step is not None
    assert before - 1 <= step <= int(time.time() // 30) + 1


def test_one_step_of_drift_either_way_is_accepted_two_are_not() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)
    assert verify_totp(secret, totp.at(AT), last_used_step=None, at=AT) == STEP
    assert verify_totp(secret, totp.at(AT - 30), last_used_step=None, at=AT) == STEP - 1
    assert verify_totp(secret, totp.at(AT + 30), last_used_step=None, at=AT) == STEP + 1
    for far in (AT - 60, AT + 60):
        code = totp.at(far)
        if code not in {totp.at(AT - 30), totp.at(AT), totp.at(AT + 30)}:
            assert verify_totp(secret, code, last_used_step=None, at=AT) is None


def test_a_used_code_or_an_older_one_is_a_replay() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)
    step = verify_totp(secret, totp.at(AT), last_used_step=None, at=AT)
    assert step == STEP
    assert verify_totp(secret, totp.at(AT), last_used_step=step, at=AT) is None
    assert verify_totp(secret, totp.at(AT - 30), last_used_step=step, at=AT) is None
    # The next step's code is still fresh.
    assert verify_totp(secret, totp.at(AT + 30), last_used_step=step, at=AT) == STEP + 1


def test_a_wrong_or_malformed_code_is_refused() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)
    valid = {totp.at(AT + offset) for offset in (-30, 0, 30)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    assert verify_totp(secret, wrong, last_used_step=None, at=AT) is None
    for malformed in ["", "12345", "1234567", "abcdef", totp.at(AT) + "0"]:
        assert verify_totp(secret, malformed, last_used_step=None, at=AT) is None


def test_spaces_in_a_typed_code_are_ignored() -> None:
    secret = new_totp_secret()
    code = pyotp.TOTP(secret).at(AT)
    assert verify_totp(secret, f" {code[:3]} {code[3:]} ", last_used_step=None, at=AT) == STEP


def test_provisioning_uri_names_account_issuer_and_secret() -> None:
    secret = new_totp_secret()
    uri = provisioning_uri(secret, account="alice@example.org")
    parsed = urllib.parse.urlparse(uri)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.scheme == "otpauth"
    assert parsed.netloc == "totp"
    assert query["secret"] == [secret]
    assert query["issuer"] == ["KRSN-RT2I"]
    assert "alice%40example.org" in parsed.path or "alice@example.org" in parsed.path


def test_qr_code_is_an_svg_data_uri() -> None:
    uri = qr_svg_data_uri(provisioning_uri(new_totp_secret(), account="alice"))
    assert uri.startswith("data:image/svg+xml")
    svg = urllib.parse.unquote(uri.split(",", 1)[1])
    assert svg.lstrip().startswith("<svg") or "<svg" in svg[:200]
    assert svg.rstrip().endswith("</svg>")


def test_recovery_codes_are_unique_and_unambiguous() -> None:
    codes = generate_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code)
        assert not set(code) & set("01ilo")
    assert len(generate_recovery_codes(3)) == 3


def test_a_recovery_code_works_once_only() -> None:
    codes = generate_recovery_codes()
    hashes = [hash_recovery_code(code) for code in codes]
    remaining = consume_recovery_code(hashes, codes[3])
    assert remaining is not None
    assert len(remaining) == 9
    assert hash_recovery_code(codes[3]) not in remaining
    assert consume_recovery_code(remaining, codes[3]) is None
    assert consume_recovery_code(remaining, "aaaa-bbbb-cccc") is None


def test_recovery_codes_ignore_case_spaces_and_dashes() -> None:
    code = generate_recovery_codes(1)[0]
    variant = " " + code.upper().replace("-", " ") + " "
    assert hash_recovery_code(variant) == hash_recovery_code(code)
    assert consume_recovery_code([hash_recovery_code(code)], code.replace("-", "")) == []
