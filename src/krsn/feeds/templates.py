"""Built-in feed templates: a known public feed added with one command.

A template is data: the feed's URL, its format and parsing rules (written against the feed's
current layout), how often to refresh it, and how far to trust it. ``default_confidence`` is the
confidence given to an indicator the feed lists (0..100) when the feed states none of its own;
``source_reliability`` is the provider's ``threat_sources.reliability_score``.

Some templates take parameters (a TAXII API root and collection, a Maltrail trail): ``{name}``
in the URL or in ``parameter_rules`` is replaced by the value given to
:meth:`FeedTemplate.render`. A rule that names an optional parameter left unset is dropped; a
parameter of kind ``url`` is inserted as given (after a check), any other is percent-encoded
when it goes into the URL. ``parsing_rules`` never hold placeholders, so they are usable as
they stand (a saved file read with a template's rules).

Credentials are not parameters: a template says which credential its provider takes
(``credential``: abuse.ch's ``Auth-Key`` header, a TAXII server's bearer token or basic
login), and the secret itself is stored, encrypted, on the feed's source
(``threat_sources.authentication_config``), where every feed of that provider finds it.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from krsn.errors import Invalid, NotFound
from krsn.feeds.models import ThreatSourceType
from krsn.feeds.schemas import CredentialType
from krsn.indicators.normalise import Kind

__all__ = [
    "FeedTemplate",
    "RenderedFeed",
    "TemplateCredential",
    "TemplateFormat",
    "TemplateParameter",
    "build_credential",
    "get_template",
    "list_templates",
]

TemplateFormat = Literal["csv", "text", "json", "xml", "stix", "misp", "taxii"]

_PLACEHOLDER: Final = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class TemplateParameter(BaseModel):
    """A value the user supplies when adding a feed from a template."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    description: str
    kind: Literal["text", "path", "url"] = "text"
    """``path`` keeps its slashes in the URL (its pattern must refuse ``..``); ``url`` must be
    an http(s) URL."""
    required: bool = True
    default: str | None = None
    pattern: str | None = None
    """A regex the whole value must match."""


class TemplateCredential(BaseModel):
    """The credential a template's provider takes, kept on the source, never in the feed."""

    model_config = ConfigDict(frozen=True)

    types: tuple[CredentialType, ...] = Field(min_length=1)
    """The credential types the provider accepts, the usual one first."""
    name: str | None = None
    """The header (or query parameter) a ``header`` (``query``) credential is sent in."""
    required: bool = False
    """True when the feed answers nothing without it."""
    description: str


@dataclass(slots=True)
class RenderedFeed:
    """A template filled with parameter values: what the feed row needs."""

    name: str
    url: str
    format: str
    parsing_rules: dict[str, Any]
    update_frequency_minutes: int
    default_confidence: int


