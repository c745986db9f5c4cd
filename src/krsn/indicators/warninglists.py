"""Warninglists: known-benign values (private ranges, top domains, resolvers, cloud ranges).

A warninglist is MISP's format: a ``name``, a ``version``, a ``description``, a ``type`` that
says how its entries match, the MISP attribute types it applies to (``matching_attributes``)
and the entries (``list``). Ingestion checks every canonical indicator against the lists; a value
a list stops is recorded as *suppressed*, with the list's name, never silently dropped, and
:meth:`WarninglistIndex.explain` tells an analyst which entry of which list stopped it.

How entries match, as MISP does it:

``string``
    The value equals an entry. Entries are canonicalised like indicators (``COM`` is ``com``).
``substring``
    The value contains an entry.
``hostname``
    The host equals an entry or is a name under it (``a.b.example.com`` is under
    ``example.com``); dots around an entry are ignored, as MISP ignores them.
``cidr``
    An address lies in an entry (a bare address is its own range); a CIDR value matches when the
    entries of one list cover it entirely.
``regex``
    An entry, in PCRE's ``/pattern/flags`` form or bare, is found in the value.

``matching_attributes`` name MISP attribute types; they map to our kinds (``ip-src`` and
``ip-dst`` to addresses and CIDR ranges, ``domain`` and ``hostname`` to domains, ``url`` to URLs,
``md5``... to hashes, ``email-*`` to e-mails, a composite ``domain|ip`` to both sides). A list
without them applies to every kind its type makes sense for. Lists that apply to domains also
judge the host of a URL, lists that apply to addresses judge a URL whose host is an address, and
``hostname`` lists that apply to e-mails judge the domain of the address.

The check is on the ingestion hot path, so :meth:`WarninglistIndex.build` compiles every list
at once: a dictionary for exact values, a dictionary of names walked label by label from the
right for hostnames, merged integer intervals searched by bisection for CIDR ranges (one table
for IPv4 and one for IPv6), and compiled regular expressions (a trie of the substrings, so the
engine never tries each entry at each position). When several lists stop a value, the first in
the order given wins: the built-in lists first, then the imported ones by file name.

Each list has a *mode*. A ``suppress`` list stops values at ingestion; an ``annotate`` list only
names them (:meth:`WarninglistIndex.annotations`), because many MISP lists (top sites, dynamic
DNS providers, URL shorteners, sinkholes, TLDs) hold values real threats use: a wrong
suppression hides a threat, a wrong annotation only adds a note. The built-in lists suppress;
an imported list annotates unless it is imported with ``mode="suppress"``. The mode of an
imported list is kept beside its copy as ``<name>.mode`` (one word); a list without one
annotates.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import socket
import tempfile
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import idna

from krsn.errors import Invalid
from krsn.indicators.normalise import Indicator, Kind, normalise

if TYPE_CHECKING:
    from krsn.config import Settings

__all__ = [
    "LIST_TYPES",
    "MODES",
    "Warninglist",
    "WarninglistHit",
    "WarninglistIndex",
    "default_index",
    "import_warninglists",
    "kinds_of_attribute",
    "load_directory",
    "load_warninglist",
]

log = logging.getLogger(__name__)

ListType = Literal["string", "substring", "hostname", "cidr", "regex"]
LIST_TYPES: Final[tuple[ListType, ...]] = ("string", "substring", "hostname", "cidr", "regex")
Mode = Literal["suppress", "annotate"]
MODES: Final[tuple[Mode, ...]] = ("suppress", "annotate")
IMPORTED_MODE: Final[Mode] = "annotate"

_IP_KINDS: Final = frozenset({Kind.IPV4, Kind.IPV6, Kind.CIDR})
_ALL_KINDS: Final = frozenset(Kind)
_HOST_KINDS: Final = frozenset({Kind.DOMAIN, Kind.URL, Kind.EMAIL})

# MISP attribute types (one side of a composite such as "domain|ip") and the kinds they hold.
# Types with no kind of ours (filename, port, ssdeep, sha224...) map to nothing.
_ATTRIBUTE_KINDS: Final[dict[str, frozenset[Kind]]] = {
    "ip": _IP_KINDS,
    "ip-src": _IP_KINDS,
    "ip-dst": _IP_KINDS,
    "domain": frozenset({Kind.DOMAIN}),
    "hostname": frozenset({Kind.DOMAIN}),
    "url": frozenset({Kind.URL}),
    "uri": frozenset({Kind.URL}),
    "link": frozenset({Kind.URL}),
    "md5": frozenset({Kind.MD5}),
    "sha1": frozenset({Kind.SHA1}),
    "sha256": frozenset({Kind.SHA256}),
    "sha512": frozenset({Kind.SHA512}),
    "email": frozenset({Kind.EMAIL}),
    "email-src": frozenset({Kind.EMAIL}),
    "email-dst": frozenset({Kind.EMAIL}),
    "email-reply-to": frozenset({Kind.EMAIL}),
    "target-email": frozenset({Kind.EMAIL}),
    "whois-registrant-email": frozenset({Kind.EMAIL}),
    "dns-soa-email": frozenset({Kind.EMAIL}),
}

# The kinds each list type can judge: a CIDR entry says nothing about a domain.
_TYPE_KINDS: Final[dict[str, frozenset[Kind]]] = {
    "string": _ALL_KINDS,
    "substring": _ALL_KINDS,
    "regex": _ALL_KINDS,
    "hostname": _HOST_KINDS,
    "cidr": _IP_KINDS,
}


def kinds_of_attribute(attribute: str) -> frozenset[Kind]:
    """The kinds a MISP attribute type holds; a composite (``domain|ip``) holds both sides'."""
    if attribute.upper() == "ALL":
        return _ALL_KINDS
    kinds: frozenset[Kind] = frozenset()
    for side in attribute.lower().split("|"):
        kinds |= _ATTRIBUTE_KINDS.get(side.strip(), frozenset())
    return kinds


