"""The condition language of correlation rules: a JSON tree, validated once and compiled to
closures, never evaluated as code.

A tree is ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` or a leaf
``{"field": ..., "op": ..., "value": ...}`` over the fields of an
:class:`~krsn.detection.observations.Observation` (see ``docs/rules.md`` for the reference).
Validation names the JSON path of a fault (``rule_definition.condition.all.1.op``); a
compiled tree is a plain function of one observation. A leaf over a field the observation
lacks is false, whatever its operator (``exists`` aside).

The same field names serve ``group_by`` (:func:`compile_group`) and title templates
(:func:`compile_template`).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import ipaddress
import json
import math
import re
import string
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from krsn.detection.models import WatchlistType
from krsn.detection.observations import Observation, Origin
from krsn.errors import Invalid
from krsn.indicators.models import IndicatorType, Severity
from krsn.indicators.normalise import Kind

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_NODES",
    "OPERATORS",
    "Predicate",
    "Template",
    "compile_condition",
    "compile_group",
    "compile_template",
    "group_key",
    "resolve",
]

Predicate = Callable[[Observation], bool]

MAX_DEPTH: Final = 8
"""The deepest nesting of ``all``, ``any`` and ``not``."""
MAX_NODES: Final = 256
"""The most nodes (branches and leaves) in one tree."""
MAX_LIST: Final = 1000
"""The most values an ``in``, ``not_in`` or ``in_cidr`` leaf lists."""
MAX_TEXT: Final = 2048
"""The longest string value a leaf compares with (the longest indicator value)."""
MAX_PATTERN: Final = 256
"""The longest regular expression of ``matches``."""
MATCHED_PREFIX: Final = 1024
"""``matches`` reads at most this many characters of a value: it bounds the worst case."""
MAX_CONTEXT_DEPTH: Final = 4
"""The most keys in a ``context.<key>.<key>`` path."""
MAX_TEMPLATE: Final = 500
"""The longest title template, and the longest title (the ``alerts.title`` column)."""
MAX_KEY: Final = 200
"""A grouping key longer than this is replaced by its digest: alert keys must stay short."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What a field resolves to when the observation does not have it."""


