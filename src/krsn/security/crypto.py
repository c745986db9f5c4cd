"""Secrets at rest: Fernet encryption under a key derived from the platform's secret key."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from krsn.config import get_settings

__all__ = ["SecretKeyMismatch", "decrypt", "encrypt"]


class SecretKeyMismatch(ValueError):
    """A stored secret cannot be decrypted: the secret key changed, or the value was altered."""


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    # Any string may serve as the secret key; Fernet needs exactly 32 url-safe base64 bytes.
    digest = hashlib.sha256(secret_key.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _current() -> Fernet:
    # Read the key on every call so that a changed setting is honoured at once; the
    # Fernet object itself is cached per key.
    return _fernet(get_settings().resolved_secret_key())


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the platform key; the token is url-safe ASCII."""
    return _current().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt`; raise :class:`SecretKeyMismatch` if it fails."""
    try:
        return _current().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise SecretKeyMismatch(
            "a stored secret cannot be decrypted: the secret key (KRSN_SECRET_KEY or "
            "<data_dir>/secret.key) changed since it was written, or the value was altered. "
            "Restore the previous key, or enter the secret again."
        ) from exc