class FeedTemplate(BaseModel):
    """One built-in feed."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    provider: str
    homepage: str
    url: str
    format: TemplateFormat
    parsing_rules: dict[str, Any] = Field(default_factory=dict)
    parameter_rules: dict[str, Any] = Field(default_factory=dict)
    """Rules made from parameters (``{"malware_family": "{family}"}``), merged on render;
    a list extends the same rule of ``parsing_rules``."""
    update_frequency_minutes: int = Field(ge=5, le=7 * 24 * 60)
    default_confidence: int = Field(ge=0, le=100)
    source_reliability: int = Field(ge=0, le=100)
    source_type: ThreatSourceType = ThreatSourceType.OPEN_SOURCE
    kinds: tuple[Kind, ...]
    """What the feed lists."""
    tags: tuple[str, ...] = ()
    licence: str
    description: str
    notes: str | None = None
    """Caveats an operator should know before enabling it."""
    parameters: tuple[TemplateParameter, ...] = ()
    credential: TemplateCredential | None = None
    """The credential the provider takes, if any (see :func:`build_credential`)."""

    def render(self, values: Mapping[str, str] | None = None) -> RenderedFeed:
        """The feed with its parameters filled in; raises ``Invalid`` naming a bad one."""
        given = {k: v for k, v in (values or {}).items() if v is not None and v != ""}
        known = {p.name: p for p in self.parameters}
        for name in given:
            if name not in known:
                accepted = ", ".join(known) or "none"
                hint = (
                    "; a credential is stored on the source instead (--auth-key, or "
                    "authentication_config)"
                    if self.credential is not None
                    else ""
                )
                raise Invalid(
                    name,
                    f"the {self.name} template takes no such parameter (it takes: {accepted})"
                    + hint,
                )
        resolved: dict[str, str] = {}
        for parameter in self.parameters:
            value = given.get(parameter.name, parameter.default)
            if value is None:
                if parameter.required:
                    raise Invalid(
                        parameter.name,
                        f"required by the {self.name} template: {parameter.description}",
                    )
                continue
            resolved[parameter.name] = _checked(parameter, str(value))

        def in_url(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in resolved:
                raise Invalid(name, f"required by the {self.name} template's URL")
            value = resolved[name]
            kind = known[name].kind
            return value if kind == "url" else quote(value, safe="/" if kind == "path" else "")

        url = _PLACEHOLDER.sub(in_url, self.url)
        rules = copy.deepcopy(self.parsing_rules)
        for key, template in _fill_rules(self.parameter_rules, resolved).items():
            if isinstance(template, list) and isinstance(rules.get(key), list):
                rules[key] = [*rules[key], *template]
            elif template not in ([], {}):
                rules[key] = template
        return RenderedFeed(
            name=self.name,
            url=url,
            format=self.format,
            parsing_rules=rules,
            update_frequency_minutes=self.update_frequency_minutes,
            default_confidence=self.default_confidence,
        )


def _checked(parameter: TemplateParameter, value: str) -> str:
    value = value.strip()
    if parameter.pattern is not None and not re.fullmatch(parameter.pattern, value):
        raise Invalid(parameter.name, f"must match {parameter.pattern}: {parameter.description}")
    if parameter.kind == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Invalid(parameter.name, "must be an http:// or https:// URL")
        value = value.rstrip("/")
    elif any(ch in value for ch in "\r\n"):
        raise Invalid(parameter.name, "must not contain line breaks")
    return value


def _fill(template: str, values: Mapping[str, str]) -> str | None:
    """``template`` with placeholders replaced, or None if one names an unset parameter."""
    names = _PLACEHOLDER.findall(template)
    if any(name not in values for name in names):
        return None
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _fill_rules(node: Any, values: Mapping[str, str]) -> Any:
    """Rules with placeholders in their strings filled; entries with unset ones dropped."""
    if isinstance(node, dict):
        out = {}
        for key, item in node.items():
            filled = _fill_rules(item, values)
            if filled is not None:
                out[key] = filled
        return out
    if isinstance(node, list):
        return [f for f in (_fill_rules(item, values) for item in node) if f is not None]
    if isinstance(node, str):
        return _fill(node, values)
    return node


# --- Shared rule pieces ----------------------------------------------------------------------

ABUSE_CH_TERMS: Final = (
    "abuse.ch data is free for commercial and non-commercial use (CC0); see "
    "https://abuse.ch/terms-of-use/. abuse.ch may require a free Auth-Key for some downloads."
)
ABUSE_CH_AUTH: Final = TemplateCredential(
    types=("header",),
    name="Auth-Key",
    description="abuse.ch Auth-Key (free at https://auth.abuse.ch/), sent as the Auth-Key "
    "header of every abuse.ch feed",
)

# A quoted CSV field and the separator abuse.ch writes between fields (`","` or `", "`).
_Q: Final = r'"[^"]*"'
_SEP: Final = r",\s?"

_IP_OR_CIDR: Final = r"[0-9A-Fa-f:.]+(?:/\d{1,3})?"


# --- The catalogue ---------------------------------------------------------------------------

# What the Block List Project's two renderings (hosts file, AdGuard syntax) share.
_BLOCKLIST_PROJECT: Final[dict[str, Any]] = {
    "provider": "The Block List Project",
    "homepage": "https://github.com/blocklistproject/Lists",
    "parameter_rules": {"tags": ["{list}"]},
    "update_frequency_minutes": 1440,
    "default_confidence": 60,
    "source_reliability": 60,
    "kinds": (Kind.DOMAIN,),
    "tags": ("domain", "blocklist"),
    "licence": "The Unlicense (repository); files say MIT.",
    "parameters": (
        TemplateParameter(
            name="list",
            description="the list, e.g. ransomware, phishing, malware, scam",
            default="ransomware",
            pattern=r"[a-z0-9-]+",
        ),
    ),
}

_TEMPLATES: Final[tuple[FeedTemplate, ...]] = (
    FeedTemplate(
        name="urlhaus",
        title="URLhaus online malware URLs (CSV)",
        provider="abuse.ch",
        homepage="https://urlhaus.abuse.ch/",
        url="https://urlhaus.abuse.ch/downloads/csv_online/",
        format="csv",
        parsing_rules={
            "comment_prefix": "#",
            "header": False,
            "fieldnames": [
                "id",
                "dateadded",
                "url",
                "url_status",
                "last_online",
                "threat",
                "tags",
                "urlhaus_link",
                "reporter",
            ],
            "columns": {
                "value": "url",
                "first_seen": "dateadded",
                "last_seen": "last_online",
                "tags": "tags",
                "description": "threat",
            },
            "kind": "url",
        },
        update_frequency_minutes=60,
        default_confidence=80,
        source_reliability=85,
        kinds=(Kind.URL,),
        tags=("malware-distribution", "url"),
        licence=ABUSE_CH_TERMS,
        description="URLs currently serving malware, with their threat and tags. The file's "
        "header is a comment, so the columns are named in the rules.",
        credential=ABUSE_CH_AUTH,
    ),
    FeedTemplate(
        name="urlhaus-text",
        title="URLhaus online malware URLs (plain list)",
        provider="abuse.ch",
        homepage="https://urlhaus.abuse.ch/",
        url="https://urlhaus.abuse.ch/downloads/text_online/",
        format="text",
        parsing_rules={"comment_prefix": "#", "kind": "url"},
        update_frequency_minutes=60,
        default_confidence=80,
        source_reliability=85,
        kinds=(Kind.URL,),
        tags=("malware-distribution", "url"),
        licence=ABUSE_CH_TERMS,
        description="The same URLs as the urlhaus template, one per line, without context.",
        credential=ABUSE_CH_AUTH,
    ),
    FeedTemplate(
        name="feodotracker",
        title="Feodo Tracker botnet C2 IP blocklist",
        provider="abuse.ch",
        homepage="https://feodotracker.abuse.ch/",
        url="https://feodotracker.abuse.ch/downloads/ipblocklist.csv",
        format="csv",
        parsing_rules={
            "comment_prefix": "#",
            "header": True,
            "columns": {
                "value": "dst_ip",
                "first_seen": "first_seen_utc",
                "last_seen": "last_online",
                "malware_family": "malware",
            },
            "kind": "ipv4",
            "tags": ["botnet-c2"],
        },
        update_frequency_minutes=60,
        default_confidence=85,
        source_reliability=90,
        kinds=(Kind.IPV4,),
        tags=("botnet", "c2", "ip"),
        licence=ABUSE_CH_TERMS,
        description="Botnet command-and-control servers (Dridex, Emotet, QakBot, Pikabot …) "
        "with first seen, last online and malware family; c2_status is kept in the raw row.",
        notes="The list also holds C2s that have gone offline (c2_status); their last_seen "
        "lets decay age them out.",
        credential=ABUSE_CH_AUTH,
    ),
    FeedTemplate(
        name="threatfox",
        title="ThreatFox IOCs, last 48 hours (JSON export)",
        provider="abuse.ch",
        homepage="https://threatfox.abuse.ch/",
        url="https://threatfox.abuse.ch/export/json/recent/",
        format="json",
        parsing_rules={
            # The export is an object of IOC id -> list of one record.
            "path": "*",
            "fields": {
                "value": "ioc_value",
                "kind": "ioc_type",
                "first_seen": "first_seen_utc",
                "last_seen": "last_seen_utc",
                "malware_family": "malware_printable",
                "confidence": "confidence_level",
                "tags": "tags",
                "description": "threat_type",
            },
            "kind_map": {
                "domain": "domain",
                "url": "url",
                "md5_hash": "md5",
                "sha1_hash": "sha1",
                "sha256_hash": "sha256",
            },
        },
        update_frequency_minutes=60,
        default_confidence=75,
        source_reliability=85,
        kinds=(Kind.IPV4, Kind.DOMAIN, Kind.URL, Kind.MD5, Kind.SHA1, Kind.SHA256),
        tags=("malware", "c2", "mixed"),
        licence=ABUSE_CH_TERMS,
        description="Indicators of compromise shared on ThreatFox: ip:port C2s, domains, URLs "
        "and payload hashes, each with the reporter's confidence and the malware family.",
        notes="ip:port values keep their type unset so the normaliser reads the host.",
        credential=ABUSE_CH_AUTH,
    ),
    FeedTemplate(
        name="sslbl-certificates",
        title="SSLBL malicious SSL certificates (SHA1)",
        provider="abuse.ch",
        homepage="https://sslbl.abuse.ch/",
        url="https://sslbl.abuse.ch/blacklist/sslblacklist.csv",
        format="csv",
        parsing_rules={
            "comment_prefix": "#",
            "header": False,
            "fieldnames": ["Listingdate", "SHA1", "Listingreason"],
            "columns": {
                "value": "SHA1",
                "first_seen": "Listingdate",
                "description": "Listingreason",
            },
            "kind": "sha1",
            "tags": ["x509-certificate"],
        },
        update_frequency_minutes=60,
        default_confidence=85,
        source_reliability=85,
        kinds=(Kind.SHA1,),
        tags=("c2", "x509", "hash"),
        licence=ABUSE_CH_TERMS,
        description="SHA1 fingerprints of TLS certificates used by botnet C2 servers; the "
        "listing reason (e.g. 'AsyncRAT C&C') is the description.",
        notes="These are certificate fingerprints, not file hashes: match them against TLS "
        "logs (the x509-certificate tag says so).",
        credential=ABUSE_CH_AUTH,
    ),
    FeedTemplate(
        name="sslbl-ips",
        title="SSLBL botnet C2 IP blacklist",
        provider="abuse.ch",
        homepage="https://sslbl.abuse.ch/",
        url="https://sslbl.abuse.ch/blacklist/sslipblacklist.csv",
        format="csv",
        parsing_rules={
            "comment_prefix": "#",
            "header": False,
            "fieldnames": ["Firstseen", "DstIP", "DstPort"],
            "columns": {"value": "DstIP", "first_seen": "Firstseen"},
            "kind": "ipv4",
            "tags": ["botnet-c2"],
        },
        update_frequency_minutes=60,
        default_confidence=80,
        source_reliability=85,
        kinds=(Kind.IPV4,),
        tags=("botnet", "c2", "ip"),
        licence=ABUSE_CH_TERMS,
        description="IPs of botnet C2 servers seen with a blacklisted SSL certificate.",
        notes="abuse.ch has been retiring parts of SSLBL; if this URL answers 404, use "
        "feodotracker or threatfox instead.",
        credential=ABUSE_CH_AUTH,
    ),
    FeedTemplate(
        name="malwarebazaar",
        title="MalwareBazaar recent samples (CSV, last 48 hours)",
        provider="abuse.ch",
        homepage="https://bazaar.abuse.ch/",
        url="https://bazaar.abuse.ch/export/csv/recent/",
        format="text",
        parsing_rules={
            # The CSV writes `", "` between fields, which a CSV reader without
            # skip-initial-space reads as quoted text; a regex over the line reads it exactly.
            # Columns: first_seen_utc, sha256, md5, sha1, reporter, file_name, file_type_guess,
            # mime_type, signature ("n/a" when unknown), clamav, ...
            "comment_prefix": "#",
            "regex": (
                r'^"(?P<first_seen>[^"]*)"'
                + _SEP
                + r'"(?P<value>[0-9A-Fa-f]{64})"'
                + (_SEP + _Q) * 4
                + _SEP
                + r'"(?P<file_type>[^"]*)"'
                + _SEP
                + _Q
                + _SEP
                + r'"(?:n/a|(?P<malware_family>[^"]*))"'
            ),
            "kind": "sha256",
            "tags": ["malware-sample"],
        },
        update_frequency_minutes=60,
        default_confidence=90,
        source_reliability=90,
        kinds=(Kind.SHA256,),
        tags=("malware", "hash"),
        licence=ABUSE_CH_TERMS,
        description="SHA256 of malware samples submitted in the last 48 hours, with the "
        "signature (malware family) when known and the file type in extra.",
        credential=ABUSE_CH_AUTH,
    ),
    FeedTemplate(
        name="spamhaus-drop",
        title="Spamhaus DROP (Don't Route Or Peer), IPv4",
        provider="Spamhaus",
        homepage="https://www.spamhaus.org/blocklists/do-not-route-or-peer/",
        url="https://www.spamhaus.org/drop/drop.txt",
        format="text",
        parsing_rules={
            "comment_prefix": ";",
            "regex": r"^(?P<value>" + _IP_OR_CIDR + r")\s*(?:;\s*(?P<sbl>SBL\d+))?",
            "kind": "cidr",
            "tags": ["hijacked-netblock"],
        },
        update_frequency_minutes=720,
        default_confidence=95,
        source_reliability=95,
        kinds=(Kind.CIDR,),
        tags=("netblock", "ip"),
        licence="Free for use to protect your own network; no redistribution. "
        "https://www.spamhaus.org/drop/",
        description="Netblocks hijacked or leased by professional spam and cybercrime "
        "operations; each line is 'CIDR ; SBL id' (the SBL id goes to extra).",
        notes="Spamhaus asks that DROP be fetched at most once an hour; it changes slowly.",
    ),
    FeedTemplate(
        name="spamhaus-drop-v6",
        title="Spamhaus DROP, IPv6",
        provider="Spamhaus",
        homepage="https://www.spamhaus.org/blocklists/do-not-route-or-peer/",
        url="https://www.spamhaus.org/drop/dropv6.txt",
        format="text",
        parsing_rules={
            "comment_prefix": ";",
            "regex": r"^(?P<value>" + _IP_OR_CIDR + r")\s*(?:;\s*(?P<sbl>SBL\d+))?",
            "kind": "cidr",
            "tags": ["hijacked-netblock"],
        },
        update_frequency_minutes=720,
        default_confidence=95,
        source_reliability=95,
        kinds=(Kind.CIDR,),
        tags=("netblock", "ip", "ipv6"),
        licence="Free for use to protect your own network; no redistribution. "
        "https://www.spamhaus.org/drop/",
        description="The IPv6 part of DROP, same layout as spamhaus-drop.",
    ),
    FeedTemplate(
        name="spamhaus-edrop",
        title="Spamhaus EDROP (extended DROP)",
        provider="Spamhaus",
        homepage="https://www.spamhaus.org/blocklists/do-not-route-or-peer/",
        url="https://www.spamhaus.org/drop/edrop.txt",
        format="text",
        parsing_rules={
            "comment_prefix": ";",
            "regex": r"^(?P<value>" + _IP_OR_CIDR + r")\s*(?:;\s*(?P<sbl>SBL\d+))?",
            "kind": "cidr",
            "tags": ["hijacked-netblock"],
        },
        update_frequency_minutes=720,
        default_confidence=90,
        source_reliability=95,
        kinds=(Kind.CIDR,),
        tags=("netblock", "ip"),
        licence="Free for use to protect your own network; no redistribution. "
        "https://www.spamhaus.org/drop/",
        description="Netblocks controlled by spammers or cyber criminals but not hijacked.",
        notes="Spamhaus merged EDROP into DROP in 2024; the file may be empty or retired. "
        "Enable spamhaus-drop instead unless you know it is still published.",
    ),
    FeedTemplate(
        name="et-compromised-ips",
        title="Emerging Threats compromised IPs",
        provider="Proofpoint Emerging Threats",
        homepage="https://rules.emergingthreats.net/",
        url="https://rules.emergingthreats.net/blockrules/compromised-ips.txt",
        format="text",
        parsing_rules={"comment_prefix": "#", "kind": "ipv4", "tags": ["compromised-host"]},
        update_frequency_minutes=720,
        default_confidence=60,
        source_reliability=75,
        kinds=(Kind.IPV4,),
        tags=("compromised", "ip"),
        licence="Emerging Threats open ruleset terms (free, BSD-style for the open set).",
        description="Hosts seen compromised or acting maliciously; one IPv4 per line.",
    ),
    FeedTemplate(
        name="openphish",
        title="OpenPhish community feed",
        provider="OpenPhish",
        homepage="https://openphish.com/",
        url="https://openphish.com/feed.txt",
        format="text",
        parsing_rules={"comment_prefix": "#", "kind": "url", "tags": ["phishing"]},
        update_frequency_minutes=360,
        default_confidence=80,
        source_reliability=80,
        kinds=(Kind.URL,),
        tags=("phishing", "url"),
        licence="Community feed free for non-commercial use; see https://openphish.com/terms.html.",
        description="Phishing URLs, one per line.",
        notes="The community feed's terms restrict commercial use; check them before enabling.",
    ),
    FeedTemplate(
        name="blocklist-de",
        title="blocklist.de all attackers",
        provider="blocklist.de",
        homepage="https://www.blocklist.de/",
        url="https://lists.blocklist.de/lists/all.txt",
        format="text",
        parsing_rules={"comment_prefix": "#", "tags": ["attacker"]},
        update_frequency_minutes=180,
        default_confidence=55,
        source_reliability=65,
        kinds=(Kind.IPV4, Kind.IPV6),
        tags=("brute-force", "scanner", "ip"),
        licence="Free to use; see https://www.blocklist.de/en/index.html.",
        description="IPs reported in the last 48 hours for SSH, mail, web, FTP and other "
        "attacks by fail2ban users; IPv4 and IPv6 mixed.",
        notes="Reports are automatic; expect short-lived and shared (NAT, cloud) addresses.",
    ),
    FeedTemplate(
        name="ipsum",
        title="IPsum (all levels)",
        provider="stamparm/ipsum",
        homepage="https://github.com/stamparm/ipsum",
        url="https://raw.githubusercontent.com/stamparm/ipsum/master/ipsum.txt",
        format="text",
        parsing_rules={
            "comment_prefix": "#",
            # `IP<TAB>count`: count is how many blocklists list the IP; it goes to extra.
            "regex": r"^(?P<value>[0-9.]+)\s+(?P<lists>\d+)\s*$",
            "kind": "ipv4",
        },
        update_frequency_minutes=1440,
        default_confidence=45,
        source_reliability=60,
        kinds=(Kind.IPV4,),
        tags=("aggregate", "ip"),
        licence="The Unlicense.",
        description="Daily aggregate of 30+ public blocklists; each IP with the number of "
        "lists naming it (in extra as 'lists'). About 120,000 IPs.",
        notes="Level 1 (one list) is noisy; ipsum-level3 keeps IPs on three lists or more.",
    ),
    FeedTemplate(
        name="ipsum-level3",
        title="IPsum level 3 (on 3+ blocklists)",
        provider="stamparm/ipsum",
        homepage="https://github.com/stamparm/ipsum",
        url="https://raw.githubusercontent.com/stamparm/ipsum/master/levels/3.txt",
        format="text",
        parsing_rules={"comment_prefix": "#", "kind": "ipv4"},
        update_frequency_minutes=1440,
        default_confidence=70,
        source_reliability=70,
        kinds=(Kind.IPV4,),
        tags=("aggregate", "ip"),
        licence="The Unlicense.",
        description="IPs that at least three public blocklists agree on; one per line.",
    ),
    FeedTemplate(
        name="firehol-level1",
        title="FireHOL level 1",
        provider="FireHOL",
        homepage="https://iplists.firehol.org/?ipset=firehol_level1",
        url="https://raw.githubusercontent.com/firehol/blocklist-ipsets/master/firehol_level1.netset",
        format="text",
        parsing_rules={"comment_prefix": "#"},
        update_frequency_minutes=360,
        default_confidence=70,
        source_reliability=75,
        kinds=(Kind.CIDR, Kind.IPV4),
        tags=("aggregate", "netblock", "ip"),
        licence="Aggregates lists with their own terms (DShield, Feodo, Spamhaus DROP, "
        "fullbogons …); check each before commercial use.",
        description="Netset of CIDRs and IPs safe to block at the perimeter: attacks, "
        "malware, C2 and bogons.",
        notes="It includes bogons and RFC 1918 ranges (10.0.0.0/8, 192.168.0.0/16, "
        "224.0.0.0/3 …) from fullbogons: keep private-range warninglists on, or every "
        "internal address will match.",
    ),
    FeedTemplate(
        name="cins-army",
        title="CINS Army list",
        provider="Sentinel IPS / CINS Score",
        homepage="https://cinsscore.com/",
        url="https://cinsscore.com/list/ci-badguys.txt",
        format="text",
        parsing_rules={"comment_prefix": "#", "kind": "ipv4", "tags": ["attacker"]},
        update_frequency_minutes=360,
        default_confidence=60,
        source_reliability=70,
        kinds=(Kind.IPV4,),
        tags=("scanner", "attacker", "ip"),
        licence="Free to use; see https://cinsscore.com/.",
        description="IPs with a poor Rogue Packet score not already on other major lists.",
    ),
    FeedTemplate(
        name="circl-osint",
        title="CIRCL OSINT MISP feed",
        provider="CIRCL",
        homepage="https://www.circl.lu/doc/misp/feed-osint/",
        url="https://www.circl.lu/doc/misp/feed-osint/manifest.json",
        format="misp",
        # Attributes flagged for detection only: OSINT events carry much context (to_ids
        # false) that would match benign traffic.
        parsing_rules={"to_ids_only": True},
        update_frequency_minutes=1440,
        default_confidence=70,
        source_reliability=80,
        kinds=(
            Kind.IPV4,
            Kind.IPV6,
            Kind.DOMAIN,
            Kind.URL,
            Kind.MD5,
            Kind.SHA1,
            Kind.SHA256,
            Kind.EMAIL,
        ),
        tags=("misp", "osint", "mixed"),
        licence="CC0 / TLP:WHITE OSINT events; see the feed's events for any other marking.",
        description="A MISP feed: manifest.json lists events; each event is <uuid>.json "
        "beside it, fetched when the manifest shows it new or changed.",
    ),
    FeedTemplate(
        name="taxii",
        title="A TAXII 2.1 collection",
        provider="TAXII 2.1 server",
        homepage="https://docs.oasis-open.org/cti/taxii/v2.1/taxii-v2.1.html",
        url="{api_root}/collections/{collection_id}/",
        format="taxii",
        parsing_rules={},
        update_frequency_minutes=60,
        default_confidence=50,
        source_reliability=50,
        source_type=ThreatSourceType.COMMERCIAL,
        kinds=(
            Kind.IPV4,
            Kind.IPV6,
            Kind.CIDR,
            Kind.DOMAIN,
            Kind.URL,
            Kind.MD5,
            Kind.SHA1,
            Kind.SHA256,
            Kind.SHA512,
            Kind.EMAIL,
        ),
        tags=("taxii", "stix"),
        licence="Set by the server's operator.",
        description="Any TAXII 2.1 collection: its STIX 2.1 indicators and observables, paged "
        "with 'next' and resumed with added_after. The feed's URL is the collection's, "
        "{api_root}/collections/{collection_id}/.",
        parameters=(
            TemplateParameter(
                name="api_root",
                description="the API root URL, e.g. https://taxii.example.org/api1",
                kind="url",
            ),
            TemplateParameter(
                name="collection_id",
                description="the collection's id (a UUID, as the server lists it)",
                pattern=r"[A-Za-z0-9._~:-]{1,200}",
            ),
        ),
        credential=TemplateCredential(
            types=("bearer", "basic", "header"),
            description="what the server's operator issued: a bearer token (sent as "
            "'Authorization: Bearer <token>'), or a user name and password for HTTP basic",
        ),
    ),
    # --- Community lists built from the feeds above ---------------------------------------
    FeedTemplate(
        name="maltrail",
        title="Maltrail static trail",
        provider="stamparm/maltrail",
        homepage="https://github.com/stamparm/maltrail",
        url="https://raw.githubusercontent.com/stamparm/maltrail/master/trails/static/{trail}.txt",
        format="text",
        parsing_rules={
            # Blocks of `# Reference: <url>` then one trail per line: domain, IP, ip:port,
            # URL, or host/path without scheme; trailing spaces occur. A trail that is only a
            # path (`/wp-content/x.php`, matched by Maltrail on any host) is no indicator and
            # is skipped.
            "comment_prefix": "#",
            "regex": r"^\s*(?P<value>[^\s#/][^\s#]*)",
            "skip_unmatched": True,
            "tags": ["maltrail"],
        },
        parameter_rules={"malware_family": "{family}"},
        update_frequency_minutes=1440,
        default_confidence=70,
        source_reliability=75,
        kinds=(Kind.DOMAIN, Kind.IPV4, Kind.URL),
        tags=("malware", "mixed"),
        licence="MIT (each trail file: see the repository's LICENSE).",
        description="One Maltrail trail file (e.g. malware/emotet, malicious/sliver): "
        "domains, IPs, ip:port and URLs from public reports.",
        parameters=(
            TemplateParameter(
                name="trail",
                description="the trail under trails/static, e.g. malware/emotet",
                kind="path",
                pattern=r"(?:malware|malicious|suspicious)/[a-z0-9_.-]+",
            ),
            TemplateParameter(
                name="family",
                description="malware family to record for every value, e.g. Emotet",
                required=False,
            ),
        ),
    ),
    FeedTemplate(
        name="blocklistproject",
        title="The Block List Project (hosts file)",
        url="https://blocklistproject.github.io/Lists/{list}.txt",
        format="text",
        parsing_rules={
            "comment_prefix": "#",
            "regex": r"^(?:0\.0\.0\.0|127\.0\.0\.1)\s+(?P<value>[^\s#]+)",
            "kind": "domain",
        },
        description="A hosts-format list, one '0.0.0.0 domain' per line.",
        **_BLOCKLIST_PROJECT,
    ),
    FeedTemplate(
        name="blocklistproject-adguard",
        title="The Block List Project (AdGuard syntax)",
        url="https://blocklistproject.github.io/Lists/adguard/{list}-ags.txt",
        format="text",
        parsing_rules={
            "comment_prefix": "!",
            "regex": r"^\|\|(?P<value>[^\^/$\s]+)\^",
            "kind": "domain",
        },
        description="The same lists in AdGuard filter syntax, one '||domain^' per line.",
        **_BLOCKLIST_PROJECT,
    ),
    FeedTemplate(
        name="urlhaus-filter",
        title="urlhaus-filter online (uBlock Origin syntax)",
        provider="malware-filter (curbengh)",
        homepage="https://gitlab.com/malware-filter/urlhaus-filter",
        url="https://malware-filter.gitlab.io/malware-filter/urlhaus-filter-online.txt",
        format="text",
        parsing_rules={
            # Bare hosts (domain or IPv4), then `||host/path$all` for URLs whose host is
            # shared; the value is the host or the schemeless URL.
            "comment_prefix": "!",
            "regex": r"^(?:\|\|)?(?P<value>[^\s$^|]+)",
            "tags": ["malware-distribution"],
        },
        update_frequency_minutes=720,
        default_confidence=70,
        source_reliability=75,
        kinds=(Kind.DOMAIN, Kind.IPV4, Kind.URL),
        tags=("malware-distribution", "domain", "url"),
        licence="CC0 (lists); source data abuse.ch URLhaus, CC0.",
        description="URLhaus online entries as a browser filter: hosts whose every URL is "
        "malicious, and host/path for the rest.",
    ),
    FeedTemplate(
        name="urlhaus-filter-rpz",
        title="urlhaus-filter online (DNS RPZ zone)",
        provider="malware-filter (curbengh)",
        homepage="https://gitlab.com/malware-filter/urlhaus-filter",
        url="https://malware-filter.gitlab.io/malware-filter/urlhaus-filter-rpz-online.conf",
        format="text",
        parsing_rules={
            # BIND zone: `;` comments, $TTL / SOA / NS records skipped, `<domain> CNAME .`.
            "comment_prefix": ";",
            "regex": r"^(?P<value>[^\s;@$]+)\s+CNAME\s+\.\s*$",
            "skip_unmatched": True,
            "kind": "domain",
            "tags": ["malware-distribution"],
        },
        update_frequency_minutes=720,
        default_confidence=70,
        source_reliability=75,
        kinds=(Kind.DOMAIN,),
        tags=("malware-distribution", "domain", "rpz"),
        licence="CC0 (lists); source data abuse.ch URLhaus, CC0.",
        description="The domains of urlhaus-filter as a Response Policy Zone.",
    ),
    FeedTemplate(
        name="threatfox-ips",
        title="ThreatFox IOC IPs (community mirror)",
        provider="elliotwutingfeng/ThreatFox-IOC-IPs",
        homepage="https://github.com/elliotwutingfeng/ThreatFox-IOC-IPs",
        url="https://raw.githubusercontent.com/elliotwutingfeng/ThreatFox-IOC-IPs/main/ips.txt",
        format="text",
        parsing_rules={"comment_prefix": "#", "kind": "ipv4", "tags": ["threatfox"]},
        update_frequency_minutes=1440,
        default_confidence=65,
        source_reliability=70,
        kinds=(Kind.IPV4,),
        tags=("c2", "ip"),
        licence="Repository BSD-3-Clause; IPs from abuse.ch ThreatFox, CC0.",
        description="Every IP in ThreatFox's IOCs, one per line, without context; prefer the "
        "threatfox template when the confidence and malware family matter.",
    ),
)

_BY_NAME: Final = {template.name: template for template in _TEMPLATES}


def build_credential(
    template: FeedTemplate,
    *,
    secret: str,
    username: str | None = None,
    kind: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The ``authentication_config`` for ``template``'s provider from one secret.

    The secret is the header or query value, the bearer token, or with ``username`` the
    basic password. ``kind`` picks among the types the template accepts (basic when a user
    name is given, else the usual one); ``name`` overrides the header or parameter name.
    The result is checked when it is stored.
    """
    accepted = template.credential.types if template.credential is not None else ()
    if kind is None:
        if not accepted and name is None:
            raise Invalid(
                "auth_key",
                f"the {template.name} template takes no credential; set one on its source "
                "with a type (header, bearer, basic or query)",
            )
        kind = "basic" if username is not None else accepted[0] if accepted else "header"
    if kind == "basic":
        if username is None:
            raise Invalid("username", "a basic credential needs a user name")
        return {"type": "basic", "username": username, "password": secret}
    if username is not None:
        raise Invalid("username", f"a {kind} credential takes no user name")
    if kind == "bearer":
        return {"type": "bearer", "token": secret}
    if kind in ("header", "query"):
        chosen = name or (template.credential.name if template.credential else None)
        if not chosen:
            raise Invalid("auth_name", f"say which {kind} the secret is sent in")
        return {"type": kind, "name": chosen, "value": secret}
    raise Invalid("auth_type", "must be header, bearer, basic or query")


def list_templates() -> list[FeedTemplate]:
    """Every built-in template, in catalogue order."""
    return list(_TEMPLATES)


def get_template(name: str) -> FeedTemplate:
    """The template called ``name``; raises ``NotFound`` naming the closest ones."""
    key = name.strip().lower()
    template = _BY_NAME.get(key)
    if template is not None:
        return template
    close = difflib.get_close_matches(key, _BY_NAME, n=3, cutoff=0.5)
    close += [n for n in _BY_NAME if key and (key in n or n in key) and n not in close]
    hint = (
        f"did you mean {', '.join(close[:3])}?"
        if close
        else f"known templates: {', '.join(_BY_NAME)}"
    )
    raise NotFound(f"No feed template called {name!r}; {hint}", template=name)