# --- one list ---------------------------------------------------------------------------------

_HOSTNAME_ENTRY = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*"
)
_DOTTED_QUAD = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)
# PCRE's "/pattern/flags" (any non-alphanumeric delimiter); flags Python has an equivalent of.
_PCRE = re.compile(r"([^\w\s\\])(.*)\1([a-zA-Z]*)", re.DOTALL)
_PCRE_FLAGS: Final = {"i": "i", "m": "m", "s": "s", "x": "x", "u": "", "D": "", "U": None}


def _hostname_entry(entry: str) -> str | None:
    """The canonical form of a ``hostname`` entry, or ``None`` when it is not a host name."""
    name = entry.strip().strip(".")
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    name = name.lower()
    return name if _HOSTNAME_ENTRY.fullmatch(name) is not None else None


def _range_of(entry: str) -> tuple[int, int, int] | None:
    """``(version, first, last)`` of a ``cidr`` entry (host bits ignored), or ``None``."""
    text = entry.strip()
    if "/" not in text and _DOTTED_QUAD.fullmatch(text) is not None:
        number = int.from_bytes(socket.inet_aton(text), "big")
        return 4, number, number
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    first = int(network.network_address)
    return network.version, first, first | int(network.hostmask)


def _pcre(entry: str) -> str:
    """A Python pattern for a MISP regex entry (``/pattern/flags`` or a bare pattern)."""
    match = _PCRE.fullmatch(entry)
    if match is None:
        return entry
    _, pattern, flags = match.groups()
    inline = ""
    for flag in flags:
        python = _PCRE_FLAGS.get(flag)
        if python is None:
            raise ValueError(f"PCRE flag {flag!r} has no equivalent")
        inline += python
    return f"(?{inline}:{pattern})" if inline else pattern


@dataclass(frozen=True, slots=True)
class Warninglist:
    """One MISP warninglist; construction validates it (``Invalid`` names the key at fault)."""

    name: str
    version: int
    description: str
    type: ListType
    matching_attributes: tuple[str, ...]
    entries: tuple[str, ...]
    origin: str = field(default="", compare=False)
    """Where the list was read from (a file), for error messages and the analyst."""

    def __post_init__(self) -> None:
        where = self.origin or self.name or "warninglist"
        if not self.name.strip():
            raise Invalid(f"{where}: name", "must not be empty")
        if self.type not in LIST_TYPES:
            raise Invalid(f"{where}: type", f"{self.type!r} is not one of {', '.join(LIST_TYPES)}")
        for position, entry in enumerate(self.entries):
            problem = _entry_problem(self.type, entry)
            if problem is not None:
                raise Invalid(f"{where}: list[{position}]", f"{entry[:80]!r}: {problem}")

    @property
    def kinds(self) -> frozenset[Kind]:
        """The kinds of indicator this list judges."""
        if not self.matching_attributes:
            wanted = _ALL_KINDS
        else:
            wanted = frozenset().union(*map(kinds_of_attribute, self.matching_attributes))
        return wanted & _TYPE_KINDS[self.type]

    def to_dict(self) -> dict[str, Any]:
        """The list in MISP's JSON form."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "type": self.type,
            "matching_attributes": list(self.matching_attributes),
            "list": list(self.entries),
        }

    def to_json(self) -> str:
        """The list as MISP's ``list.json`` text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _entry_problem(list_type: str, entry: object) -> str | None:
    if not isinstance(entry, str):
        return f"entries must be strings, not {type(entry).__name__}"
    if not entry.strip():
        return "empty entry"
    if list_type == "cidr" and _range_of(entry) is None:
        return "not an IP address or CIDR range"
    if list_type == "hostname" and _hostname_entry(entry) is None:
        return "not a host name"
    if list_type == "regex":
        try:
            re.compile(_pcre(entry))
        except (re.error, ValueError) as exc:
            return f"not a valid regular expression: {exc}"
    return None


def _require(data: Mapping[str, Any], key: str, expected: type, where: str) -> Any:
    if key not in data:
        raise Invalid(f"{where}: {key}", "missing")
    value = data[key]
    # bool is an int to Python, never a version to MISP.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise Invalid(f"{where}: {key}", f"must be {expected.__name__}, not {type(value).__name__}")
    return value


