"""Detect and canonicalise indicators: IPs, CIDR ranges, domains, URLs, hashes, e-mails.

Every value that enters the store goes through :func:`normalise` (one value) or
:func:`normalise_many` (the ingestion batch path). The result is either an :class:`Indicator` —
its :class:`Kind`, its canonical text and its :func:`hash_signature`, the deduplication key of
``threat_indicators`` — or a :class:`Rejected` with a short reason a person can act on.

Cleaning comes first: surrounding whitespace, quotes (``"`'``) and brackets (``<>``, ``[]``,
``()``, ``{}``) are stripped, invisible characters reports insert to break links (zero-width
space, word joiner, BOM, soft hyphen) are removed, and defanged input (``hxxp://evil[.]com``) is
refanged (:mod:`krsn.indicators.refang`). Normalising is idempotent: the canonical value of an
indicator normalises to the same indicator.

Decisions, each one a trade-off written down:

IP addresses
    Canonical text of :mod:`ipaddress`: dotted decimal, IPv6 compressed and lower-case. An
    IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is the IPv4 host it maps to. IPv4 with a
    leading zero in an octet (``010.1.1.1``) is **rejected as ambiguous**: classic resolvers read
    it as octal (8.1.1.1), people as decimal. IPv6 zone indexes (``fe80::1%eth0``) are rejected.
    Private and reserved addresses are *not* rejected here; warninglists judge them later. A
    ``host:port`` (``192.0.2.1:8080``, ``[2001:db8::1]:443``, ``evil.com:8080``) is the host:
    feeds list C2 servers that way and the stored types have no socket type.
CIDR ranges
    Host bits are cleared (``10.0.0.5/8`` becomes ``10.0.0.0/8``), a ``/32`` or ``/128`` is the
    plain address, and a ``/0`` is rejected: it would match every address.
Domains
    Lower case, trailing dot removed, internationalised names as IDNA 2008 A-labels (UTS 46
    mapping, non-transitional) so ``bücher.de`` is ``xn--bcher-kva.de``. ASCII labels may hold
    underscores (DNS allows them and malicious hostnames use them); a name mixing underscores
    with non-ASCII labels fails IDNA and is rejected. The name must end in a public suffix of the
    ICANN section of the public suffix list, read from the snapshot bundled with ``tldextract``
    (never fetched). Private suffixes (``blogspot.com``, ``github.io``) are **ordinary
    domains** here: ``github.io`` itself is a valid indicator and so is ``x.github.io``; a name
    that is only an ICANN suffix (``com``, ``co.uk``) is rejected.
URLs
    Written here with precompiled regexes and :func:`urllib.parse.quote` rather than a URL
    library: the candidates we looked at also sort query parameters or decode reserved
    escapes, which changes what a URL means. Scheme and host are lower-cased, the host is
    canonicalised as a domain or an IP (IPv6 in brackets), a default port is dropped, escapes get
    upper-case hex, escapes of unreserved characters are decoded, characters a URL may not hold
    (spaces, non-ASCII, brackets outside the host) are percent-encoded as UTF-8, and an empty path
    of ``http``, ``https``, ``ws`` and ``wss`` becomes ``/``. Path, query and fragment otherwise
    stay as they are: no dot-segment removal, no query sorting. A value with a path and no scheme
    (``evil.com/gate.php``) is read as ``http``. The host obeys the domain rules above, so
    ``http://localhost/`` is rejected. Parentheses that would read as defanging once escapes are
    decoded (``/(%2E)``) stay escaped, so a canonical URL never refangs into another one.
    Allowed schemes: see :data:`URL_SCHEMES`.
Hashes
    Hexadecimal only, kind by length (32 md5, 40 sha1, 64 sha256, 128 sha512), lower case.
E-mails
    ``local@domain``; the domain is canonicalised as above and the local part is lower-cased too:
    RFC 5321 lets a server treat case as significant, but no mail provider in practice does, and
    one mailbox must deduplicate to one indicator. Local parts are validated with the rules of
    ``email-validator`` (quoted local parts are refused).
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from urllib.parse import quote

import email_validator
import idna
import tldextract

from krsn.errors import Invalid
from krsn.indicators.models import IndicatorType
from krsn.indicators.refang import refang

__all__ = [
    "MAX_LENGTH",
    "URL_SCHEMES",
    "Indicator",
    "Kind",
    "Rejected",
    "hash_signature",
    "normalise",
    "normalise_many",
    "require",
]

MAX_LENGTH: Final = 2048
"""Longest canonical value stored (the width of ``threat_indicators.indicator_value``)."""

URL_SCHEMES: Final[dict[str, int | None]] = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "ftp": 21,
    "ftps": 990,
    "sftp": 22,
    "tcp": None,  # C2 configurations: tcp://192.0.2.1:4444
    "udp": None,
    "ldap": 389,  # JNDI injection payloads: ldap://192.0.2.1:1389/a
    "ldaps": 636,
    "smb": 445,  # forced-authentication lures: smb://192.0.2.1/share
}
"""URL schemes accepted, each with the default port dropped from canonical URLs (or ``None``)."""

_ROOT_PATH_SCHEMES: Final = frozenset({"http", "https", "ws", "wss"})


class Kind(enum.StrEnum):
    """What a value is, finer than the stored :class:`IndicatorType`."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CIDR = "cidr"
    DOMAIN = "domain"
    URL = "url"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"
    EMAIL = "email"

    @property
    def indicator_type(self) -> IndicatorType:
        """The ``indicator_type`` stored for this kind."""
        return _STORED_TYPE[self]


