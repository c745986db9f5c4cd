"""CSRF tokens: one per session, echoed by the browser in a header on unsafe requests."""

from __future__ import annotations

import hmac
import secrets

__all__ = ["csrf_matches", "new_csrf_token"]


def new_csrf_token() -> str:
    """A fresh, unguessable CSRF token."""
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` equals ``expected`` (constant-time); False if either is empty."""
    if not expected or not given:
        return False
    # Bytes, because compare_digest refuses non-ASCII str and a header may hold anything.
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
