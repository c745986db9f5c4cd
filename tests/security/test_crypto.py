from __future__ import annotations

import pytest
from sqlalchemy import text

from krsn.config import get_settings
from krsn.db import Database
from krsn.identity.models import User
from krsn.security.crypto import SecretKeyMismatch, decrypt, encrypt


def test_round_trip_keeps_any_text() -> None:
    for plaintext in ["", "JBSWY3DPEHPK3PXP", "ünïcødé ✓ 秘密", "x" * 10_000]:
        token = encrypt(plaintext)
        assert plaintext not in token or not plaintext
        assert decrypt(token) == plaintext


def test_each_encryption_is_different() -> None:
    assert encrypt("same") != encrypt("same")


def test_a_tampered_token_is_refused() -> None:
    token = encrypt("a secret")
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    with pytest.raises(SecretKeyMismatch):
        decrypt(tampered)


@pytest.mark.parametrize("garbage", ["", "not a token", "gAAAAAB", "ünïcødé"])
def test_garbage_is_refused_with_the_same_error(garbage: str) -> None:
    with pytest.raises(SecretKeyMismatch):
        decrypt(garbage)


def test_a_changed_secret_key_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    token = encrypt("a secret")
    monkeypatch.setattr(get_settings(), "secret_key", "another-key-entirely")
    with pytest.raises(SecretKeyMismatch, match="secret key") as caught:
        decrypt(token)
    assert isinstance(caught.value, ValueError)
    monkeypatch.undo()
    assert decrypt(token) == "a secret"


def test_encrypted_columns_hold_no_plaintext(db: Database) -> None:
    with db.transaction() as session:
        session.add(
            User(
                email="mfa@example.org",
                username="mfa",
                password_hash="x",
                mfa_secret="JBSWY3DPEHPK3PXP",
            )
        )
    with db.transaction() as session:
        raw = session.execute(text("SELECT mfa_secret FROM users")).scalar_one()
        user = session.query(User).one()
    assert "JBSWY3DPEHPK3PXP" not in raw
    assert user.mfa_secret == "JBSWY3DPEHPK3PXP"
