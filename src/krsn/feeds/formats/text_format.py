"""Plain lists: one value per line, comments, and optionally a regex to pick the value.

Rules (defaults in brackets):

- ``comment_prefix`` [``"#"``]: a prefix, a list of prefixes (``["#", "!", ";"]``) or
  ``null``; lines starting with one (after leading spaces) are skipped, as are blank lines.
- ``regex`` [none]: a pattern searched in each line, with a named group ``value`` and
  optionally ``kind``, ``first_seen``, ``last_seen``, ``tags``, ``malware_family``,
  ``confidence``, ``description``; other named groups go to ``extra``. Without it the value is
  the whole line, stripped. Nested unbounded repetition (``(a+)+``) is refused: it can take
  exponential time on a crafted line.
- ``skip_unmatched`` [false]: skip lines the regex does not match instead of reporting them
  (zone-file headers, ``$TTL`` lines).
- ``kind``, ``kind_map``, ``tags``, ``malware_family``, ``date_format``, ``tag_separator``
  (``,``): see ``reading.FieldRules``.
- ``max_line_length`` [65,536], ``max_records`` [5,000,000], ``max_bytes`` [1 GiB],
  ``encoding`` [utf-8].
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, Final

from pydantic import Field, field_validator

from krsn.feeds.formats.base import ParsedRow, ParseError
from krsn.feeds.formats.reading import (
    FIELDS,
    FieldRules,
    LineLimits,
    LineReader,
    RecordCounter,
    RuledFormat,
    build_row,
    comment_prefixes,
    reject_structured,
    validate,
)

MAX_PATTERN_LENGTH: Final = 2000


class TextRules(LineLimits, FieldRules):
    """Rules of the ``text`` format."""

    comment_prefix: str | list[str] | None = "#"
    regex: str | None = Field(None, max_length=MAX_PATTERN_LENGTH)
    skip_unmatched: bool = False

    @field_validator("regex")
    @classmethod
    def _usable_regex(cls, value: str | None) -> str | None:
        if value is not None:
            compile_value_regex(value)
        return value


def compile_value_regex(pattern: str) -> re.Pattern[str]:
    """The pattern compiled, with a ``value`` group and no nested unbounded repetition."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if "value" not in compiled.groupindex:
        raise ValueError("the regex needs a named group 'value', as in (?P<value>\\S+)")
    if _nested_repetition(pattern):
        raise ValueError(
            "nested unbounded repetition such as (a+)+ can take exponential time; "
            "rewrite it, or use a possessive quantifier (a++) or an atomic group (?>...)"
        )
    return compiled


_CATEGORIES: Final = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}


def _nested_repetition(pattern: str) -> bool:
    """Whether an unbounded repeat holds another one that can eat what separates its turns.

    ``(a+)+`` and ``(.*a)*`` can split one input in exponentially many ways; ``([a-z]+[.])*``
    cannot, because each turn must match a dot the inner repeat never matches.
    """
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser as parser  # type: ignore[attr-defined]
    except ImportError:  # a future interpreter without the private parser: rely on line limits
        return False
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT}

    def unbounded(op: Any, av: Any) -> bool:
        return op in repeats and (av[1] == c.MAXREPEAT or av[1] > 1000)

    def may_match(op: Any, av: Any, char: int) -> bool:
        if op == c.LITERAL:
            return bool(av == char)
        if op == c.NOT_LITERAL:
            return bool(av != char)
        if op == c.IN:
            negate, hit = False, False
            for sub_op, sub_av in av:
                if sub_op == c.NEGATE:
                    negate = True
                elif sub_op == c.LITERAL:
                    hit = hit or sub_av == char
                elif sub_op == c.RANGE:
                    hit = hit or sub_av[0] <= char <= sub_av[1]
                elif sub_op == c.CATEGORY and str(sub_av) in _CATEGORIES:
                    hit = hit or re.fullmatch(_CATEGORIES[str(sub_av)], chr(char)) is not None
                else:
                    hit = True
            return hit != negate
        return True  # ANY and anything more complex: assume it may

    def inner_repeats(items: Any) -> list[Any]:
        found: list[Any] = []
        for op, av in items:
            if unbounded(op, av):
                found.append(av[2])
            for body in children(op, av):
                found.extend(inner_repeats(body))
        return found

    def children(op: Any, av: Any) -> list[Any]:
        if op in repeats:
            return [av[2]]
        if op == c.SUBPATTERN:
            return [av[-1]]
        if op == c.BRANCH:
            return list(av[1])
        if op in (c.ASSERT, c.ASSERT_NOT):
            return [av[1]]
        return []  # ATOMIC_GROUP and POSSESSIVE_REPEAT never backtrack into their body

    def mandatory_literals(items: Any) -> list[int]:
        found: list[int] = []
        for op, av in items:
            if op == c.LITERAL:
                found.append(av)
            elif op == c.SUBPATTERN:
                found.extend(mandatory_literals(av[-1]))
        return found

    def separated(body: Any, inner: list[Any]) -> bool:
        for char in mandatory_literals(body):
            if not any(may_match(op, av, char) for repeat in inner for op, av in repeat):
                return True
        return False

    def walk(items: Any) -> bool:
        for op, av in items:
            if unbounded(op, av):
                inner = inner_repeats(av[2])
                if inner and not separated(av[2], inner):
                    return True
            if any(walk(body) for body in children(op, av)):
                return True
        return False

    return walk(parser.parse(pattern))


class TextFormat(RuledFormat):
    """One value per line."""

    name = "text"
    rules_model = TextRules

    def parse(self, stream: BinaryIO, rules: Mapping[str, Any]) -> Iterator[ParsedRow | ParseError]:
        """Yield a row per value line and an error per unreadable or unmatched line."""
        checked = validate(TextRules, rules)
        prefixes = comment_prefixes(checked.comment_prefix)
        regex = compile_value_regex(checked.regex) if checked.regex else None
        extra_groups = [name for name in regex.groupindex if name not in FIELDS] if regex else []
        count = RecordCounter(checked.max_records)
        reader = LineReader(
            stream,
            max_line_length=checked.max_line_length,
            max_bytes=checked.max_bytes,
            encoding=checked.encoding,
        )
        first = True
        for item in reader:
            if isinstance(item, ParseError):
                count()
                yield item
                continue
            number, text = item
            stripped = text.strip()
            if not stripped or (prefixes and stripped.startswith(prefixes)):
                continue
            if first:
                reject_structured(stripped)
                first = False
            fields: dict[str, Any]
            extra: dict[str, Any] = {}
            if regex is None:
                fields = {"value": stripped}
            else:
                match = regex.search(text)
                if match is None:
                    if not checked.skip_unmatched:
                        count()
                        yield ParseError(number, "the line does not match the regex")
                    continue
                fields = match.groupdict()
                extra = {name: fields.pop(name) for name in extra_groups if fields.get(name)}
            count()
            try:
                yield build_row(number, fields, checked, raw={"line": text}, extra=extra)
            except ValueError as exc:
                yield ParseError(number, str(exc))
