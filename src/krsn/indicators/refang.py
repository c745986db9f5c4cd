"""Undo the defanging threat reports apply to indicators so that nobody clicks them.

Reports write ``hxxp://evil[.]com`` or ``admin[at]evil(.)com``; :func:`refang` turns them back
into ``http://evil.com`` and ``admin@evil.com``. Recognised, case-insensitively:

- the dot: ``[.]``, ``(.)``, ``{.}``, ``[dot]``, ``(dot)``, ``{dot}`` (spaces allowed inside and
  around, as in ``example [dot] com``), and ``\\.``;
- the at sign of e-mails: ``[at]``, ``(at)``, ``{at}``, ``[@]``, ``(@)`` (a bare ``" at "`` is
  left alone: it is English more often than a defanged address);
- the colon and the scheme separator: ``[:]``, ``(:)``, ``[://]``, ``[/]``;
- the scheme: ``hxxp``, ``hXXp``, ``hxxps`` and ``fxp`` at the start of the value, when a colon
  or a bracket follows.

The replacements run until nothing changes, so a doubly defanged ``[[.]]`` is undone as well and
a refanged value never refangs further: ``refang(refang(x)) == refang(x)``.
"""

from __future__ import annotations

import re

_OPEN = r"[\[\(\{]"
_CLOSE = r"[\]\)\}]"

_DEFANG = re.compile(
    rf"""
      (?P<dot>\s*{_OPEN}\s*(?:\.|dot)\s*{_CLOSE}\s*|\\\.)
    | (?P<at>\s*{_OPEN}\s*(?:@|at)\s*{_CLOSE}\s*)
    | (?P<sep>{_OPEN}\s*://\s*{_CLOSE})
    | (?P<colon>{_OPEN}\s*:\s*{_CLOSE})
    | (?P<slash>{_OPEN}\s*/\s*{_CLOSE})
    | (?P<http>^h(?:xx|tx|xt)p(?=s?(?::|{_OPEN})))
    | (?P<ftp>^fxp(?=s?(?::|{_OPEN})))
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Cheap test run on every value first: most values carry no defanging at all.
_HINT = re.compile(r"[\[\(\{\\]|^(?:h(?:xx|tx|xt)p|fxp)", re.IGNORECASE)

_REPLACEMENT = {
    "dot": ".",
    "at": "@",
    "sep": "://",
    "colon": ":",
    "slash": "/",
    "http": "http",
    "ftp": "ftp",
}


def _replace(match: re.Match[str]) -> str:
    return _REPLACEMENT[match.lastgroup or ""]


def is_defanged(value: str) -> bool:
    """Whether ``value`` contains any defanging :func:`refang` would undo."""
    return _HINT.search(value) is not None and _DEFANG.search(value) is not None


def refang(value: str) -> str:
    """``value`` with every recognised defanging undone; unchanged when there is none."""
    if _HINT.search(value) is None:
        return value
    while True:
        plain = _DEFANG.sub(_replace, value)
        if plain == value:
            return plain
        value = plain
