"""Multi-factor authentication: TOTP (RFC 6238) with replay protection, and recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno

__all__ = [
    "TOTP_INTERVAL",
    "consume_recovery_code",
    "generate_recovery_codes",
    "hash_recovery_code",
    "new_totp_secret",
    "provisioning_uri",
    "qr_svg_data_uri",
    "verify_totp",
]

TOTP_INTERVAL = 30
# One step either side absorbs clock drift between the server and the phone.
_VALID_WINDOW = 1
# No 0/o, 1/l/i: a code read off paper must not be mistyped.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_totp_secret() -> str:
    """A new random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account: str, issuer: str = "KRSN-RT2I") -> str:
    """The ``otpauth://`` URI an authenticator app enrols from."""
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg_data_uri(uri: str) -> str:
    """A QR code of ``uri`` as an SVG ``data:`` URI, ready for an ``<img src>``."""
    return str(segno.make(uri, error="m", micro=False).svg_data_uri(scale=4))


def verify_totp(
    secret: str, code: str, *, last_used_step: int | None, at: float | None = None
) -> int | None:
    """The time step ``code`` belongs to (now ±1), or None if wrong or already used.

    Store the returned step and pass it back as ``last_used_step``: a code of that step or
    an earlier one is a replay and is refused. ``at`` (Unix time) defaults to now.
    """
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int((time.time() if at is None else at) // TOTP_INTERVAL)
    matched: int | None = None
    # Check every candidate step so the time taken does not reveal which one matched.
    for step in range(current - _VALID_WINDOW, current + _VALID_WINDOW + 1):
        fresh = last_used_step is None or step > last_used_step
        if hmac.compare_digest(totp.generate_otp(step), code) and fresh:
            matched = step
    return matched


def generate_recovery_codes(n: int = 10) -> list[str]:
    """``n`` one-time recovery codes such as ``k7mq-eh3t-zrp9`` (about 59 bits each)."""
    return [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(n)
    ]


def hash_recovery_code(code: str) -> str:
    """The SHA-256 hex digest stored for a recovery code; case, spaces and dashes are ignored."""
    normalised = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def consume_recovery_code(hashes: list[str], code: str) -> list[str] | None:
    """The hashes left once ``code`` is used up, or None if it is not one of them."""
    candidate = hash_recovery_code(code)
    found: int | None = None
    # Compare against every hash, without stopping early, in constant time.
    for index, stored in enumerate(hashes):
        if hmac.compare_digest(stored.encode("ascii"), candidate.encode("ascii")) and found is None:
            found = index
    if found is None:
        return None
    return hashes[:found] + hashes[found + 1 :]
