from __future__ import annotations

import hashlib

from krsn.security.apikeys import generate_api_key, hash_api_key, looks_like_api_key


def test_keys_are_unique_and_shaped() -> None:
    generated = [generate_api_key() for _ in range(1000)]
    assert len({key for key, _, _ in generated}) == 1000
    assert len({digest for _, digest, _ in generated}) == 1000
    for key, digest, prefix in generated:
        assert key.startswith("krsn_")
        assert len(key) == len("krsn_") + 43
        assert looks_like_api_key(key)
        assert digest == hash_api_key(key)
        assert prefix == key[:12]
        assert len(prefix) == 12


def test_the_hash_is_stable_sha256_hex() -> None:
    key, digest, _ = generate_api_key()
    assert hash_api_key(key) == hash_api_key(key) == digest
    assert digest == hashlib.sha256(key.encode()).hexdigest()
    assert len(digest) == 64


def test_looks_like_api_key_refuses_other_strings() -> None:
    key, _, _ = generate_api_key()
    for value in ["", "krsn_", key[:-1], key + "x", "sk_" + key[5:], key.replace("_", " ", 1)]:
        assert not looks_like_api_key(value)
