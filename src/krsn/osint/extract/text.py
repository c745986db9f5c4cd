"""Find indicators and named entities in free text: one :class:`Finding` per occurrence.

One combined regular expression scans the text once; each alternative finds *candidates* of a
type, written plainly or defanged (``hxxp://evil[.]com``, ``admin[at]evil(.)com``), and only
the candidates are validated: refanged and canonicalised by the ingestion normaliser
(:func:`krsn.indicators.normalise.normalise`, so entities key like indicators), checked against
the public suffix list, or checked by their checksum. Persons, organisations and locations come
from the named-entity recogniser of :mod:`krsn.osint.extract.ner`.

Decisions, each written down because another choice was possible:

- **Domains** must end in an ICANN public suffix (the normaliser's rule). A two-label name whose
  last label is a common file extension that is also a country code (``dump.py``, ``run.sh``,
  ``notes.md``, ``invoice.zip``) is a file name unless it is defanged; a name whose labels are
  Capitalised words joined by dots (``System.Net``, ``Win32/Spy.Danabot``) is code or a
  detection name, not a domain, unless defanged.
- **Version numbers**: a dotted quad inside a longer dotted run (``1.3.6.1.4.1``) or right
  after ``v``/``version`` is not an address.
- **URLs** keep everything up to white space, quotes or angle brackets, minus trailing
  punctuation and an unbalanced closing bracket; ``host/path`` with no scheme is a URL (read
  as ``http``), ``host:port`` alone is the host. The host of a URL is not reported again as a
  domain: the URL carries it.
- **Phones** need their international form (``+`` and the country code) unless a default region
  is given; numbers are validated by ``phonenumbers`` and written in E.164.
- **Handles**: ``@user@instance`` (Mastodon), profile URLs of known networks, and ``@name``
  only when a network is named near it (``@name on Twitter``): alone, ``@`` marks decorators,
  batch commands and mentions of no particular network too often.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

import phonenumbers

from krsn.indicators.normalise import Indicator, Kind, normalise
from krsn.indicators.refang import refang
from krsn.osint.extract import coins
from krsn.osint.extract.findings import Finding
from krsn.osint.models import EntityType

__all__ = ["IOC_TYPES", "NER_TYPES", "extract_text"]

IOC_TYPES: Final = frozenset(
    {
        EntityType.IP_ADDRESS,
        EntityType.DOMAIN,
        EntityType.URL,
        EntityType.EMAIL,
        EntityType.HASH,
        EntityType.PHONE,
        EntityType.CRYPTOCURRENCY_ADDRESS,
        EntityType.USERNAME,
        EntityType.CVE,
    }
)
"""Types found by patterns and checksums."""

NER_TYPES: Final = frozenset({EntityType.PERSON, EntityType.ORGANIZATION, EntityType.LOCATION})
"""Types found by the named-entity recogniser."""

# --- the patterns -----------------------------------------------------------------------------

# A dot, plain or defanged: [.] (.) {.} [dot] (dot) {dot}, spaces allowed inside the brackets.
_DOT = r"(?:\.|\s?[\[\(\{]\s?(?:\.|[dD][oO][tT])\s?[\]\)\}]\s?|\\\.)"
_DEFANGED_DOT = r"[\[\(\{]"
# Labels are taken whole and never given back (possessive, atomic): a text has many words and
# backtracking into each of them is what makes a scanner slow. The handler checks the last
# label is a top-level domain and the normaliser checks the rest.
_LABEL = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}+"
_DOMAIN = rf"(?>{_LABEL}(?:{_DOT}{_LABEL})+)"
_DOMAIN_REST = rf"(?>[A-Za-z0-9_-]{{0,62}}+(?:{_DOT}{_LABEL})+)"
_TLD = re.compile(r"[A-Za-z]{2,63}|[xX][nN]--[A-Za-z0-9-]{1,59}")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:{_DOT}{_OCTET}){{3}}"
_IPV6 = (
    r"(?:(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})"
    r"|::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4})"
)
_SCHEME_SEP = r"(?:(?::|\[:\]|\(:\))//|\[://\]|\(://\))"
_SLASH = r"(?:/|\[/\])"
# Path characters: no white space, quotes, angle brackets, pipes, backticks or brackets except
# the defanging forms [.] [/] [dot] [:].
_PATH = r"(?:[^\s\"'<>`|\[\]{}^\\]|\[(?:\.|/|dot|:)\])*"
_PORT = r"(?::[0-9]{1,5}(?![0-9]))"
_AT = r"(?:@|\s?[\[\(\{]\s?(?:@|[aA][tT])\s?[\]\)\}]\s?)"
_B58 = r"[1-9A-HJ-NP-Za-km-z]"

# Every alternative opens with a character set, so the engine skips an alternative at a glance
# when the character does not fit (a look-behind first would run at every position); the
# look-behinds that keep a match from starting inside a word come right after that character.
_ANY = r"[\s\S]"
_SCAN = re.compile(
    rf"""
    (?<![A-Za-z0-9])(?:
      (?P<url>[A-Za-z][A-Za-z0-9+.-]{{1,9}}+{_SCHEME_SEP}
          (?:\[{_IPV6}\]|{_IPV4}|{_DOMAIN}|{_IPV6}|[A-Za-z0-9.-]+)
          {_PORT}?(?:[/?#]{_PATH}|\[/\]{_PATH})?)
    | (?P<handle>@(?<![\w@.]@)[A-Za-z0-9_]{{1,30}}+(?:(?P<instance>@{_DOMAIN})|(?![\w@])))
    | (?P<ipv4>[0-9](?<![_.\])]{_ANY})[0-9]{{0,2}}+(?:{_DOT}[0-9]{{1,3}}+){{3}}
          (?![\w-])(?!\.[A-Za-z0-9])
          (?P<cidr4>/[0-9]{{1,2}}(?![0-9/]))?{_PORT}?(?P<ippath>{_SLASH}{_PATH})?)
    | (?P<hash>[0-9A-Fa-f][0-9A-Fa-f]{{31,127}}+(?![0-9A-Za-z]))
    | (?P<eth>0x[0-9A-Fa-f]{{40}}(?![0-9A-Za-z]))
    | (?P<bech32>[bB][cC]1[02-9ac-hj-np-zAC-HJ-NP-Z]{{8,87}}+(?![0-9A-Za-z]))
    | (?P<xmr>[48]{_B58}{{94}}(?:{_B58}{{11}})?(?![0-9A-Za-z]))
    | (?P<btc>[13]{_B58}{{25,34}}+(?![0-9A-Za-z]))
    | (?P<cve>[cC][vV][eE][-\u2010\u2013_ ]?[0-9]{{4}}[-\u2010\u2013_][0-9]{{4,7}}(?![0-9]))
    | (?P<word>[A-Za-z0-9_](?<![_.-]{_ANY})
          # Only a word that goes on with a dot, an at sign or a defanging bracket can be an
          # e-mail address or a domain: one quick look ahead spares both their full tries.
          (?=[\w%+-]*+(?:[.@\\]|\s?[\[\(\{{]))
          (?:(?P<email>(?<!_)(?<![%+]{_ANY})[A-Za-z0-9._%+-]{{0,62}}+{_AT}{_DOMAIN})
          |(?P<domain>(?<!@{_ANY}){_DOMAIN_REST}{_PORT}?(?P<dompath>{_SLASH}{_PATH})?)))
    | (?P<ipv6>\[[0-9A-Fa-f:.]{{2,45}}+\]{_PORT}?
          |[0-9A-Fa-f:](?<![\w:.]{_ANY})[0-9A-Fa-f]{{0,3}}+:[0-9A-Fa-f:.]{{1,41}}+
           (?:/[0-9]{{1,3}})?(?![\w:.]))
    | (?P<phone>\+(?<![\w+]\+)[1-9][0-9 ().\u00a0-]{{5,20}}[0-9](?![0-9]))
    )""",
    re.VERBOSE,
)

# Last labels that are common file extensions as well as country-code or generic TLDs.
_FILE_EXTENSIONS: Final = frozenset(
    {
        "py", "sh", "pl", "rs", "md", "ps", "so", "zip", "mov", "one", "cat", "sc", "gs", "mk",
        "ml", "cc", "am", "ac", "cs", "cm", "mp", "nz", "bz", "rar", "run", "bin", "ini", "txt",
    }
)  # fmt: skip
_TRAILING: Final = ".,;:!?'\"*+_"
_CLOSERS: Final = {")": "(", "]": "[", "}": "{", ">": "<"}
_VERSION_BEFORE = re.compile(r"(?:\b[vV]|version|ver\.?|build|release)\s?$", re.IGNORECASE)

_HANDLE_NETWORKS: Final = (
    ("twitter", re.compile(r"twitter|tweet|\bx\.com\b|\bon x\b", re.IGNORECASE)),
    ("telegram", re.compile(r"telegram|\bt\.me\b", re.IGNORECASE)),
    ("instagram", re.compile(r"instagram", re.IGNORECASE)),
    ("tiktok", re.compile(r"tiktok", re.IGNORECASE)),
    ("github", re.compile(r"github", re.IGNORECASE)),
    ("youtube", re.compile(r"youtube", re.IGNORECASE)),
    ("threads", re.compile(r"\bthreads\b", re.IGNORECASE)),
)
_HANDLE_WINDOW = 60

# Profile URLs: host -> (network, pattern of the path that names the user).
_PROFILE_PATHS: Final[dict[str, tuple[str, re.Pattern[str]]]] = {}
for _hosts, _network, _path in (
    (("twitter.com", "x.com", "mobile.twitter.com"), "twitter", r"/@?([A-Za-z0-9_]{1,15})/?"),
    (("instagram.com",), "instagram", r"/([A-Za-z0-9_.]{1,30})/?"),
    (("github.com",), "github", r"/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/?"),
    (("t.me", "telegram.me"), "telegram", r"/([A-Za-z0-9_]{4,32})/?"),
    (("reddit.com", "old.reddit.com"), "reddit", r"/(?:u|user)/([A-Za-z0-9_-]{3,20})(?:/.*)?"),
    (("facebook.com", "m.facebook.com"), "facebook", r"/([A-Za-z0-9.]{5,50})/?"),
    (("tiktok.com",), "tiktok", r"/@([A-Za-z0-9_.]{2,24})/?"),
    (("youtube.com",), "youtube", r"/@([A-Za-z0-9_.-]{3,30})/?"),
    (("linkedin.com",), "linkedin", r"/in/([A-Za-z0-9-]{3,100})/?"),
    (("medium.com",), "medium", r"/@([A-Za-z0-9_.]{1,30})/?"),
):
    for _host in _hosts:
        _PROFILE_PATHS[_host] = (_network, re.compile(_path))
        _PROFILE_PATHS["www." + _host] = (_network, re.compile(_path))
# Paths of those hosts that are pages, not people.
_NOT_PROFILES: Final = frozenset(
    {
        "home", "search", "explore", "intent", "share", "hashtag", "i", "settings", "login",
        "signup", "about", "help", "privacy", "tos", "watch", "results", "channel", "features",
        "pricing", "orgs", "topics", "marketplace", "sponsors", "notifications", "p", "reel",
        "stories", "groups", "pages", "events", "messages", "joinchat", "s", "status",
    }
)  # fmt: skip
_MASTODON_PROFILE = re.compile(r"/@([A-Za-z0-9_]{1,30})/?")

_CONFIDENCE: Final = {
    "url": 0.9,
    "email": 0.9,
    "ip": 0.85,
    "hash": 0.9,
    "domain": 0.7,
    "defanged": 0.95,
    "cve": 0.95,
    "checksum": 0.99,
    "eth_nochecksum": 0.6,
    "phone": 0.75,
    "handle_url": 0.85,
    "mastodon": 0.8,
    "handle_context": 0.6,
}


def _trim(text: str, start: int, end: int) -> int:
    """The end of a URL-like match without trailing punctuation or an unbalanced closer."""
    while end > start:
        last = text[end - 1]
        if last in _TRAILING:
            end -= 1
            continue
        opener = _CLOSERS.get(last)
        if opener is not None:
            chunk = text[start:end]
            if chunk.count(last) > chunk.count(opener):
                end -= 1
                continue
        break
    return end


def _is_defanged(value: str) -> bool:
    return re.search(_DEFANGED_DOT, value) is not None or "\\." in value


_TITLE_LABEL = re.compile(r"[A-Z][a-z0-9]*[a-z][A-Za-z0-9]*")


def _looks_like_code(value: str, before: str) -> bool:
    """``System.Net``, ``Win32/Spy.Danabot``, ``KillDisk.NRG``: identifiers, not host names."""
    labels = value.split(".")
    if before in "/\\":
        return True
    last = labels[-1]
    if _TITLE_LABEL.fullmatch(last) is not None:
        return True  # Title-case top-level label: a member access or a sentence join
    return (
        all(_TITLE_LABEL.fullmatch(label) is not None for label in labels[:-1])
        and len(labels) == 2
        and not last.islower()
    )


def _canonical(value: str, kind: Kind | None = None) -> Indicator | None:
    result = normalise(value, expected=kind) if kind is not None else normalise(value)
    return result if isinstance(result, Indicator) else None


class _Scanner:
    """One pass over a text, collecting the findings of the wanted types."""

    def __init__(self, text: str, wanted: frozenset[EntityType], region: str | None) -> None:
        self.text = text
        self.wanted = wanted
        self.region = region
        self.out: list[Finding] = []
        # Where to look next when a handler rejects its candidate but it may hide another.
        self.resume: int | None = None

    def add(
        self,
        entity_type: EntityType,
        start: int,
        end: int,
        canonical: str,
        confidence: float,
        method: str = "regex",
        subtype: str | None = None,
    ) -> None:
        if entity_type in self.wanted:
            self.out.append(
                Finding(
                    entity_type=entity_type,
                    value=self.text[start:end],
                    canonical=canonical,
                    start=start,
                    end=end,
                    confidence=confidence,
                    method=method,
                    subtype=subtype,
                )
            )

    def run(self) -> list[Finding]:
        text = self.text
        handlers: dict[str, Callable[[re.Match[str]], None]] = {
            "url": self.url,
            "word": self.word,
            "ipv4": self.ipv4,
            "hash": self.hash,
            "eth": self.eth,
            "bech32": self.bech32,
            "xmr": self.xmr,
            "btc": self.btc,
            "cve": self.cve,
            "ipv6": self.ipv6,
            "handle": self.handle,
            "phone": self.phone,
        }
        search = _SCAN.search
        position = 0
        while True:
            match = search(text, position)
            if match is None:
                break
            group = match.lastgroup
            # lastgroup names the innermost group that matched last; walk up to the alternative.
            while group not in handlers:
                group = _PARENT[group or ""]
            # A handler may reject its candidate and ask to look again just after its start,
            # so that a failed phone number (+141.98.233) does not hide the address inside.
            self.resume = None
            handlers[group](match)
            resume = self.resume
            position = resume if resume is not None else max(match.end(), match.start() + 1)
        if self.region is not None and EntityType.PHONE in self.wanted:
            self.national_phones()
        return self.out

    # --- handlers, one per alternative --------------------------------------------------------

    def url(self, match: re.Match[str]) -> None:
        start = match.start()
        end = _trim(self.text, start, match.end())
        value = self.text[start:end]
        indicator = _canonical(refang(value), Kind.URL)
        if indicator is None:
            # Not a URL after all (a bad host, an odd scheme): its host may still be worth having.
            host_at = value.find("//")
            if host_at != -1:
                self.rescan(start + host_at + 2, end)
            return
        confidence = _CONFIDENCE["defanged" if refang(value) != value else "url"]
        self.add(EntityType.URL, start, end, indicator.value, confidence)
        self.profile(start, end, indicator.value)

    def profile(self, start: int, end: int, url: str) -> None:
        """A handle named by a profile URL (``https://twitter.com/name``)."""
        if EntityType.USERNAME not in self.wanted:
            return
        rest = url.split("://", 1)[1]
        host, _, path = rest.partition("/")
        path = "/" + path.split("?", 1)[0].split("#", 1)[0]
        known = _PROFILE_PATHS.get(host)
        if known is not None:
            network, pattern = known
            found = pattern.fullmatch(path)
            if found is not None and found.group(1).lower() not in _NOT_PROFILES:
                name = found.group(1).lower()
                self.add(
                    EntityType.USERNAME,
                    start,
                    end,
                    f"{network}:{name}",
                    _CONFIDENCE["handle_url"],
                    subtype=network,
                )
            return
        mastodon = _MASTODON_PROFILE.fullmatch(path)
        if mastodon is not None:
            self.add(
                EntityType.USERNAME,
                start,
                end,
                f"mastodon:{mastodon.group(1).lower()}@{host}",
                _CONFIDENCE["handle_context"],
                subtype="mastodon",
            )

    def rescan(self, start: int, end: int) -> None:
        """Look again inside a rejected candidate, for the smaller things it holds."""
        inner = _Scanner(self.text[start:end], self.wanted, None)
        for finding in inner.run():
            self.out.append(
                Finding(
                    entity_type=finding.entity_type,
                    value=finding.value,
                    canonical=finding.canonical,
                    start=finding.start + start,
                    end=finding.end + start,
                    confidence=finding.confidence,
                    method=finding.method,
                    subtype=finding.subtype,
                )
            )

    def word(self, match: re.Match[str]) -> None:
        if match.group("email") is not None:
            self.email(match)
        else:
            self.domain(match)

    def email(self, match: re.Match[str]) -> None:
        value = match.group()
        plain = refang(value)
        indicator = _canonical(plain, Kind.EMAIL)
        if indicator is None:
            at = value.rfind("@")
            if at != -1:
                self.rescan(match.start() + at + 1, match.end())
            return
        confidence = _CONFIDENCE["defanged" if plain != value else "email"]
        domain = indicator.value.rsplit("@", 1)[1]
        if _XMPP_DOMAIN.search(domain) or domain in _XMPP_SERVERS:
            # A Jabber ID has an e-mail's shape, but it names a chat account.
            self.add(
                EntityType.USERNAME,
                match.start(),
                match.end(),
                f"xmpp:{indicator.value}",
                confidence - 0.1,
                subtype="xmpp",
            )
            return
        self.add(EntityType.EMAIL, match.start(), match.end(), indicator.value, confidence)

    def ipv4(self, match: re.Match[str]) -> None:
        start = match.start()
        before = self.text[max(0, start - 12) : start]
        if _VERSION_BEFORE.search(before):
            return
        if match.group("ippath") is not None:
            end = _trim(self.text, start, match.end())
            value = self.text[start:end]
            if end > match.start("ippath"):
                indicator = _canonical(refang(value), Kind.URL)
                if indicator is not None:
                    self.add(EntityType.URL, start, end, indicator.value, _confidence(value, "url"))
                    return
            end = match.start("ippath")
        else:
            end = match.end()
        value = self.text[start:end]
        indicator = _canonical(refang(value), Kind.CIDR if "/" in value else None)
        if indicator is None or indicator.kind not in (Kind.IPV4, Kind.CIDR):
            return
        self.add(
            EntityType.IP_ADDRESS,
            start,
            end,
            indicator.value,
            _confidence(value, "ip"),
            subtype="ipv4",
        )

    def ipv6(self, match: re.Match[str]) -> None:
        value = match.group()
        indicator = _canonical(value)
        if indicator is None or indicator.kind not in (Kind.IPV6, Kind.CIDR, Kind.IPV4):
            return
        if value.count(":") < 2 or (value.count(":") == 2 and "::" not in value):
            return  # times (10:30:00) and ratios are not addresses
        subtype = "ipv4" if indicator.kind is Kind.IPV4 or ":" not in indicator.value else "ipv6"
        self.add(
            EntityType.IP_ADDRESS,
            match.start(),
            match.end(),
            indicator.value,
            _CONFIDENCE["ip"],
            subtype=subtype,
        )

    def hash(self, match: re.Match[str]) -> None:
        value = match.group()
        kind = _HASH_LENGTHS.get(len(value))
        if kind is None:
            return
        if value.isdigit():
            return  # long runs of digits are numbers (IDs, phone dumps), not digests
        start = match.start()
        labels = _HASH_LABEL.findall(self.text, max(0, start - _LABEL_WINDOW), start)
        label = labels[-1].lower() if labels else ""
        if label.startswith("serial"):
            return  # a certificate's serial number has the shape of a digest but is not one
        if label.startswith(("imphash", "import")):
            kind = "imphash"
        elif label.startswith("authentihash"):
            kind = "authentihash"
        self.add(
            EntityType.HASH, start, match.end(), value.lower(), _CONFIDENCE["hash"], subtype=kind
        )

    def eth(self, match: re.Match[str]) -> None:
        value = match.group()
        checked = coins.eth_checksum(value)
        if checked is False:
            return
        confidence = _CONFIDENCE["checksum" if checked else "eth_nochecksum"]
        self.coin(match, value.lower(), confidence, "eth", checked is True)

    def bech32(self, match: re.Match[str]) -> None:
        value = match.group()
        if coins.btc_bech32(value):
            self.coin(match, value.lower(), _CONFIDENCE["checksum"], "btc", True)

    def xmr(self, match: re.Match[str]) -> None:
        value = match.group()
        if coins.xmr_address(value):
            self.coin(match, value, _CONFIDENCE["checksum"], "xmr", True)

    def btc(self, match: re.Match[str]) -> None:
        value = match.group()
        if coins.btc_base58(value):
            self.coin(match, value, _CONFIDENCE["checksum"], "btc", True)

    def coin(
        self, match: re.Match[str], canonical: str, confidence: float, coin: str, checked: bool
    ) -> None:
        self.add(
            EntityType.CRYPTOCURRENCY_ADDRESS,
            match.start(),
            match.end(),
            canonical,
            confidence,
            method="regex+checksum" if checked else "regex",
            subtype=coin,
        )

    def cve(self, match: re.Match[str]) -> None:
        value = match.group()
        digits = re.findall(r"[0-9]+", value)
        self.add(
            EntityType.CVE,
            match.start(),
            match.end(),
            f"CVE-{digits[0]}-{digits[1]}",
            _CONFIDENCE["cve"],
        )

    def domain(self, match: re.Match[str]) -> None:
        start = match.start()
        if match.group("dompath") is not None:
            end = _trim(self.text, start, match.end())
            value = self.text[start:end]
            host_end = match.start("dompath")
            if end > host_end and self.plausible_domain(start, host_end):
                indicator = _canonical(refang(value), Kind.URL)
                if indicator is not None:
                    self.add(EntityType.URL, start, end, indicator.value, _confidence(value, "url"))
                    self.profile(start, end, indicator.value)
                    return
            end = host_end
        else:
            end = match.end()
        # host:port is the host
        value = self.text[start:end]
        colon = value.rfind(":")
        if colon != -1 and value[colon + 1 :].isdigit():
            end = start + colon
            value = value[:colon]
        if not self.plausible_domain(start, end):
            return
        indicator = _canonical(refang(value), Kind.DOMAIN)
        if indicator is None:
            return
        self.add(EntityType.DOMAIN, start, end, indicator.value, _confidence(value, "domain"))

    def plausible_domain(self, start: int, end: int) -> bool:
        """Whether a candidate reads as a host name rather than a file or an identifier."""
        value = self.text[start:end]
        if _is_defanged(value):
            return _TLD.fullmatch(refang(value).rsplit(".", 1)[-1]) is not None
        labels = value.split(".")
        if _TLD.fullmatch(labels[-1]) is None:
            return False
        if len(labels) == 2 and labels[-1].lower() in _FILE_EXTENSIONS:
            return False
        before = self.text[start - 1] if start else " "
        return not _looks_like_code(value, before)

    def handle(self, match: re.Match[str]) -> None:
        start, end = match.start(), match.end()
        if match.group("instance") is not None:
            user, _, host = match.group()[1:].partition("@")
            indicator = _canonical(refang(host), Kind.DOMAIN)
            if indicator is not None:
                self.add(
                    EntityType.USERNAME,
                    start,
                    end,
                    f"mastodon:{user.lower()}@{indicator.value}",
                    _CONFIDENCE["mastodon"],
                    subtype="mastodon",
                )
            return
        if end - start < 3:
            return
        window = self.sentence(start, end)
        for network, pattern in _HANDLE_NETWORKS:
            if pattern.search(window):
                self.add(
                    EntityType.USERNAME,
                    start,
                    end,
                    f"{network}:{match.group()[1:].lower()}",
                    _CONFIDENCE["handle_context"],
                    subtype=network,
                )
                return

    def sentence(self, start: int, end: int) -> str:
        """The sentence around a span, at most a window's width either side."""
        text = self.text
        before = text[max(0, start - _HANDLE_WINDOW) : start]
        after = text[end : end + _HANDLE_WINDOW]
        cut = max(before.rfind(". "), before.rfind("\n"), before.rfind("! "), before.rfind("? "))
        if cut != -1:
            before = before[cut + 1 :]
        stops = [i for i in (after.find(". "), after.find("\n"), after.find(".")) if i != -1]
        if stops:
            after = after[: min(stops)]
        return before + text[start:end] + after

    def phone(self, match: re.Match[str]) -> None:
        value = match.group()
        if _MORE_DOTTED.match(self.text, match.end()):
            # "+67.205.160[.]237": the start of an address written after a plus sign.
            self.resume = match.start() + 1
            return
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            self.resume = match.start() + 1
            return
        if not phonenumbers.is_valid_number(number):
            self.resume = match.start() + 1
            return
        canonical = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        self.add(
            EntityType.PHONE,
            match.start(),
            match.end(),
            canonical,
            _CONFIDENCE["phone"],
            method="phonenumbers",
            subtype=phonenumbers.region_code_for_number(number),
        )

    def national_phones(self) -> None:
        """Numbers written in a national form, read in the default region (slower: a matcher
        over the whole text)."""
        seen = {(f.start, f.end) for f in self.out if f.entity_type is EntityType.PHONE}
        taken = [(f.start, f.end) for f in self.out if f.entity_type is not EntityType.PHONE]
        for found in phonenumbers.PhoneNumberMatcher(self.text, self.region):
            span = (found.start, found.end)
            if span in seen or any(s < found.end and found.start < e for s, e in taken):
                continue
            canonical = phonenumbers.format_number(
                found.number, phonenumbers.PhoneNumberFormat.E164
            )
            self.add(
                EntityType.PHONE,
                found.start,
                found.end,
                canonical,
                _CONFIDENCE["phone"] - 0.1,
                method="phonenumbers",
                subtype=phonenumbers.region_code_for_number(found.number),
            )


_XMPP_DOMAIN = re.compile(r"jabber|xmpp")
# Public XMPP services whose names do not say so, common in ransom notes and forums.
_XMPP_SERVERS: Final = frozenset(
    {"exploit.im", "jabb.im", "thesecure.biz", "sj.ms", "404.city", "yourdataspace.de", "xmpp.jp",
     "jabber.ru", "jabber.cz", "draugr.de", "jabbim.com", "conversations.im", "dismail.de"}
)  # fmt: skip
_MORE_DOTTED = re.compile(rf"{_DOT}[0-9]")
_HASH_LENGTHS: Final = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
# What a digest is labelled as just before it: the last label within the window decides.
_HASH_LABEL = re.compile(
    r"serial|imphash|import hash|authentihash|sha-?1|sha-?256|sha-?512|md5|hash|thumbprint",
    re.IGNORECASE,
)
_LABEL_WINDOW = 120
# Inner named groups of an alternative, mapped to it.
_PARENT: Final = {
    "cidr4": "ipv4",
    "ippath": "ipv4",
    "dompath": "word",
    "instance": "handle",
}


def _confidence(value: str, plain: str) -> float:
    return _CONFIDENCE["defanged" if refang(value) != value else plain]


def extract_text(
    text: str,
    *,
    types: Iterable[EntityType] | None = None,
    ner: bool = True,
    phone_region: str | None = None,
) -> list[Finding]:
    """Every indicator and named entity in ``text``, one finding per occurrence, by offset.

    ``types`` limits what is looked for (all types when ``None``); ``ner=False`` skips the
    named-entity recogniser; ``phone_region`` (ISO 3166 alpha-2) also reads national phone
    numbers as that region's.
    """
    wanted = frozenset(types) if types is not None else IOC_TYPES | NER_TYPES
    findings: list[Finding] = []
    if wanted & IOC_TYPES:
        findings = _Scanner(text, wanted, phone_region).run()
    if ner and wanted & NER_TYPES:
        from krsn.osint.extract.ner import recogniser

        findings += [f for f in recogniser().find(text) if f.entity_type in wanted]
    findings.sort(key=lambda f: (f.start, -f.end, f.entity_type.value))
    return findings