class FieldType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    LIST = "list"
    ANY = "any"
    """A ``context.<key>`` value: whatever JSON the sensor sent."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    get: Callable[[Observation], Any]
    """The value, or :data:`MISSING`."""
    choices: frozenset[str] | None = None
    """The only values it takes (an enumeration), checked when a rule names one."""


def _plain(value: Any) -> Any:
    # Enumerations compare as their text; a rule and a template see the text.
    return MISSING if value is None else (value.value if isinstance(value, enum.Enum) else value)


def _observed(attribute: str) -> Callable[[Observation], Any]:
    def get(observation: Observation) -> Any:
        return _plain(getattr(observation, attribute))

    return get


def _indicator(attribute: str) -> Callable[[Observation], Any]:
    def get(observation: Observation) -> Any:
        indicator = observation.indicator
        return MISSING if indicator is None else _plain(getattr(indicator, attribute))

    return get


def _watchlist(attribute: str) -> Callable[[Observation], Any]:
    def get(observation: Observation) -> Any:
        hits = observation.watchlist_hits
        return [_plain(getattr(hit, attribute)) for hit in hits] if hits else MISSING

    return get


def _choices(values: type[enum.Enum]) -> frozenset[str]:
    return frozenset(str(member.value) for member in values)


_FIELD_LIST: Final = (
    Field("origin", FieldType.TEXT, _observed("origin"), _choices(Origin)),
    Field("value", FieldType.TEXT, _observed("value")),
    Field("kind", FieldType.TEXT, _observed("kind"), _choices(Kind)),
    Field("canonical", FieldType.TEXT, _observed("canonical")),
    Field("indicator.id", FieldType.TEXT, _indicator("id")),
    Field("indicator.type", FieldType.TEXT, _indicator("indicator_type"), _choices(IndicatorType)),
    Field("indicator.value", FieldType.TEXT, _indicator("indicator_value")),
    Field("indicator.severity", FieldType.TEXT, _indicator("severity"), _choices(Severity)),
    Field("indicator.confidence", FieldType.NUMBER, _indicator("confidence_score")),
    Field("indicator.threat_score", FieldType.NUMBER, _indicator("threat_score")),
    Field("indicator.decayed_threat_score", FieldType.NUMBER, _indicator("decayed_threat_score")),
    Field("indicator.tags", FieldType.LIST, _indicator("tags")),
    Field("indicator.malware_families", FieldType.LIST, _indicator("malware_families")),
    Field("source", FieldType.TEXT, _observed("source")),
    Field("feed", FieldType.TEXT, _observed("feed")),
    Field("host", FieldType.TEXT, _observed("host")),
    Field("sensor", FieldType.TEXT, _observed("sensor")),
    Field("log_source", FieldType.TEXT, _observed("log_source")),
    Field("watchlist.names", FieldType.LIST, _watchlist("watchlist_name")),
    Field("watchlist.types", FieldType.LIST, _watchlist("list_type"), _choices(WatchlistType)),
)
FIELDS: Final[Mapping[str, Field]] = {f.name: f for f in _FIELD_LIST}
"""The fields a rule may name, besides ``context.<key>``."""

_CONTEXT_KEY: Final = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def _context(path: Sequence[str]) -> Callable[[Observation], Any]:
    def get(observation: Observation) -> Any:
        value: Any = observation.context
        for key in path:
            if not isinstance(value, dict):
                return MISSING
            value = value.get(key, MISSING)
            if value is MISSING:
                return MISSING
        return MISSING if value is None else value

    return get


def field_of(name: Any, where: str) -> Field:
    """The field a rule names; ``Invalid`` at ``where`` when there is none."""
    if not isinstance(name, str):
        raise Invalid(where, "must be a field name (a string)")
    known = FIELDS.get(name)
    if known is not None:
        return known
    if name.startswith("context."):
        path = name.split(".")[1:]
        if 0 < len(path) <= MAX_CONTEXT_DEPTH and all(_CONTEXT_KEY.fullmatch(k) for k in path):
            return Field(name, FieldType.ANY, _context(path))
        raise Invalid(
            where,
            f"context.<key> takes 1 to {MAX_CONTEXT_DEPTH} keys of letters, digits, '_' or "
            "'-', joined with '.'",
        )
    raise Invalid(where, f"unknown field {name!r}; use one of {', '.join(FIELDS)} or context.<key>")


def resolve(observation: Observation, name: str) -> Any:
    """The value of a field (validated beforehand) in an observation, or :data:`MISSING`."""
    return field_of(name, "field").get(observation)


# --- values a rule gives ------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _text(value: Any, where: str, *, field: Field | None = None) -> str:
    if not isinstance(value, str):
        raise Invalid(where, "must be a string")
    if len(value) > MAX_TEXT:
        raise Invalid(where, f"must be at most {MAX_TEXT} characters")
    if field is not None and field.choices is not None and value not in field.choices:
        raise Invalid(
            where,
            f"{field.name} is never {value!r}; it is one of {', '.join(sorted(field.choices))}",
        )
    return value


def _number(value: Any, where: str) -> float:
    if not _is_number(value):
        raise Invalid(where, "must be a finite number")
    return float(value)


def _scalar_for(field: Field, value: Any, where: str) -> Any:
    """A value one of ``field``'s values is compared with."""
    if field.type is FieldType.NUMBER:
        return _number(value, where)
    if field.type is FieldType.ANY:
        if not _is_scalar(value):
            raise Invalid(where, "must be a string, a number or a boolean")
        if isinstance(value, str):
            return _text(value, where)
        return value
    return _text(value, where, field=field)


