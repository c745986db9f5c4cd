"""API keys: random, shown once, stored as a SHA-256 hash that serves as the lookup key.

A slow hash would buy nothing here: the keys carry 256 random bits, so they cannot be
guessed, and a request must find its key by hash in one index lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["API_KEY_PREFIX", "generate_api_key", "hash_api_key", "looks_like_api_key"]

API_KEY_PREFIX = "krsn_"
DISPLAY_PREFIX_LENGTH = 12
# token_urlsafe(32) is always 43 characters of the url-safe base64 alphabet.
_API_KEY = re.compile(rf"{API_KEY_PREFIX}[A-Za-z0-9_-]{{43}}")


def generate_api_key() -> tuple[str, str, str]:
    """A new key as ``(plaintext, sha256 hex for lookups, display prefix)``."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_api_key(key), key[:DISPLAY_PREFIX_LENGTH]


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest under which ``key`` is stored and looked up."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_api_key(value: str) -> bool:
    """Whether ``value`` has the shape of a key made by :func:`generate_api_key`."""
    return _API_KEY.fullmatch(value) is not None
