"""Passwords: argon2id hashes, the password policy, and generated one-time passwords."""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from krsn.errors import Invalid

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "check_password_policy",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 12
# Long enough for any passphrase, short enough that hashing cannot be used to burn CPU.
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile; keeping the
# defaults lets needs_rehash() upgrade stored hashes when the library raises them.
_hasher = PasswordHasher()

# Passwords of twelve characters or more from public breach lists, lower-cased.
_COMMON_PASSWORDS = frozenset(
    """
    123456789012 1234567890123 12345678901234 123456123456 123123123123 111111111111
    000000000000 1q2w3e4r5t6y 1qaz2wsx3edc qwertyuiop12 qwertyuiop123 qwerty123456
    qwertyqwerty qazwsxedcrfv asdfghjkl123 zxcvbnm12345 abcdefghijkl abcd1234abcd
    abc123abc123 passwordpassword password1234 password12345 password123456 iloveyou1234
    letmeinletmein administrator administrator1 welcome12345 changemenow1
    correcthorsebatterystaple trustno1trustno1 football1234 baseball1234 superman1234
    princess1234 sunshine1234 starwars1234 monkey123456 dragon123456 master123456
    whatever1234 qwerty123456789 iloveyouiloveyou 1234567890qwerty qwerty1234567890
    """.split()  # noqa: SIM905 - as a word list it reads like the breach list it comes from
)
# Words that, padded with digits or symbols to reach the minimum length ("Password123!",
# "Welcome2024!!"), remain among the first guesses of any cracker.
_COMMON_BASES = frozenset(
    """
    password passw0rd p@ssw0rd p@ssword qwerty qwertyuiop letmein welcome admin
    administrator iloveyou changeme secret monkey dragon master football baseball superman
    princess sunshine starwars trustno1 whatever abc abcd abcdef login krsn krsnrt2i
    krsn-rt2i
    """.split()  # noqa: SIM905
)
_PADDING = re.compile(r"^[\d\W_]*(.*?)[\d\W_]*$")
# Names this short occur inside ordinary words; refusing them would refuse good passwords.
_MIN_NAME_LENGTH = 3
# Readable one-time passwords: lower-case letters and digits without 0/o, 1/l/i.
_READABLE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (``$argon2id$…``), salted."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False, never an error, on a bad hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's and should be renewed."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def _is_common(password: str) -> bool:
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS or len(set(lowered)) <= 2:
        return True
    match = _PADDING.match(lowered)
    core = match.group(1) if match else lowered
    if core in _COMMON_BASES:
        return True
    # A common word repeated ("passwordpassword", "qwertyqwertyqwerty").
    return any(
        base and len(core) % len(base) == 0 and core == base * (len(core) // len(base))
        for base in _COMMON_BASES
    )


def check_password_policy(
    password: str, *, username: str | None = None, email: str | None = None
) -> None:
    """Raise ``Invalid("password", reason)`` unless ``password`` is acceptable for this account."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("password", f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid("password", f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    lowered = password.lower()
    names = [username or ""]
    if email:
        names += [email, email.split("@", 1)[0]]
    for name in names:
        name = name.strip().lower()
        if name and (lowered == name or (len(name) >= _MIN_NAME_LENGTH and name in lowered)):
            raise Invalid("password", "must not contain the username or e-mail address")
    if _is_common(password):
        raise Invalid("password", "is too common; choose a longer phrase of unrelated words")


def generate_password(groups: int = 4, group_length: int = 5) -> str:
    """A random, readable password such as ``k7mqe-h3tzr-pw9xd-a4ncu`` (about 99 bits)."""
    return "-".join(
        "".join(secrets.choice(_READABLE_ALPHABET) for _ in range(group_length))
        for _ in range(groups)
    )
