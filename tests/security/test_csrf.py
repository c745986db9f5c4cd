from __future__ import annotations

from krsn.security.csrf import csrf_matches, new_csrf_token


def test_tokens_are_unique_and_long() -> None:
    tokens = {new_csrf_token() for _ in range(500)}
    assert len(tokens) == 500
    assert all(len(token) >= 40 for token in tokens)


def test_only_the_same_token_matches() -> None:
    token = new_csrf_token()
    assert csrf_matches(token, token)
    assert not csrf_matches(token, new_csrf_token())
    assert not csrf_matches(token, token[:-1])


def test_missing_tokens_never_match() -> None:
    assert not csrf_matches(None, None)
    assert not csrf_matches("", "")
    assert not csrf_matches(new_csrf_token(), None)
    assert not csrf_matches(None, new_csrf_token())


def test_a_non_ascii_header_is_a_mismatch_not_an_error() -> None:
    assert not csrf_matches(new_csrf_token(), "ünïcødé")
