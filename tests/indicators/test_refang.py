"""Refanging: the defanging styles of threat reports are undone, plain values are left alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krsn.indicators.refang import is_defanged, refang


@pytest.mark.parametrize(
    ("defanged", "plain"),
    [
        ("evil[.]com", "evil.com"),
        ("evil(.)com", "evil.com"),
        ("evil{.}com", "evil.com"),
        ("evil[dot]com", "evil.com"),
        ("evil (DOT) com", "evil.com"),
        ("evil [.] com", "evil.com"),
        ("evil\\.com", "evil.com"),
        ("admin[at]evil.com", "admin@evil.com"),
        ("admin (at) evil.com", "admin@evil.com"),
        ("admin[@]evil.com", "admin@evil.com"),
        ("hxxp://evil.com", "http://evil.com"),
        ("hXXps://evil.com", "https://evil.com"),
        ("http[:]//evil.com", "http://evil.com"),
        ("hxxp[://]evil.com", "http://evil.com"),
        ("http://evil.com[/]gate", "http://evil.com/gate"),
        ("fxp://evil.com", "ftp://evil.com"),
        ("1.2.3[.]4", "1.2.3.4"),
    ],
)
def test_each_defanging_style_is_undone(defanged: str, plain: str) -> None:
    assert is_defanged(defanged)
    assert refang(defanged) == plain


@pytest.mark.parametrize(
    "value",
    [
        "http://evil.com/path",
        "john at example.com",  # a bare "at" is English more often than a defanged address
        "hxxpd.example.com",  # "hxxp" only at the start of a scheme
        "d41d8cd98f00b204e9800998ecf8427e",
        "2001:db8::1",
    ],
)
def test_values_without_defanging_are_unchanged(value: str) -> None:
    assert not is_defanged(value)
    assert refang(value) == value


def test_doubly_defanged_dots_are_undone_completely() -> None:
    assert refang("evil[[.]]com") == "evil.com"
    assert refang("evil([.])com") == "evil.com"


@given(st.text(alphabet=st.sampled_from(list("ab.@:/[](){}hxtp \\")), max_size=40))
def test_refang_is_idempotent(value: str) -> None:
    once = refang(value)
    assert refang(once) == once
