from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from krsn.errors import Invalid
from krsn.security.passwords import (
    check_password_policy,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hashes_are_salted_argon2id() -> None:
    first, second = hash_password("a long passphrase"), hash_password("a long passphrase")
    assert first.startswith("$argon2id$")
    assert first != second


def test_verify_accepts_the_right_password_only() -> None:
    stored = hash_password("correct staple horse battery")
    assert verify_password(stored, "correct staple horse battery")
    assert not verify_password(stored, "correct staple horse batterY")
    assert not verify_password(stored, "")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=65536,t=3,p=4$garbage",
        "$2b$12$KIXQJb1Q8C0S1JdOe6r6Xe0s8m2JH2bL5b6b1gS0Z5r5d5Ff0bH3e",
    ],
)
def test_verify_returns_false_for_a_malformed_hash(garbage: str) -> None:
    assert verify_password(garbage, "whatever password") is False


def test_needs_rehash_flags_weaker_parameters_only() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("a long passphrase")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("a long passphrase"))
    assert needs_rehash("not a hash")


@pytest.mark.parametrize(
    ("password", "username", "email", "reason"),
    [
        ("short1!A", None, None, "at least 12"),
        ("x" * 1025, None, None, "at most 1024"),
        ("alice.analyst", "alice.analyst", None, "username"),
        ("my-name-is-Alice.Analyst-ok", "alice.analyst", None, "username"),
        ("bob.builder@example.org", None, "bob.builder@example.org", "e-mail"),
        ("xx-bob.builder-xx", None, "bob.builder@example.org", "e-mail"),
        ("Password123!", None, None, "common"),
        ("passwordpassword", None, None, "common"),
        ("qwerty123456", None, None, "common"),
        ("Welcome2024!!", None, None, "common"),
        ("aaaaaaaaaaaaaaaa", None, None, "common"),
    ],
)
def test_policy_refuses_with_a_reason(
    password: str, username: str | None, email: str | None, reason: str
) -> None:
    with pytest.raises(Invalid) as caught:
        check_password_policy(password, username=username, email=email)
    assert caught.value.field == "password"
    assert reason in caught.value.reason


def test_policy_accepts_a_good_passphrase() -> None:
    check_password_policy("violet kettle orbit nine", username="alice", email="alice@example.org")
    check_password_policy("x" * 11 + "yz1", username="al")  # names this short are ignored


def test_generated_passwords_are_long_unique_and_pass_the_policy() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert len(password) >= 16
        check_password_policy(password, username="someone")