def _values_for(field: Field, value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise Invalid(where, "must be a non-empty list")
    if len(value) > MAX_LIST:
        raise Invalid(where, f"must list at most {MAX_LIST} values")
    return [_scalar_for(field, item, f"{where}.{i}") for i, item in enumerate(value)]


def _hashable(value: Any) -> Any:
    # True == 1 and hash(True) == hash(1): a boolean keeps its type apart in a set.
    return (bool, value) if isinstance(value, bool) else value


def _same(left: Any, right: Any) -> bool:
    """Equality that keeps booleans apart from numbers and numbers apart from text."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if _is_number(left):
        return _is_number(right) and left == right
    return isinstance(left, str) and left == right


# --- regular expressions ------------------------------------------------------------------

_QUANTIFIER: Final = re.compile(r"\{(\d*)(,?)(\d*)\}")
_LARGE_REPEAT: Final = 16
"""A repeat allowing more than this many times counts as unbounded."""
_MAX_UNBOUNDED: Final = 2
_MAX_CHOICES: Final = 256
"""The most ways bounded repeats and alternations may split a text..."""
_MAX_CHOICES_AT_LIMIT: Final = 4
"""... and the most when the unbounded repeats are at their limit."""


@dataclass
class _Stats:
    """What a pattern, or a group of it, holds: enough to bound its worst case."""

    unbounded: int = 0
    variable: bool = False
    """Holds a repeat of no fixed count (``?``, ``*``, ``{1,3}``)."""
    alternates: bool = False
    choices: int = 1
    """Ways its bounded repeats and alternations can split a text, in the current branch."""
    earlier: int = 0
    """The ways of the branches before the current one (``a|b``)."""

    def total(self) -> int:
        return min(self.earlier + self.choices, _CHOICES_CAP)


_CHOICES_CAP: Final = 10**9
_SIMPLE: Final = _Stats()


def _pattern(value: Any, where: str) -> re.Pattern[str]:
    """A regular expression safe to run on untrusted text, compiled once.

    Python's engine backtracks: a nested repeat (``(a+)+``), a repeated alternation
    (``(a|aa)*``) or a backreference can take exponential time; each unbounded repeat
    multiplies the worst case by the length of the text, as does an unanchored search (it
    tries every start), and bounded repeats and alternations by the ways they split it. So
    the first are refused; at most two unbounded repeats are allowed, one when the pattern
    is not anchored with ``^``; the ways are bounded, tighter when the unbounded repeats are
    at their limit; and only the first :data:`MATCHED_PREFIX` characters are read.
    """
    text = _text(value, where)
    if not text:
        raise Invalid(where, "must not be empty")
    if len(text) > MAX_PATTERN:
        raise Invalid(where, f"must be at most {MAX_PATTERN} characters")
    stats = _scan(text, where)
    anchored = text.startswith(("^", r"\A")) and not _top_level_alternation(text)
    allowed = _MAX_UNBOUNDED if anchored else _MAX_UNBOUNDED - 1
    if stats.unbounded > allowed:
        raise Invalid(
            where,
            f"has {stats.unbounded} unbounded repeats (*, +, {{n,}} or more than "
            f"{_LARGE_REPEAT}); at most {allowed} {'is' if allowed == 1 else 'are'} allowed"
            + ("" if anchored else ", or 2 in a pattern anchored with ^"),
        )
    # The worst case grows as the text's length to this power, times the ways.
    power = stats.unbounded + (0 if anchored else 1)
    most = _MAX_CHOICES_AT_LIMIT if power >= 2 else _MAX_CHOICES
    if stats.total() > most:
        raise Invalid(
            where,
            f"its bounded repeats and alternations split a text {stats.total()} ways, more "
            f"than the {most} allowed"
            + (" beside its unbounded repeats" if most == _MAX_CHOICES_AT_LIMIT else "")
            + "; simplify it",
        )
    try:
        # What Python warns of (a nested set, "[[") may change meaning in a later release.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return re.compile(text)
    except re.error as exc:
        raise Invalid(where, f"not a regular expression: {exc}") from None
    except Warning as exc:
        raise Invalid(where, f"ambiguous ({exc}); escape the character, as \\[") from None


def _scan(text: str, where: str) -> _Stats:
    """What the pattern holds, refusing the constructs that can blow up."""
    stack = [_Stats()]
    pending: _Stats | None = None
    """The atom a quantifier that follows would apply to (a group's stats, or a simple one)."""
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        low, high, length = _quantifier(text, i)
        if length:
            i += length
            # A lazy (?) or possessive (+) mark after a quantifier changes nothing here.
            if i < end and text[i] in "?+":
                i += 1
            if pending is not None:
                _repeat(stack[-1], pending, low, high, where)
                pending = None
            continue
        if pending is not None:
            _repeat(stack[-1], pending, 1, 1, where)
            pending = None
        if char == "\\":
            following = text[i + 1 : i + 2]
            if following.isdigit() and following != "0":
                raise Invalid(where, "backreferences (\\1) are not allowed")
            i += 2
            pending = _SIMPLE
        elif char == "[":
            i = _class_end(text, i)
            pending = _SIMPLE
        elif char == "(":
            head = text[i + 1 : i + 4]
            if head.startswith("?P="):
                raise Invalid(where, "backreferences ((?P=name)) are not allowed")
            if head.startswith("?("):
                raise Invalid(where, "conditional groups are not allowed")
            if head.startswith("?#"):
                close = text.find(")", i)
                i = end if close < 0 else close + 1
                continue
            flags = re.match(r"\(\?([a-zA-Z-]+)[:)]", text[i:])
            if flags and "x" in flags.group(1):
                raise Invalid(where, "the verbose flag (x) is not allowed")
            stack.append(_Stats())
            # Skip the group's marks ((?:, (?P<name>, (?=) so that they read as no atom.
            marks = re.match(r"\((\?(P<[^>]*>|<=|<!|[=!:>]|[a-zA-Z-]+:?))?", text[i:])
            i += marks.end() if marks else 1
        elif char == ")":
            if len(stack) > 1:
                closed = stack.pop()
                pending = _Stats(
                    unbounded=closed.unbounded,
                    variable=closed.variable,
                    alternates=closed.alternates,
                    choices=closed.total(),
                )
            i += 1
        elif char == "|":
            frame = stack[-1]
            frame.alternates = True
            frame.earlier = min(frame.earlier + frame.choices, _CHOICES_CAP)
            frame.choices = 1
            i += 1
        else:
            pending = _SIMPLE
            i += 1
    if pending is not None:
        _repeat(stack[-1], pending, 1, 1, where)
    # Unclosed groups are left to re.compile to refuse.
    return stack[0]


def _repeat(frame: _Stats, atom: _Stats, low: int, high: int | None, where: str) -> None:
    """Fold ``atom`` repeated ``low`` to ``high`` times (None: no bound) into ``frame``."""
    if high is None or high > _LARGE_REPEAT:
        if atom.variable or atom.alternates:
            raise Invalid(
                where,
                "a repeated group holds a repeat or an alternation (as in (a+)+ or (a|b)*), "
                "which can take exponential time; use a character class",
            )
        frame.unbounded += 1
        frame.variable = True
        return
    if atom.unbounded and high > 1:
        raise Invalid(where, "a group holding an unbounded repeat is itself repeated; rewrite it")
    frame.unbounded += atom.unbounded
    frame.variable = frame.variable or atom.variable or high > low
    frame.alternates = frame.alternates or atom.alternates
    ways = high - low + 1
    for _ in range(high if atom.choices > 1 else 0):
        ways = min(ways * atom.choices, _CHOICES_CAP)
    frame.choices = min(frame.choices * ways, _CHOICES_CAP)


def _quantifier(text: str, i: int) -> tuple[int, int | None, int]:
    """(least, most or None for no bound, length) of a quantifier at ``i``; length 0 if none."""
    char = text[i]
    if char == "*":
        return 0, None, 1
    if char == "+":
        return 1, None, 1
    if char == "?":
        return 0, 1, 1
    if char == "{":
        found = _QUANTIFIER.match(text, i)
        if found and (found.group(1) or found.group(3)):
            low = int(found.group(1) or 0)
            if not found.group(2):
                return low, low, found.end() - i
            return low, int(found.group(3)) if found.group(3) else None, found.end() - i
    return 0, 0, 0


def _class_end(text: str, start: int) -> int:
    """The index after the character class opening at ``start``."""
    i = start + 1
    if text[i : i + 1] == "^":
        i += 1
    if text[i : i + 1] == "]":
        i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "]":
            return i + 1
        i += 1
    return len(text)


def _top_level_alternation(text: str) -> bool:
    depth, i = 0, 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(text, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        i += 1
    return False


# --- operators ----------------------------------------------------------------------------

Test = Callable[[Any], bool]


def _on_text(test: Callable[[str], bool]) -> Test:
    def check(value: Any) -> bool:
        if isinstance(value, str):
            return test(value)
        if isinstance(value, list | tuple):
            return any(isinstance(item, str) and test(item) for item in value)
        return False

    return check


def _networks(value: Any, where: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    given = value if isinstance(value, list) else [value]
    if not given or len(given) > MAX_LIST:
        raise Invalid(where, f"must be a CIDR range or a list of 1 to {MAX_LIST} of them")
    networks = []
    for i, item in enumerate(given):
        at = f"{where}.{i}" if isinstance(value, list) else where
        try:
            networks.append(ipaddress.ip_network(_text(item, at), strict=False))
        except ValueError:
            raise Invalid(at, f"{item!r} is not a CIDR range such as 10.0.0.0/8") from None
    return networks


Address = (
    ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network
)


@functools.lru_cache(maxsize=8192)
def _address(text: str) -> Address | None:
    """An address or a range read from text, or None; a batch repeats its values across
    rules, so each is parsed once."""
    try:
        if "/" in text:
            return ipaddress.ip_network(text, strict=False)
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _in_networks(networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Test:
    def inside(text: str) -> bool:
        given = _address(text) if len(text) <= 64 else None
        if given is None:
            return False
        if isinstance(given, ipaddress.IPv4Network | ipaddress.IPv6Network):
            return any(
                given.version == n.version and given.subnet_of(n)  # type: ignore[arg-type]
                for n in networks
            )
        return any(given in n for n in networks)

    return _on_text(inside)


def _compare(op: str, limit: float) -> Test:
    compare: Callable[[float], bool] = {
        "gt": lambda v: v > limit,
        "gte": lambda v: v >= limit,
        "lt": lambda v: v < limit,
        "lte": lambda v: v <= limit,
    }[op]

    def check(value: Any) -> bool:
        return _is_number(value) and compare(value)

    return check


_LIST_HINT: Final = "use contains, in, not_in, startswith, endswith, matches or exists on a list"


def _leaf_test(field: Field, op: str, value: Any, where: str) -> Test:
    """The test of a leaf's value, the operator's value checked against the field's type."""
    kind = field.type
    if op in ("eq", "ne"):
        if kind is FieldType.LIST:
            raise Invalid(f"{where}.op", f"{field.name} is a list; {_LIST_HINT}")
        wanted = _scalar_for(field, value, f"{where}.value")
        if op == "eq":
            return lambda v: _same(v, wanted)
        return lambda v: not _same(v, wanted)
    if op in ("in", "not_in"):
        values = {_hashable(v) for v in _values_for(field, value, f"{where}.value")}

        def one(v: Any) -> bool:
            return isinstance(v, str | int | float | bool) and _hashable(v) in values

        def hit(v: Any) -> bool:
            # A list (tags, or a context value) holds a listed value when one element is.
            if isinstance(v, list | tuple):
                return any(one(item) for item in v)
            return one(v)

        if op == "in":
            return hit
        return lambda v: not hit(v)
    if op == "contains":
        if kind is FieldType.NUMBER:
            raise Invalid(f"{where}.op", f"{field.name} is a number; use eq, in, gt, gte, lt, lte")
        wanted_text = _text(
            value, f"{where}.value", field=field if kind is FieldType.LIST else None
        )
        if kind is FieldType.LIST:
            return lambda v: isinstance(v, list | tuple) and wanted_text in v
        # A context value may be a list (membership) or text (substring).
        return lambda v: isinstance(v, str | list | tuple) and wanted_text in v
    if op in ("startswith", "endswith", "matches"):
        if kind is FieldType.NUMBER:
            raise Invalid(f"{where}.op", f"{field.name} is a number; use eq, in, gt, gte, lt, lte")
        if op == "matches":
            search = _pattern(value, f"{where}.value").search
            return _on_text(lambda t: search(t, 0, MATCHED_PREFIX) is not None)
        affix = _text(value, f"{where}.value")
        if op == "startswith":
            return _on_text(lambda t: t.startswith(affix))
        return _on_text(lambda t: t.endswith(affix))
    if op in ("gt", "gte", "lt", "lte"):
        if kind in (FieldType.TEXT, FieldType.LIST):
            raise Invalid(f"{where}.op", f"{field.name} is not a number; {op} compares numbers")
        return _compare(op, _number(value, f"{where}.value"))
    if op == "in_cidr":
        if kind is FieldType.NUMBER:
            raise Invalid(f"{where}.op", f"{field.name} is a number, not an address")
        return _in_networks(_networks(value, f"{where}.value"))
    raise Invalid(f"{where}.op", f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")


OPERATORS: Final = (
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "startswith",
    "endswith",
    "matches",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "in_cidr",
)


# --- trees --------------------------------------------------------------------------------


def compile_condition(tree: Any, *, where: str) -> Predicate:
    """Validate a condition tree and compile it to a predicate; ``Invalid`` names the JSON
    path of the first fault, below ``where``."""
    budget = [MAX_NODES]
    return _node(tree, where, 1, budget)


def _node(tree: Any, where: str, depth: int, budget: list[int]) -> Predicate:
    budget[0] -= 1
    if budget[0] < 0:
        raise Invalid(where, f"the condition has more than {MAX_NODES} nodes; split the rule")
    if not isinstance(tree, dict):
        raise Invalid(
            where,
            'must be an object: {"all": [...]}, {"any": [...]}, {"not": ...} '
            'or {"field": ..., "op": ..., "value": ...}',
        )
    branch = [key for key in ("all", "any", "not") if key in tree]
    if branch:
        key = branch[0]
        if len(tree) != 1:
            extra = sorted(k for k in tree if k != key)[0]
            raise Invalid(f"{where}.{extra}", f"a {key!r} node holds nothing else")
        if depth > MAX_DEPTH:
            raise Invalid(where, f"nested deeper than {MAX_DEPTH} levels; flatten the condition")
        if key == "not":
            inner = _node(tree["not"], f"{where}.not", depth + 1, budget)
            return lambda o: not inner(o)
        children = tree[key]
        if not isinstance(children, list) or not children:
            raise Invalid(f"{where}.{key}", "must be a non-empty list of conditions")
        compiled = tuple(
            _node(child, f"{where}.{key}.{i}", depth + 1, budget)
            for i, child in enumerate(children)
        )
        if len(compiled) == 1:
            return compiled[0]
        # Plain loops: a rule runs on every observation of every batch, and a generator
        # under all() / any() costs more than the tests it runs.
        if key == "all":

            def every(o: Observation) -> bool:
                for test in compiled:  # noqa: SIM110 (see above)
                    if not test(o):
                        return False
                return True

            return every

        def some(o: Observation) -> bool:
            for test in compiled:  # noqa: SIM110 (see above)
                if test(o):
                    return True
            return False

        return some
    return _leaf(tree, where)


def _leaf(tree: dict[str, Any], where: str) -> Predicate:
    unknown = sorted(set(tree) - {"field", "op", "value"})
    if unknown:
        raise Invalid(
            f"{where}.{unknown[0]}",
            "not part of a condition; a leaf has field, op and value, a branch all, any or not",
        )
    if "field" not in tree:
        raise Invalid(f"{where}.field", "required")
    if "op" not in tree:
        raise Invalid(f"{where}.op", f"required: one of {', '.join(OPERATORS)}")
    field = field_of(tree["field"], f"{where}.field")
    op = tree["op"]
    if not isinstance(op, str) or op not in OPERATORS:
        raise Invalid(f"{where}.op", f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    get = field.get
    if op == "exists":
        wanted = tree.get("value", True)
        if not isinstance(wanted, bool):
            raise Invalid(f"{where}.value", "must be true or false (or left out: true)")
        if wanted:
            return lambda o: get(o) is not MISSING
        return lambda o: get(o) is MISSING
    if "value" not in tree:
        raise Invalid(f"{where}.value", f"required by {op}")
    test = _leaf_test(field, op, tree["value"], where)

    def leaf(observation: Observation) -> bool:
        value = get(observation)
        return value is not MISSING and test(value)

    return leaf


# --- grouping keys ------------------------------------------------------------------------

Group = Callable[[Observation], tuple[str, dict[str, Any]] | None]


def compile_group(fields: Any, *, where: str) -> tuple[tuple[str, ...], Group]:
    """The fields of a ``group_by`` and a function giving an observation's key (and the
    values it was made of), or None when it lacks one of the fields."""
    if fields is None:
        fields = []
    if not isinstance(fields, list):
        raise Invalid(where, "must be a list of field names")
    if len(fields) > 5:
        raise Invalid(where, "groups by at most 5 fields")
    resolved = []
    for i, name in enumerate(fields):
        field = field_of(name, f"{where}.{i}")
        if field.type is FieldType.LIST:
            raise Invalid(f"{where}.{i}", f"{field.name} is a list; group by a single value")
        resolved.append(field)
    if len(set(fields)) != len(fields):
        raise Invalid(where, "names a field twice")
    names = tuple(f.name for f in resolved)
    getters = tuple(f.get for f in resolved)

    def key(observation: Observation) -> tuple[str, dict[str, Any]] | None:
        values = [get(observation) for get in getters]
        if any(v is MISSING for v in values):
            return None
        return group_key(values), dict(zip(names, values, strict=True))

    return names, key


def group_key(values: Sequence[Any]) -> str:
    """The text of a grouping key; ``*`` when nothing groups; a digest when long."""
    if not values:
        return "*"
    parts = [
        v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))
        for v in values
    ]
    text = "|".join(p.replace("\\", "\\\\").replace("|", "\\|") for p in parts)
    return bounded(text)


def bounded(text: str) -> str:
    """``text``, or its SHA-256 digest when longer than :data:`MAX_KEY`."""
    if len(text) <= MAX_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# --- title templates ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    """A title with ``{field}`` places, filled from an observation and the firing's extras."""

    pieces: tuple[tuple[str, Callable[[Observation], Any] | None, str | None], ...]
    """(literal text, field getter or None, extra name or None)."""

    def render(self, observation: Observation, extras: Mapping[str, Any]) -> str:
        out: list[str] = []
        for literal, get, extra in self.pieces:
            out.append(literal)
            if get is not None:
                out.append(_shown(get(observation)))
            elif extra is not None:
                out.append(_shown(extras.get(extra, MISSING)))
        title = "".join(out)
        return title if len(title) <= MAX_TEMPLATE else title[: MAX_TEMPLATE - 1] + "…"


def _shown(value: Any) -> str:
    if value is MISSING or value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value) or "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def compile_template(text: Any, *, where: str, extras: Iterable[str]) -> Template:
    """Validate a title template: only known fields and ``extras`` between braces, no
    conversions, format specifications or attribute access."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid(where, "must be a non-empty string")
    if len(text) > MAX_TEMPLATE:
        raise Invalid(where, f"must be at most {MAX_TEMPLATE} characters")
    named = set(extras)
    pieces: list[tuple[str, Callable[[Observation], Any] | None, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise Invalid(where, f"unbalanced braces ({exc}); write {{{{ and }}}} for braces") from None
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None, None))
            continue
        if conversion or spec:
            raise Invalid(where, f"{{{name}}}: no conversion (!r) or format (:…) is allowed")
        if name in named:
            pieces.append((literal, None, name))
            continue
        try:
            field = field_of(name, where)
        except Invalid:
            choices = ", ".join([*sorted(named), *FIELDS, "context.<key>"])
            raise Invalid(where, f"unknown place {{{name}}}; use one of {choices}") from None
        pieces.append((literal, field.get, None))
    return Template(tuple(pieces))