_STORED_TYPE: Final[dict[Kind, IndicatorType]] = {
    Kind.IPV4: IndicatorType.IP,
    Kind.IPV6: IndicatorType.IP,
    Kind.CIDR: IndicatorType.IP,
    Kind.DOMAIN: IndicatorType.DOMAIN,
    Kind.URL: IndicatorType.URL,
    Kind.MD5: IndicatorType.HASH,
    Kind.SHA1: IndicatorType.HASH,
    Kind.SHA256: IndicatorType.HASH,
    Kind.SHA512: IndicatorType.HASH,
    Kind.EMAIL: IndicatorType.EMAIL,
}

_SIGNATURE_PREFIX: Final = {kind: f"{stored.value}:" for kind, stored in _STORED_TYPE.items()}
KIND_BY_VALUE: Final[dict[str, Kind]] = {kind.value: kind for kind in Kind}
"""Each kind by its value: a dict lookup, cheaper than ``Kind(value)`` on hot paths."""
_HASH_KINDS: Final = {32: Kind.MD5, 40: Kind.SHA1, 64: Kind.SHA256, 128: Kind.SHA512}


@dataclass(frozen=True, slots=True)
class Indicator:
    """A canonical indicator; ``signature`` is its deduplication key."""

    kind: Kind
    value: str
    signature: str

    @property
    def indicator_type(self) -> IndicatorType:
        return _STORED_TYPE[self.kind]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A value that is not an indicator, and why."""

    raw: str
    reason: str


def hash_signature(kind_or_type: Kind | IndicatorType, canonical: str) -> str:
    """The deduplication key: SHA-256 hex of ``"<stored indicator type>:<canonical value>"``.

    This is a contract: stored rows are keyed by it, so the formula never changes. The stored
    type is used, not the kind, so ``ipv4`` and ``cidr`` share the ``ip`` space (and the four
    hash kinds the ``hash`` space, where their lengths already keep them apart).
    """
    stored = kind_or_type.indicator_type if isinstance(kind_or_type, Kind) else kind_or_type
    return hashlib.sha256(f"{stored.value}:{canonical}".encode()).hexdigest()


# --- cleaning -------------------------------------------------------------------------------

# C0 and C1 controls, lone surrogates, and bidirectional overrides that can disguise a value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Invisible characters reports insert to break links; they never belong to an indicator.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))
_WRAPPERS: Final = frozenset({'""', "''", "``", "<>", "[]", "()", "{}"})
_OPENERS: Final = frozenset(pair[0] for pair in _WRAPPERS)


def _unwrap(value: str) -> str:
    while len(value) >= 2 and value[0] in _OPENERS and value[0] + value[-1] in _WRAPPERS:
        value = value[1:-1].strip()
    return value


def _clean(raw: str) -> str | Rejected:
    value = raw.strip()
    if not value.isascii():
        value = value.translate(_INVISIBLE).strip()
    value = refang(_unwrap(value))
    value = _unwrap(value)
    if not value:
        return Rejected(raw, "empty value")
    if len(value) > MAX_LENGTH:
        return Rejected(raw, f"too long: {len(value)} characters (at most {MAX_LENGTH})")
    control = _CONTROL.search(value)
    if control is not None:
        return Rejected(raw, f"control character U+{ord(control.group()):04X}")
    return value


# --- IP addresses and CIDR ranges -----------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_CANONICAL = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_IPV4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")
_DIGITS_AND_DOTS = re.compile(r"[0-9.]+")
_IPV6_LIKE = re.compile(r"[0-9A-Za-z:.%]+")
_CIDR_SHAPE = re.compile(r"([0-9A-Fa-f:.]+)/([0-9]{1,3})")
_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:\[\]]+):([0-9]{1,5})")

# A successful parse is (kind, canonical); a failed one is (None, reason).
_Result = tuple[Kind | None, str]


def _ipv4(text: str) -> _Result:
    if _IPV4_CANONICAL.fullmatch(text) is not None:
        return Kind.IPV4, text
    match = _IPV4.fullmatch(text)
    if match is None:
        parts = text.split(".")
        if len(parts) != 4:
            return None, f"not a valid IPv4 address: {len(parts)} parts"
        bad = next((p for p in parts if not p.isdigit() or len(p) > 3), "")
        return None, f"not a valid IPv4 address: octet {bad!r}"
    for octet in match.groups():
        if len(octet) > 1 and octet[0] == "0":
            return None, f"ambiguous IPv4 address: leading zero in octet {octet!r}"
        if int(octet) > 255:
            return None, f"not a valid IPv4 address: octet {octet}"
    return Kind.IPV4, text


def _ipv6(text: str) -> _Result:
    if "%" in text:
        return None, "IPv6 zone index is not allowed"
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError as exc:
        return None, f"not a valid IPv6 address: {exc}"
    mapped = address.ipv4_mapped
    if mapped is not None:
        return Kind.IPV4, str(mapped)
    return Kind.IPV6, address.compressed


def _cidr(address: str, prefix: str) -> _Result:
    if ":" in address:
        if "%" in address:
            return None, "IPv6 zone index is not allowed"
        try:
            plain = ipaddress.IPv6Address(address)
        except ValueError as exc:
            return None, f"not a valid IPv6 address: {exc}"
        kind, text, width = Kind.IPV6, plain.compressed, 128
        mapped = plain.ipv4_mapped
        if mapped is not None and int(prefix) >= 96:  # a range of IPv4-mapped addresses
            kind, text, width = Kind.IPV4, str(mapped), 32
            prefix = str(int(prefix) - 96)
    else:
        v4_kind, text = _ipv4(address)
        if v4_kind is None:
            return None, text
        kind, width = v4_kind, 32
    bits = int(prefix)
    if bits > width or (len(prefix) > 1 and prefix[0] == "0"):
        return None, f"not a valid CIDR prefix for {kind.value}: /{prefix}"
    if bits == 0:
        return None, "a /0 range covers every address"
    if bits == width:
        return kind, text
    network = ipaddress.ip_network(f"{text}/{bits}", strict=False)
    return Kind.CIDR, f"{network.network_address.compressed}/{bits}"


def _ip_host(text: str) -> _Result:
    """An IP written alone: IPv4, IPv6 or IPv6 in brackets."""
    if text[:1] == "[" and text[-1:] == "]":
        text = text[1:-1]
    if ":" in text:
        return _ipv6(text)
    return _ipv4(text)


# --- domains --------------------------------------------------------------------------------

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_ASCII_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_HOST_CHARS = re.compile(r"[A-Za-z0-9_.-]+")

# Offline: no suffix list URL and no cache directory, so only the bundled snapshot is read.
_SUFFIXES = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False
)
_RULES: Final = _SUFFIXES.tlds
# Most top-level domains (com, net, ru, xyz...) are a rule of their own with no deeper ICANN
# rule: under them every name of two labels or more is a domain, and the suffix list need not
# be walked. The others (uk, jp, br...) go through tldextract.
_FLAT_TLDS: Final = frozenset(r for r in _RULES if "." not in r and r[0] not in "*!") - {
    r.rsplit(".", 1)[-1] for r in _RULES if "." in r
}


def _suffix_problem(name: str) -> str | None:
    """Why ``name`` is not a registrable name under a public suffix, or ``None``."""
    dot = name.rfind(".")
    if dot > 0 and name[dot + 1 :] in _FLAT_TLDS:
        return None
    parts = _SUFFIXES(name)
    if not parts.suffix:
        return f"domain has no public suffix: {name}"
    if not parts.domain:
        return f"a public suffix alone is not a domain: {name}"
    return None


def _label_problem(host: str) -> str:
    """Why an ASCII host failed the label pattern (slow path only)."""
    if len(host) > 253:
        return f"domain longer than 253 characters: {len(host)}"
    for label in host.split("."):
        if not label:
            return f"domain has an empty label: {host}"
        if len(label) > 63:
            return f"domain label longer than 63 characters: {label[:20]}..."
        if label[0] == "-" or label[-1] == "-":
            return f"domain label starts or ends with a hyphen: {label}"
        bad = next((c for c in label if not (c.isalnum() or c in "-_")), None)
        if bad is not None:
            return f"character {bad!r} not allowed in a domain: {host}"
    return f"not a valid domain: {host}"


@lru_cache(maxsize=1 << 16)
def _domain(host: str) -> _Result:
    """Canonical domain name of ``host``, or why it is not one."""
    if host.isascii():
        name = host.lower()
        if name.endswith("."):
            name = name[:-1]
        if not name:
            return None, "empty domain"
        if "*" in name:
            return None, f"wildcard domains are not indicators: {name}"
        if len(name) > 253 or _ASCII_HOST.fullmatch(name) is None:
            return None, _label_problem(name)
        if "xn--" in name:
            try:
                name = idna.encode(name, uts46=True).decode("ascii")
            except idna.IDNAError as exc:
                return None, f"invalid IDNA name {name}: {exc}"
    else:
        try:
            name = idna.encode(host.rstrip(".\u3002\uff0e\uff61"), uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            return None, f"invalid IDNA name {host}: {exc}"
        if len(name) > 253:
            return None, f"domain longer than 253 characters: {len(name)}"
    problem = _suffix_problem(name)
    if problem is not None:
        return None, problem
    return Kind.DOMAIN, name


# --- URLs -----------------------------------------------------------------------------------

# RFC 3986 appendix B, with "://" required (a scheme-less value is given "http://" first).
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?")
_SCHEME_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_AUTHORITY = re.compile(r"(?:(.*)@)?(\[[^\]]*\]|[^:]*)(?::([0-9]*))?")
# Anything in a path, query or fragment that needs rewriting: an escape, or a character a URL
# may not hold there (the unreserved, sub-delims, ":", "@", "/", "?" and "%" may stay).
_NEEDS_ENCODING = re.compile(r"%|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]")
_ESCAPE_OR_FORBIDDEN = re.compile(r"%([0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# A canonical URL must not look defanged, or normalising it again would change it.
_LOOKS_DEFANGED = re.compile(r"\(\s*(?:\.|dot|@|at|:|://|/)\s*\)", re.IGNORECASE)


def _encode(match: re.Match[str]) -> str:
    escaped = match.group(1)
    if escaped is None:
        return quote(match.group(), safe="")
    char = chr(int(escaped, 16))
    return char if char in _UNRESERVED else "%" + escaped.upper()


def _protect(match: re.Match[str]) -> str:
    return match.group().replace("(", "%28").replace(")", "%29")


def _component(part: str) -> str:
    if _NEEDS_ENCODING.search(part) is not None:
        part = _ESCAPE_OR_FORBIDDEN.sub(_encode, part)
    if "(" in part:
        part = _LOOKS_DEFANGED.sub(_protect, part)
    return part


def _url_host(host: str) -> tuple[str | None, str]:
    """Canonical host of a URL (IPv6 in brackets), or ``(None, reason)``."""
    if not host:
        return None, "URL has no host"
    if host[0] == "[":
        if host[-1] != "]":
            return None, f"URL host has an unclosed bracket: {host}"
        kind, text = _ipv6(host[1:-1])
        if kind is None:
            return None, text
        return (f"[{text}]" if kind is Kind.IPV6 else text), ""
    if "%" in host:
        return None, f"percent-encoded URL host: {host}"
    if _DIGITS_AND_DOTS.fullmatch(host) is not None:
        kind, text = _ipv4(host)
    else:
        kind, text = _domain(host)
    if kind is None:
        return None, text
    return text, ""


def _url(text: str) -> _Result:
    match = _URL.fullmatch(text)
    if match is None:
        return None, f"not a valid URL: {text[:80]}"
    scheme, authority, path, query, fragment = match.groups()
    scheme = scheme.lower()
    if scheme not in URL_SCHEMES:
        return None, f"unsupported URL scheme: {scheme}"
    parts = _AUTHORITY.fullmatch(authority)
    if parts is None:
        if "[" in authority and "]" not in authority:
            return None, f"URL host has an unclosed bracket: {authority}"
        return None, f"not a valid URL authority: {authority}"
    userinfo, host, port = parts.groups()
    canonical_host, reason = _url_host(host)
    if canonical_host is None:
        return None, reason
    out = [scheme, "://"]
    if userinfo is not None:
        out += [_component(userinfo), "@"]
    out.append(canonical_host)
    if port:
        number = int(port)
        if number > 65535:
            return None, f"URL port out of range: {port}"
        if number != URL_SCHEMES[scheme]:
            out += [":", str(number)]
    if not path and scheme in _ROOT_PATH_SCHEMES:
        path = "/"
    out.append(_component(path))
    if query is not None:
        out += ["?", _component(query)]
    if fragment is not None:
        out += ["#", _component(fragment)]
    canonical = "".join(out)
    if len(canonical) > MAX_LENGTH:
        return None, f"URL too long once canonical: {len(canonical)} characters"
    return Kind.URL, canonical


def _url_without_scheme(text: str) -> _Result:
    if text.startswith("//"):
        return _url("http:" + text)
    if _SCHEME_SHAPE.match(text) is not None and "://" not in text:
        scheme = text.split(":", 1)[0].lower()
        if scheme in URL_SCHEMES:
            return None, f"URL scheme not followed by '//': {text[:80]}"
    return _url("http://" + text)


# --- hashes and e-mails ---------------------------------------------------------------------

_HEX = re.compile(r"[0-9A-Fa-f]+")
_MIN_HASH_LIKE = 16  # shorter hex strings are more likely words or labels than truncated hashes


def _hash(text: str) -> _Result:
    if _HEX.fullmatch(text) is None:
        bad = next(c for c in text if c not in "0123456789abcdefABCDEF")
        return None, f"hash is not hexadecimal: contains {bad!r}"
    kind = _HASH_KINDS.get(len(text))
    if kind is None:
        return None, f"hash of {len(text)} hex digits (md5 32, sha1 40, sha256 64, sha512 128)"
    return kind, text.lower()


# The ASCII dot-atom email-validator accepts, tried first because it is much cheaper.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LOCAL_MAX = 64


def _local_part(local: str) -> str | None:
    """Why ``local`` is not a valid local part, or ``None`` when it is."""
    if not local:
        return "e-mail has an empty local part"
    if len(local) <= _LOCAL_MAX and local.isascii() and _DOT_ATOM.fullmatch(local) is not None:
        return None
    try:
        email_validator.validate_email(
            f"{local}@example.com", check_deliverability=False, allow_smtputf8=True
        )
    except email_validator.EmailNotValidError as exc:
        return f"invalid e-mail local part: {exc}"
    return None


def _email(text: str) -> _Result:
    local, at, host = text.rpartition("@")
    if not at or not host:
        return None, f"not an e-mail address: {text[:80]}"
    if host[0] == "[":
        return None, f"e-mail with an address literal is not accepted: {host}"
    problem = _local_part(local)
    if problem is not None:
        return None, problem
    kind, domain = _domain(host)
    if kind is None:
        return None, f"invalid e-mail domain: {domain}"
    return Kind.EMAIL, f"{local.lower()}@{domain}"


# --- detection ------------------------------------------------------------------------------


def _detect(text: str) -> _Result:
    """Canonicalise ``text`` as whatever it looks like."""
    if "/" not in text and ":" not in text and "@" not in text:
        # The common shapes first: an IPv4 address, a hash, a domain.
        if _DIGITS_AND_DOTS.fullmatch(text) is not None:
            if "." in text:
                return _ipv4(text)
            if len(text) in _HASH_KINDS:  # a digest can be all digits
                return _hash(text)
            return None, f"unrecognised value: a bare number {text[:40]}"
        if _HEX.fullmatch(text) is not None and (
            len(text) in _HASH_KINDS or len(text) >= _MIN_HASH_LIKE
        ):
            return _hash(text)
        if text.isascii() and _HOST_CHARS.fullmatch(text) is None:
            if "*" in text:
                return None, f"wildcard domains are not indicators: {text[:80]}"
            return None, f"unrecognised value: {text[:80]}"
        return _domain(text)
    if "://" in text:
        return _url(text)
    if text.startswith("//"):
        return _url_without_scheme(text)
    if "@" in text:
        return _email(text)
    if "/" in text:
        cidr = _CIDR_SHAPE.fullmatch(text)
        if cidr is not None and ("." in cidr.group(1) or ":" in cidr.group(1)):
            return _cidr(cidr.group(1), cidr.group(2))
        return _url_without_scheme(text)
    colons = text.count(":")
    if colons == 1 or text[0] == "[":
        host_port = _HOST_PORT.fullmatch(text)
        if host_port is not None:
            return _host_of(host_port.group(1), host_port.group(2))
    if colons > 1 and _IPV6_LIKE.fullmatch(text) is not None:
        return _ip_host(text)
    return None, f"unrecognised value: {text[:80]}"


def _host_of(host: str, port: str) -> _Result:
    """The host of ``host:port``: an IP or a domain."""
    if int(port) > 65535 or int(port) == 0:
        return None, f"port out of range: {port}"
    if host[0] == "[" or _DIGITS_AND_DOTS.fullmatch(host) is not None:
        return _ip_host(host)
    return _domain(host)


def _as(expected: Kind | IndicatorType, text: str) -> _Result:
    """Canonicalise ``text`` as the ``expected`` type, with that type's reasons."""
    stored = expected.indicator_type if isinstance(expected, Kind) else expected
    if stored is IndicatorType.HASH:
        return _hash(text)
    if stored is IndicatorType.URL:
        if "://" in text:
            return _url(text)
        return _url_without_scheme(text)
    if stored is IndicatorType.EMAIL:
        return _email(text)
    result = _detect(text)
    if result[0] is None and stored is IndicatorType.IP and not _looks_like_ip(text):
        return None, f"not an IP address: {text[:80]}"
    return result