def load_warninglist(source: str | os.PathLike[str] | Mapping[str, Any]) -> Warninglist:
    """Read and validate one list: a path to MISP's ``list.json`` or the decoded JSON."""
    if isinstance(source, Mapping):
        data, where = source, str(source.get("name", "warninglist"))
    else:
        where = os.fspath(source)
        try:
            data = json.loads(Path(source).read_bytes())
        except OSError as exc:
            raise Invalid(where, f"cannot read: {exc.strerror or exc}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Invalid(where, f"not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise Invalid(where, "a warninglist is a JSON object")
    name = _require(data, "name", str, where)
    version = _require(data, "version", int, where)
    description = _require(data, "description", str, where)
    list_type = _require(data, "type", str, where)
    entries = _require(data, "list", list, where)
    attributes = data.get("matching_attributes", [])
    if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
        raise Invalid(f"{where}: matching_attributes", "must be a list of strings")
    for position, entry in enumerate(entries):
        if not isinstance(entry, str):
            raise Invalid(f"{where}: list[{position}]", "entries must be strings")
    return Warninglist(
        name=name,
        version=version,
        description=description,
        type=list_type,
        matching_attributes=tuple(attributes),
        entries=tuple(dict.fromkeys(entries)),  # the schema wants them unique; keep the first
        origin=where,
    )


def _list_files(directory: Path) -> list[Path]:
    """MISP's ``lists/<name>/list.json`` anywhere below, else the ``*.json`` files in it."""
    nested = sorted(directory.glob("**/list.json"))
    if nested:
        return nested
    # MISP's repository root holds schema.json, the JSON schema of a list, not a list.
    return sorted(p for p in directory.glob("*.json") if p.name != "schema.json")


def load_directory(path: str | os.PathLike[str], *, strict: bool = True) -> list[Warninglist]:
    """Every list of a folder in MISP's layout (or of plain ``*.json`` files), by file name.

    With ``strict`` an invalid file raises :class:`Invalid`; without, it is logged and skipped.
    Two files holding lists of the same name are an error either way.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise Invalid(os.fspath(directory), "not a folder")
    lists: list[Warninglist] = []
    seen: dict[str, str] = {}
    for file in _list_files(directory):
        try:
            warninglist = load_warninglist(file)
        except Invalid as exc:
            if strict:
                raise
            log.error("warninglist skipped: %s", exc.detail, extra={"warninglist_file": str(file)})
            continue
        if warninglist.name in seen:
            raise Invalid(
                f"{file}: name",
                f"{warninglist.name!r} is also the name of the list in {seen[warninglist.name]}",
            )
        seen[warninglist.name] = str(file)
        lists.append(warninglist)
    return lists


# --- compiled structures ------------------------------------------------------------------------

_BUCKET_BITS: Final = 16


class _Ranges:
    """Disjoint integer intervals, each with the lists (by precedence) whose entries cover it.

    The intervals are cut at the edge of every entry of every list, so an interval lies inside
    one entry of each list that covers it. Addresses are looked up in ``bounds``, the sorted
    numbers where an interval starts or ends, and ``state``, the first covering list from each
    bound on (``None`` in a gap): one bisection and one index. ``table`` cuts the number line
    into 2**16 buckets by the top bits, so the bisection only visits the few bounds of one
    bucket, and IPv4 bounds are kept in a C array: over a Python list of 100,000 scattered int
    objects, each comparison costs a cache miss, which matters more than the steps saved.
    """

    __slots__ = ("blocks", "bounds", "members", "shift", "state", "table")

    def __init__(
        self, width: int, per_list: Iterable[tuple[int, Iterable[tuple[int, int]]]]
    ) -> None:
        # Each list's outermost entries (CIDR blocks nest or are disjoint), then a sweep over
        # their edges: between two edges the set of covering lists is constant.
        self.blocks: dict[int, tuple[list[int], list[int]]] = {}
        points: list[tuple[int, bool, int]] = []
        for precedence, ranges in per_list:
            outermost = _outermost(ranges)
            self.blocks[precedence] = ([f for f, _ in outermost], [last for _, last in outermost])
            for first, last in outermost:
                points.append((first, True, precedence))
                points.append((last + 1, False, precedence))
        points.sort()
        bounds: list[int] = []
        state: list[int | None] = []
        members: list[tuple[int, ...]] = []
        interned: dict[tuple[int, ...], tuple[int, ...]] = {}
        active: set[int] = set()
        i, count = 0, len(points)
        while i < count:
            position = points[i][0]
            while i < count and points[i][0] == position:
                _, opening, precedence = points[i]
                if opening:
                    active.add(precedence)
                else:
                    active.discard(precedence)
                i += 1
            key = tuple(sorted(active))
            key = interned.setdefault(key, key)
            bounds.append(position)
            state.append(key[0] if key else None)
            members.append(key)
        state.append(None)  # state[-1]: below the first bound, and for an empty table
        self.state, self.members = state, members
        self.shift = width - _BUCKET_BITS
        table = [bisect_right(bounds, b << self.shift) for b in range(1 << _BUCKET_BITS)]
        table.append(len(bounds))
        self.bounds: Sequence[int] = array("Q", bounds) if width <= 64 else bounds
        self.table: Sequence[int] = array("Q", table)

    def states(self, out: Sequence[Any]) -> list[Any]:
        """``state`` with each precedence replaced by ``out[precedence]``."""
        return [None if p is None else out[p] for p in self.state]

    def __len__(self) -> int:
        return len(self.bounds)

    def covering(self, first: int, last: int) -> int | None:
        """The first list with one entry that holds every number of ``first..last``."""
        i = bisect_right(self.bounds, first) - 1
        if i < 0:
            return None
        for precedence in self.members[i]:  # the lists covering ``first``, in order
            starts, ends = self.blocks[precedence]
            if last <= ends[bisect_right(starts, first) - 1]:
                return precedence
        return None


def _outermost(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges not inside another one, sorted; CIDR ranges never overlap otherwise."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1]:
            if last > out[-1][1]:  # impossible for CIDR blocks; joined to stay disjoint
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex alternation of ``words`` shaped as a trie, so matching costs O(length)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in node.items() if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # A word ending here makes the rest optional; the shortest match is enough to stop.
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


# A probe takes a canonical value and answers ``out[precedence]`` of the first list that stops
# it, or None. ``out`` is the lists' names for the probe a kind is checked with, and the
# precedences themselves for a probe inside another one, which must compare them. A part makes a
# probe for a given ``out``, so the outermost one answers names with no wrapper call per value.
_Probe = Callable[[str], Any]
_Part = Callable[[Sequence[Any]], _Probe]
_Handler = Callable[[str], str | None]


def _none(value: str) -> None:
    return None


def _exact_part(exact: dict[str, int]) -> _Part:
    def make(out: Sequence[Any]) -> _Probe:
        return {text: out[i] for text, i in exact.items()}.get

    return make


def _domain_part(exact: dict[str, int], suffixes: dict[str, int]) -> _Part:
    """Exact names, and hostname entries the value equals or lies under, label by label."""

    def make(out: Sequence[Any]) -> _Probe:
        # The whole value is looked up once, in exact names and hostname entries together.
        whole = dict(suffixes)
        for text, precedence in exact.items():
            whole[text] = min(precedence, whole.get(text, precedence))
        whole_get, suffix_get = whole.get, suffixes.get

        def probe(value: str) -> Any:
            best = whole_get(value)
            dot = value.find(".")
            while dot >= 0:
                found = suffix_get(value[dot + 1 :])
                if found is not None and (best is None or found < best):
                    best = found
                dot = value.find(".", dot + 1)
            return None if best is None else out[best]

        return probe

    return make


def _address_part(v4: _Ranges, v6: _Ranges) -> _Part:
    """The ranges that hold an address, IPv4 dotted or IPv6 (URL hosts come in both)."""

    def make(out: Sequence[Any]) -> _Probe:
        aton, pton, inet6, from_bytes = (
            socket.inet_aton,
            socket.inet_pton,
            socket.AF_INET6,
            int.from_bytes,
        )
        b4, t4, s4, shift4 = v4.bounds, v4.table, v4.states(out), v4.shift
        b6, t6, s6, shift6 = v6.bounds, v6.table, v6.states(out), v6.shift

        def probe(value: str) -> Any:
            try:
                if ":" in value:
                    number = from_bytes(pton(inet6, value), "big")
                    bucket = number >> shift6
                    return s6[bisect_right(b6, number, t6[bucket], t6[bucket + 1]) - 1]
                number = from_bytes(aton(value), "big")
            except OSError:  # not an address after all: nothing to say about it
                return None
            bucket = number >> shift4
            return s4[bisect_right(b4, number, t4[bucket], t4[bucket + 1]) - 1]

        return probe

    return make


def _network_part(v4: _Ranges, v6: _Ranges) -> _Part:
    """The first list whose ranges cover a CIDR value (or hold a plain address)."""

    def make(out: Sequence[Any]) -> _Probe:
        address = _address_part(v4, v6)(out)

        def probe(value: str) -> Any:
            text, slash, bits = value.partition("/")
            if not slash:
                return address(value)
            try:
                if ":" in text:
                    packed, width, ranges = socket.inet_pton(socket.AF_INET6, text), 128, v6
                else:
                    packed, width, ranges = socket.inet_aton(text), 32, v4
                host_bits = width - int(bits)
            except (OSError, ValueError):
                return None
            if not 0 <= host_bits <= width:
                return None
            first = int.from_bytes(packed, "big") >> host_bits << host_bits
            last = first | ((1 << host_bits) - 1)
            # Most ranges lie inside one interval of the table: answered like an address.
            bounds, table = ranges.bounds, ranges.table
            bucket = first >> ranges.shift
            i = bisect_right(bounds, first, table[bucket], table[bucket + 1]) - 1
            found = ranges.state[i]
            if found is None:
                return None  # its first address is not covered
            if last >= bounds[i + 1]:  # it spans intervals: which list has one entry for all?
                found = ranges.covering(first, last)
            return None if found is None else out[found]

        return probe

    return make


def _patterns_part(patterns: Sequence[tuple[int, re.Pattern[str]]]) -> _Part:
    def make(out: Sequence[Any]) -> _Probe:
        def probe(value: str) -> Any:
            for precedence, pattern in patterns:  # in precedence order: the first found wins
                if pattern.search(value) is not None:
                    return out[precedence]
            return None

        return probe

    return make


def _earliest(parts: Sequence[_Part]) -> _Part:
    """The first list any of ``parts`` finds."""
    if len(parts) == 1:
        return parts[0]

    def make(out: Sequence[Any]) -> _Probe:
        probes = [part(_PRECEDENCE) for part in parts]

        def probe(value: str) -> Any:
            best = None
            for each in probes:
                found = each(value)
                if found is not None and (best is None or found < best):
                    best = found
            return None if best is None else out[best]

        return probe

    return make


def _email_domain_part(inner: _Part) -> _Part:
    def make(out: Sequence[Any]) -> _Probe:
        domain = inner(out)

        def probe(value: str) -> Any:
            return domain(value[value.rfind("@") + 1 :])

        return probe

    return make


# Small enough to stay in the processor's cache: feeds repeat a host in neighbouring URLs.
_HOST_CACHE_SIZE: Final = 1 << 12
_PRECEDENCE: Final = range(1 << 30)  # out[precedence] is the precedence itself


def url_host(url: str) -> str:
    """The host of a canonical URL (an IPv6 host without its brackets), or ``""``.

    String methods rather than a regex: this runs for every URL ingested, and is twice as fast.
    """
    start = url.find("://") + 3
    if start < 3:
        return ""
    end = url.find("/", start)
    host = url[start:] if end < 0 else url[start:end]
    if "?" in host or "#" in host:  # no path before the query: tcp://host?x
        host = host.partition("?")[0].partition("#")[0]
    if "@" in host:
        host = host[host.rfind("@") + 1 :]
    if host[:1] == "[":
        return host[1 : host.find("]")]
    if ":" in host:
        return host[: host.rfind(":")]
    return host


def _host_kind(host: str) -> Kind:
    """What a canonical URL host is. A domain never ends in a digit: top-level labels are
    letters, and punycode ends in a letter too."""
    if ":" in host:
        return Kind.IPV6
    return Kind.IPV4 if host[-1:].isdigit() else Kind.DOMAIN


def _url_part(full: _Part | None, domain_host: _Part | None, ip_host: _Part | None) -> _Part:
    """Lists on the whole URL, and on its host (a name or an address); hosts are cached."""

    def make(out: Sequence[Any]) -> _Probe:
        whole = full(_PRECEDENCE) if full is not None else _none
        on_name = domain_host(_PRECEDENCE) if domain_host is not None else _none
        on_address = ip_host(_PRECEDENCE) if ip_host is not None else _none
        cache: dict[str, int | None] = {}
        cached, host_of = cache.get, url_host

        def on_host(value: str) -> Any:
            host = host_of(value)
            found = cached(host, -1)
            if found == -1:
                if len(cache) >= _HOST_CACHE_SIZE:
                    cache.clear()
                if ":" in host or host[-1:].isdigit():
                    found = cache[host] = on_address(host)
                else:
                    found = cache[host] = on_name(host)
            return found

        if full is None:  # the common case: no list judges whole URLs

            def host_only(value: str) -> Any:  # on_host inlined: a call less per URL
                host = host_of(value)
                found = cached(host, -1)
                if found == -1:
                    if len(cache) >= _HOST_CACHE_SIZE:
                        cache.clear()
                    if ":" in host or host[-1:].isdigit():
                        found = cache[host] = on_address(host)
                    else:
                        found = cache[host] = on_name(host)
                return None if found is None else out[found]

            return host_only

        def probe(value: str) -> Any:
            best, found = whole(value), on_host(value)
            if found is not None and (best is None or found < best):
                best = found
            return None if best is None else out[best]

        return probe

    return make


@dataclass(frozen=True, slots=True)
class WarninglistHit:
    """Why a value is stopped: the list, and the entry of it that matched."""

    name: str
    entry: str
    matched: str
    """The part of the value the entry matched (the value itself, a URL's host...)."""


class WarninglistIndex:
    """Every list compiled for fast checks; build with :meth:`build`, then :meth:`match_many`."""

    def __init__(
        self, lists: Sequence[Warninglist], *, annotating: Sequence[Warninglist] = ()
    ) -> None:
        names = [w.name for w in lists]
        every = names + [w.name for w in annotating]
        duplicate = next((n for n in every if every.count(n) > 1), None)
        if duplicate is not None:
            raise Invalid("warninglists", f"two lists are named {duplicate!r}")
        self.lists: tuple[Warninglist, ...] = tuple(lists)
        """The lists that stop values (``match``, ``explain``)."""
        self.annotating: tuple[Warninglist, ...] = tuple(annotating)
        """The lists that only name values (``annotations``)."""
        self._annotator: WarninglistIndex | None = None
        self._names = tuple(names)
        self._kinds = tuple(w.kinds for w in lists)
        self._structures: dict[tuple[Any, ...], Any] = {}
        self._explainers: dict[int, _Explainer] = {}
        self._handlers: dict[Kind, _Handler] = {}
        for kind in Kind:
            part = self._part_for(kind)
            self._handlers[kind] = _none if part is None else part(self._names)
        self._structures.clear()  # the probes hold what they need

    @classmethod
    def build(
        cls, lists: Iterable[Warninglist], *, annotating: Iterable[Warninglist] = ()
    ) -> WarninglistIndex:
        """Compile ``lists``; when several stop a value, the earliest in this order wins.

        ``annotating`` lists stop nothing; :meth:`annotations` names those a value is on.
        """
        return cls(list(lists), annotating=list(annotating))

    # -- compiling --------------------------------------------------------------------------

    def _select(self, predicate: Callable[[int], bool]) -> list[int]:
        return [i for i in range(len(self.lists)) if predicate(i)]

    def _part_for(self, kind: Kind) -> _Part | None:
        applies = self._select(lambda i: kind in self._kinds[i])
        if kind is Kind.URL:
            whole = [i for i in applies if self.lists[i].type != "hostname"]
            on_host = self._select(
                lambda i: (
                    Kind.DOMAIN in self._kinds[i]
                    or (Kind.URL in self._kinds[i] and self.lists[i].type == "hostname")
                )
            )
            on_ip = self._select(lambda i: bool(self._kinds[i] & _IP_KINDS))
            full = self._plan(whole, Kind.URL)
            domain_host = self._plan(on_host, Kind.DOMAIN)
            ip_host = self._plan(on_ip, Kind.IPV4)
            if full is None and domain_host is None and ip_host is None:
                return None
            return _url_part(full, domain_host, ip_host)
        if kind is Kind.EMAIL:
            whole = [i for i in applies if self.lists[i].type != "hostname"]
            domains = [i for i in applies if self.lists[i].type == "hostname"]
            parts = [p for p in (self._plan(whole, Kind.EMAIL),) if p is not None]
            on_domain = self._plan(domains, Kind.DOMAIN)
            if on_domain is not None:
                parts.append(_email_domain_part(on_domain))
            return _earliest(parts) if parts else None
        return self._plan(applies, kind)

    def _plan(self, selected: list[int], kind: Kind) -> _Part | None:
        """How the lists ``selected`` judge values of ``kind``."""
        by_type: dict[str, list[int]] = {t: [] for t in LIST_TYPES}
        for i in selected:
            by_type[self.lists[i].type].append(i)
        parts: list[_Part] = []
        exact = self._exact(tuple(by_type["string"]), kind)
        suffixes = self._suffixes(tuple(by_type["hostname"])) if kind is Kind.DOMAIN else {}
        if suffixes:
            parts.append(_domain_part(exact, suffixes))
        elif exact:
            parts.append(_exact_part(exact))
        if kind in _IP_KINDS and by_type["cidr"]:
            v4, v6 = self._ranges(tuple(by_type["cidr"]))
            parts.append((_network_part if kind is Kind.CIDR else _address_part)(v4, v6))
        patterns = self._patterns(tuple(by_type["substring"] + by_type["regex"]))
        if patterns:
            parts.append(_patterns_part(patterns))
        return _earliest(parts) if parts else None

    def _exact(self, selected: tuple[int, ...], kind: Kind) -> dict[str, int]:
        key = ("exact", selected, kind)
        if key not in self._structures:
            exact: dict[str, int] = {}
            for i in selected:
                for entry in self.lists[i].entries:
                    for text in _string_keys(entry, kind):
                        exact.setdefault(text, i)  # lists come in precedence order
            self._structures[key] = exact
        return self._structures[key]

    def _suffixes(self, selected: tuple[int, ...]) -> dict[str, int]:
        key = ("suffixes", selected)
        if key not in self._structures:
            suffixes: dict[str, int] = {}
            for i in selected:
                for entry in self.lists[i].entries:
                    name = _hostname_entry(entry)
                    if name is not None:
                        suffixes.setdefault(name, i)
            self._structures[key] = suffixes
        return self._structures[key]

    def _ranges(self, selected: tuple[int, ...]) -> tuple[_Ranges, _Ranges]:
        key = ("ranges", selected)
        if key not in self._structures:
            families: dict[int, list[tuple[int, list[tuple[int, int]]]]] = {4: [], 6: []}
            for i in selected:
                per_family: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
                for entry in self.lists[i].entries:
                    parsed = _range_of(entry)
                    if parsed is not None:
                        per_family[parsed[0]].append((parsed[1], parsed[2]))
                for version, ranges in per_family.items():
                    if ranges:
                        families[version].append((i, ranges))
            self._structures[key] = (_Ranges(32, families[4]), _Ranges(128, families[6]))
        return self._structures[key]

    def _patterns(self, selected: tuple[int, ...]) -> list[tuple[int, re.Pattern[str]]]:
        key = ("patterns", selected)
        if key not in self._structures:
            patterns: list[tuple[int, re.Pattern[str]]] = []
            for i in sorted(selected):
                wl = self.lists[i]
                if wl.type == "substring":
                    patterns.append((i, re.compile(_trie_pattern(wl.entries))))
                else:
                    patterns.append((i, _regex_union(wl.entries)))
            self._structures[key] = patterns
        return self._structures[key]

    # -- matching ---------------------------------------------------------------------------

    def match(self, kind: Kind, value: str) -> str | None:
        """The name of the first list that stops the canonical ``value``, or ``None``."""
        return self._handlers[kind](value)

    def match_many(self, indicators: Iterable[Indicator]) -> list[str | None]:
        """:meth:`match` for a batch: the name of the list that stops each value, in order."""
        # No deduplication of the batch: feeds rarely repeat a value, and a lookup per value
        # costs a fifth of a check; what does repeat, URL hosts, is cached by the URL probe.
        handlers = self._handlers
        return [handlers[indicator.kind](indicator.value) for indicator in indicators]

    def explain(self, kind: Kind, value: str) -> list[WarninglistHit]:
        """Every list that stops ``value`` and the entry that does, first list first (slow)."""
        hits: list[WarninglistHit] = []
        for i, wl in enumerate(self.lists):
            for view_kind, text in _views(wl, self._kinds[i], kind, value):
                explainer = self._explainers.get(i)
                if explainer is None:
                    explainer = self._explainers[i] = _Explainer(wl)
                entry = explainer.find(view_kind, text)
                if entry is not None:
                    hits.append(WarninglistHit(wl.name, entry, text))
                    break
        return hits

    def explain_annotations(self, kind: Kind, value: str) -> list[WarninglistHit]:
        """Every annotating list ``value`` is on and the entry that matched (slow)."""
        if not self.annotating:
            return []
        if self._annotator is None:  # compiled on first use: ingestion does not ask yet
            self._annotator = WarninglistIndex(self.annotating)
        return self._annotator.explain(kind, value)

    def annotations(self, kind: Kind, value: str) -> list[str]:
        """The names of the annotating lists the canonical ``value`` is on."""
        return [hit.name for hit in self.explain_annotations(kind, value)]

    def __len__(self) -> int:
        return len(self.lists)

    def __repr__(self) -> str:
        return f"<WarninglistIndex of {len(self.lists)} lists>"


def _string_keys(entry: str, kind: Kind) -> set[str]:
    """The texts a ``string`` entry matches for values of ``kind``: it as written, canonical."""
    keys = {entry}
    if kind is not Kind.URL:  # every other canonical form is lower-case
        keys.add(entry.lower())
    result = normalise(entry)
    if isinstance(result, Indicator) and result.indicator_type is kind.indicator_type:
        keys.add(result.value)
    return keys


def _regex_union(entries: Iterable[str]) -> re.Pattern[str]:
    patterns = [_pcre(e) for e in entries]
    # Numbered or named back-references would point at the wrong group once joined.
    if any(re.search(r"\\[1-9]|\(\?P=|\(\?P<", p) for p in patterns):
        return _AnyOf([re.compile(p) for p in patterns])  # type: ignore[return-value]
    return re.compile("|".join(f"(?:{p})" for p in patterns))


class _AnyOf:
    """A stand-in for one pattern made of several that cannot be joined."""

    def __init__(self, patterns: list[re.Pattern[str]]) -> None:
        self.patterns = patterns

    def search(self, value: str) -> re.Match[str] | None:
        for pattern in self.patterns:
            found = pattern.search(value)
            if found is not None:
                return found
        return None


def _views(
    wl: Warninglist, kinds: frozenset[Kind], kind: Kind, value: str
) -> list[tuple[Kind, str]]:
    """The parts of a value a list judges, each with the kind it is judged as."""
    if kind is Kind.URL:
        views = []
        if Kind.URL in kinds and wl.type != "hostname":
            views.append((Kind.URL, value))
        host = url_host(value)
        if host:
            host_kind = _host_kind(host)
            on_host = host_kind in kinds or (
                host_kind is Kind.DOMAIN and Kind.URL in kinds and wl.type == "hostname"
            )
            if on_host:
                views.append((host_kind, host))
        return views
    if kind not in kinds:
        return []
    if kind is Kind.EMAIL and wl.type == "hostname":
        return [(Kind.DOMAIN, value[value.rfind("@") + 1 :])]
    return [(kind, value)]


class _Explainer:
    """One list checked the plain way, entry by entry, to name the entry that matched."""

    def __init__(self, wl: Warninglist) -> None:
        self.wl = wl
        self._exact: dict[Kind, dict[str, str]] = {}
        self._hosts: dict[str, str] = {}
        self._ranges: list[tuple[int, int, int, str]] = []
        if wl.type == "hostname":
            for entry in wl.entries:
                name = _hostname_entry(entry)
                if name is not None:
                    self._hosts.setdefault(name, entry)
        elif wl.type == "cidr":
            for entry in wl.entries:
                parsed = _range_of(entry)
                if parsed is not None:
                    self._ranges.append((*parsed, entry))
        elif wl.type == "regex":
            self._regexes = [(re.compile(_pcre(e)), e) for e in wl.entries]

    def find(self, kind: Kind, text: str) -> str | None:
        wl = self.wl
        if wl.type == "string":
            if kind not in self._exact:
                self._exact[kind] = {
                    key: entry
                    for entry in reversed(wl.entries)
                    for key in _string_keys(entry, kind)
                }
            return self._exact[kind].get(text)
        if wl.type == "substring":
            return next((e for e in wl.entries if e in text), None)
        if wl.type == "regex":
            return next((e for pattern, e in self._regexes if pattern.search(text)), None)
        if wl.type == "hostname":
            labels = text.split(".")
            for start in range(len(labels)):
                entry = self._hosts.get(".".join(labels[start:]))
                if entry is not None:
                    return entry
            return None
        parsed = _range_of(text)
        if parsed is None:
            return None
        version, first, last = parsed
        for entry_version, entry_first, entry_last, entry in self._ranges:
            if entry_version == version and entry_first <= first and last <= entry_last:
                return entry
        return None


# --- the platform's lists -----------------------------------------------------------------------

_DEFAULT_LOCK = threading.Lock()
_DEFAULT: dict[Path, WarninglistIndex] = {}


def warninglists_dir(settings: Settings) -> Path:
    """Where imported lists are kept: ``<data_dir>/warninglists``."""
    return Path(settings.data_dir) / "warninglists"


def _mode_file(list_file: Path) -> Path:
    return list_file.with_suffix(".mode")


def mode_of(wl: Warninglist) -> Mode:
    """How a list acts: built-in lists suppress; an imported one as its ``.mode`` file says."""
    if not wl.origin:
        return "suppress"
    try:
        text = _mode_file(Path(wl.origin)).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return IMPORTED_MODE
    except (OSError, UnicodeDecodeError) as exc:
        log.error("warninglist %s: mode unreadable (%s); it annotates", wl.origin, exc)
        return IMPORTED_MODE
    if text not in MODES:
        log.error("warninglist %s: unknown mode %r; it annotates", wl.origin, text[:40])
        return IMPORTED_MODE
    return text


def default_index(settings: Settings, *, reload: bool = False) -> WarninglistIndex:
    """The built-in lists and the imported ones, compiled once per process (``reload`` redoes it).

    Lists in ``suppress`` mode stop values; the ``annotate`` ones are ``index.annotating``.
    An imported file that no longer validates is logged and left out, so ingestion goes on.
    """
    from krsn.indicators.builtin_warninglists import BUILTIN_WARNINGLISTS

    directory = warninglists_dir(settings).resolve()
    with _DEFAULT_LOCK:
        index = None if reload else _DEFAULT.get(directory)
        if index is None:
            lists = list(BUILTIN_WARNINGLISTS)
            annotating: list[Warninglist] = []
            if directory.is_dir():
                builtin_names = {w.name for w in lists}
                for wl in load_directory(directory, strict=False):
                    if wl.name in builtin_names:
                        log.error("warninglist %s skipped: a built-in list has its name", wl.origin)
                        continue
                    (lists if mode_of(wl) == "suppress" else annotating).append(wl)
            index = _DEFAULT[directory] = WarninglistIndex.build(lists, annotating=annotating)
            log.info(
                "warninglists compiled: %d suppressing, %d annotating", len(lists), len(annotating)
            )
        return index


_SLUG = re.compile(r"[^a-z0-9._-]+")


def _write_atomically(folder: Path, slug: str, name: str, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{slug}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _slug(file: Path) -> str:
    stem = file.parent.name if file.name == "list.json" else file.stem
    return _SLUG.sub("-", stem.lower()).strip("-.") or "warninglist"


def import_warninglists(
    source_dir: str | os.PathLike[str], settings: Settings, *, mode: Mode = IMPORTED_MODE
) -> list[str]:
    """Validate the MISP lists of a folder (or one file) and copy them into the platform.

    Each list is kept unmodified as ``<data_dir>/warninglists/<folder name>.json``, its
    ``mode`` (``annotate`` unless told ``suppress``) beside it in ``<folder name>.mode``; a
    list of the same name imported before is replaced. Nothing is copied unless every list
    validates. Returns the names imported; the default index is recompiled on its next use.
    """
    if mode not in MODES:
        raise Invalid("mode", f"{mode!r} is not one of {', '.join(MODES)}")
    source = Path(source_dir)
    files = [source] if source.is_file() else _list_files(source) if source.is_dir() else []
    if not files:
        raise Invalid(os.fspath(source), "no warninglist found (list.json or *.json files)")
    incoming: dict[str, tuple[Warninglist, bytes, str]] = {}
    slugs: dict[str, str] = {}
    for file in files:
        raw = file.read_bytes()
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Invalid(os.fspath(file), f"not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise Invalid(os.fspath(file), "a warninglist is a JSON object")
        wl = load_warninglist(file)
        slug = _slug(file)
        if wl.name in incoming:
            raise Invalid(f"{file}: name", f"{wl.name!r} appears twice in {source}")
        if slug in slugs:
            raise Invalid(os.fspath(file), f"its file name clashes with the list {slugs[slug]!r}")
        incoming[wl.name] = (wl, raw, slug)
        slugs[slug] = wl.name
    from krsn.indicators.builtin_warninglists import BUILTIN_WARNINGLISTS

    reserved = {w.name for w in BUILTIN_WARNINGLISTS} & incoming.keys()
    if reserved:
        raise Invalid("name", f"{sorted(reserved)[0]!r} is the name of a built-in list")

    target = warninglists_dir(settings)
    target.mkdir(parents=True, exist_ok=True)
    # A list imported before under another file name is replaced, not doubled.
    for existing in sorted(target.glob("*.json")):
        try:
            name = json.loads(existing.read_bytes()).get("name")
        except (OSError, ValueError, AttributeError):
            continue
        if name in incoming and existing.stem != incoming[name][2]:
            existing.unlink()
            _mode_file(existing).unlink(missing_ok=True)
    for _wl, raw, slug in incoming.values():
        # The mode first: a list never shows up, even for a moment, without its own.
        _write_atomically(target, slug, f"{slug}.mode", f"{mode}\n".encode())
        _write_atomically(target, slug, f"{slug}.json", raw)
    with _DEFAULT_LOCK:
        _DEFAULT.pop(target.resolve(), None)
    log.info(
        "warninglists imported: %s", ", ".join(incoming), extra={"warninglists_dir": str(target)}
    )
    return list(incoming)