def _looks_like_ip(text: str) -> bool:
    return (
        _DIGITS_AND_DOTS.fullmatch(text) is not None
        or ":" in text
        or _CIDR_SHAPE.fullmatch(text) is not None
    )


def _matches(expected: Kind | IndicatorType, kind: Kind) -> bool:
    if isinstance(expected, Kind):
        # A declared CIDR column may hold single addresses (a /32 is the address itself).
        return kind is expected or (
            expected is Kind.CIDR and _STORED_TYPE[kind] is IndicatorType.IP
        )
    return kind.indicator_type is expected


# Plain addresses and lower-case digests are most of every feed and every lookup batch, and
# are already canonical: the full path (clean, refang, detect) would return them unchanged.
# Lower-case ASCII host names under a top-level domain with no deeper ICANN rule (com, net,
# ru...) are canonical too: nothing to clean, refang or map, and no suffix list to walk.
_ALREADY_CANONICAL = re.compile(
    rf"(?P<ipv4>(?:{_OCTET}\.){{3}}{_OCTET})"
    r"|(?P<digest>[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})"
    r"|(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,63}))"
)


def _normalise(raw: str, expected: Kind | IndicatorType | None) -> Indicator | Rejected:
    if expected is None:
        plain = _ALREADY_CANONICAL.fullmatch(raw)
        if plain is not None:
            group = plain.lastgroup
            if group == "domain":
                if plain.group("tld") not in _FLAT_TLDS or len(raw) > 253 or "xn--" in raw:
                    return _normalise_fully(raw, expected)
                kind = Kind.DOMAIN
            else:
                kind = Kind.IPV4 if group == "ipv4" else _HASH_KINDS[len(raw)]
            signature = hashlib.sha256((_SIGNATURE_PREFIX[kind] + raw).encode()).hexdigest()
            return Indicator(kind, raw, signature)
    return _normalise_fully(raw, expected)


def _normalise_fully(raw: str, expected: Kind | IndicatorType | None) -> Indicator | Rejected:
    text = _clean(raw)
    if isinstance(text, Rejected):
        return text
    kind, value = _detect(text) if expected is None else _as(expected, text)
    if kind is None:
        return Rejected(raw, value)
    if expected is not None and not _matches(expected, kind):
        return Rejected(raw, f"expected {expected.value}, got {kind.value}: {value[:80]}")
    signature = hashlib.sha256((_SIGNATURE_PREFIX[kind] + value).encode()).hexdigest()
    return Indicator(kind, value, signature)


def normalise(raw: str, *, expected: Kind | IndicatorType | None = None) -> Indicator | Rejected:
    """Canonicalise one value, detecting its kind or checking it against ``expected``."""
    return _normalise(raw, expected)


def normalise_many(
    values: Iterable[str], *, expected: Kind | IndicatorType | None = None
) -> tuple[list[Indicator], list[tuple[int, Rejected]]]:
    """Canonicalise a batch: the indicators in order, and each rejection with its position."""
    indicators: list[Indicator] = []
    rejected: list[tuple[int, Rejected]] = []
    keep, refuse = indicators.append, rejected.append
    # Feeds repeat values within a batch; each distinct raw value is worked out once.
    done: dict[str, Indicator | Rejected] = {}
    for position, raw in enumerate(values):
        result = done.get(raw)
        if result is None:
            result = done[raw] = _normalise(raw, expected)
        if isinstance(result, Indicator):
            keep(result)
        else:
            refuse((position, result))
    return indicators, rejected


def require(
    raw: str, *, expected: Kind | IndicatorType | None = None, field: str = "value"
) -> Indicator:
    """Like :func:`normalise`, raising :class:`Invalid` for the caller's ``field`` on rejection."""
    result = _normalise(raw, expected)
    if isinstance(result, Rejected):
        raise Invalid(field, result.reason)
    return result
