"""``domain_intel``: what public records say about one domain.

DNS records (A, AAAA, MX, NS, TXT, SOA, CNAME) through dnspython, the registration through
RDAP (JSON over HTTP; ``rdap.org`` redirects to the registry that holds the domain),
certificate transparency through crt.sh's JSON API, then the subdomains named in those
certificates, each resolved (at most ``max_subdomains``).

Relations: the domain (and each subdomain) RESOLVES_TO its addresses, a subdomain is PART_OF
the domain, an e-mail is PART_OF its domain, mail and name servers are ASSOCIATED_WITH the
domain with ``{"record": "MX"}`` / ``{"record": "NS"}``, the registrant OWNS the domain and the
registrar is ASSOCIATED_WITH it with ``{"role": "registrar"}``.

One part failing (crt.sh is often overloaded) does not stop the others: the run goes on, then
ends with a :class:`CollectorError` naming what failed, after yielding everything it found.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from krsn.errors import KrsnError
from krsn.osint.collectors.base import (
    Collected,
    CollectorContext,
    Observed,
    ObservedRelation,
)
from krsn.osint.collectors.dns import DnsAnswer, DnsResolver, LiveResolver
from krsn.osint.collectors.http import CollectorError, fetch_json
from krsn.osint.collectors.observe import canonical, observe, parse_time, relation, unique
from krsn.osint.models import CollectorType, EntityType, RelationshipType

__all__ = ["Config", "DomainIntelCollector", "DomainIntelConfig"]

log = logging.getLogger(__name__)

RecordType = Literal["A", "AAAA", "MX", "NS", "TXT", "SOA", "CNAME"]
ALL_TYPES: Final[tuple[RecordType, ...]] = ("A", "AAAA", "MX", "NS", "TXT", "SOA", "CNAME")
_ADDRESS_TYPES: Final[tuple[RecordType, ...]] = ("A", "AAAA", "CNAME")
_HOLDER_ROLES: Final = frozenset({"registrant", "registrar", "administrative"})
_REDACTED: Final = ("redacted", "privacy", "not disclosed", "withheld")


class DomainIntelConfig(BaseModel):
    """A ``domain_intel`` collection's config."""

    model_config = ConfigDict(extra="forbid")

    domain: str = Field(description="The domain to investigate, e.g. example.com.")
    record_types: list[RecordType] = Field(
        default_factory=lambda: list(ALL_TYPES), description="DNS record types to ask for."
    )
    rdap: bool = Field(True, description="Ask RDAP for the registration.")
    rdap_url: HttpUrl = Field(
        HttpUrl("https://rdap.org/"),
        description="RDAP base URL; /domain/NAME is appended. rdap.org redirects to the "
        "registry's own server.",
    )
    certificate_transparency: bool = Field(True, description="Search crt.sh for certificates.")
    crtsh_url: HttpUrl = Field(HttpUrl("https://crt.sh/"), description="crt.sh base URL.")
    max_certificates: int = Field(500, ge=0, le=10_000, description="Certificates kept.")
    dns_timeout: float = Field(5.0, gt=0, le=60, description="Seconds to wait for a DNS answer.")
    subdomains: bool = Field(True, description="Resolve the subdomains certificates name.")
    max_subdomains: int = Field(100, ge=0, le=5_000, description="Subdomains resolved, at most.")

    @field_validator("domain")
    @classmethod
    def _canonical_domain(cls, value: str) -> str:
        domain = canonical(EntityType.DOMAIN, value)
        if domain is None:
            raise ValueError(f"{value!r} is not a domain name with a public suffix")
        return domain


def _under(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def _vcard(entity: dict[str, Any]) -> dict[str, str]:
    """The first text value of each vCard property of an RDAP entity (fn, org, email...)."""
    card: dict[str, str] = {}
    array = entity.get("vcardArray")
    if not (isinstance(array, list) and len(array) == 2 and isinstance(array[1], list)):
        return card
    for prop in array[1]:
        if not (isinstance(prop, list) and len(prop) >= 4):
            continue
        name, value = str(prop[0]).lower(), prop[3]
        if isinstance(value, list):
            value = " ".join(str(v) for v in value if v)
        text = str(value).strip()
        if text and name not in card and not any(mark in text.lower() for mark in _REDACTED):
            card[name] = text
    return card


def _rdap_entities(document: dict[str, Any]) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Each (roles, vCard) of an RDAP answer's entities, nested ones (abuse contacts) too."""
    stack = list(document.get("entities") or [])
    while stack:
        entity = stack.pop(0)
        if not isinstance(entity, dict):
            continue
        roles = [str(role).lower() for role in entity.get("roles") or []]
        yield roles, _vcard(entity)
        stack.extend(entity.get("entities") or [])


class DomainIntelCollector:
    """DNS, RDAP and certificate transparency of one domain, and its subdomains."""

    collector_type: ClassVar[CollectorType] = CollectorType.DOMAIN_INTEL
    Config: ClassVar[type[BaseModel]] = DomainIntelConfig
    description: ClassVar[str] = (
        "DNS records, RDAP registration and crt.sh certificates of a domain, and the "
        "subdomains those name, resolved."
    )

    def collect(self, config: BaseModel, context: CollectorContext) -> Iterator[Collected]:
        """Yield the domain's DNS records, RDAP record, certificates and subdomains."""
        assert isinstance(config, DomainIntelConfig)
        resolver: DnsResolver = context.resolver or LiveResolver(
            nameservers=context.nameservers, port=context.dns_port, timeout=config.dns_timeout
        )
        domain = config.domain
        parts = len(config.record_types) + int(config.rdap) + int(config.certificate_transparency)
        total = parts + (config.max_subdomains if config.subdomains else 0)
        done = 0
        failures: list[str] = []
        context.progress(done, total)

        for rdtype in config.record_types:
            context.check()
            try:
                record = self._dns(resolver, domain, rdtype, domain)
            except KrsnError as exc:
                failures.append(f"DNS {rdtype}: {exc.detail}")
                record = None
            if record is not None:
                yield record
            done += 1
            context.progress(done, total)

        if config.rdap:
            context.check()
            try:
                record = self._rdap(context, config, domain)
            except KrsnError as exc:
                log.warning("rdap for %s failed: %s", domain, exc.detail)
                failures.append(f"RDAP: {exc.detail}")
                record = None
            if record is not None:
                yield record
            done += 1
            context.progress(done, total)

        names: set[str] = set()
        if config.certificate_transparency:
            context.check()
            try:
                certificates = self._certificates(context, config, domain)
            except KrsnError as exc:
                log.warning("crt.sh for %s failed: %s", domain, exc.detail)
                failures.append(f"crt.sh: {exc.detail}")
                certificates = []
            for certificate in certificates:
                names.update(
                    o.value
                    for o in certificate.entities
                    if o.entity_type is EntityType.DOMAIN and o.value != domain
                )
                yield certificate
            done += 1
            context.progress(done, total)

        if config.subdomains:
            chosen = sorted(names)[: config.max_subdomains]
            total = parts + len(chosen)
            context.progress(done, total)
            for name in chosen:
                context.check()
                for rdtype in _ADDRESS_TYPES:
                    try:
                        record = self._dns(resolver, name, rdtype, domain)
                    except KrsnError as exc:
                        failures.append(f"DNS {rdtype} {name}: {exc.detail}")
                        break
                    if record is not None:
                        yield record
                done += 1
                context.progress(done, total)

        if failures:
            shown = "; ".join(failures[:3]) + (
                f" (+{len(failures) - 3} more)" * (len(failures) > 3)
            )
            raise CollectorError(f"domain_intel for {domain} was incomplete: {shown}")

    # --- DNS ---------------------------------------------------------------------------

    def _dns(self, resolver: DnsResolver, name: str, rdtype: str, domain: str) -> Collected | None:
        answer = resolver.query(name, rdtype)
        if answer is None or not answer.values:
            return None
        return dns_record(answer, domain)

    # --- RDAP --------------------------------------------------------------------------

    def _rdap(
        self, context: CollectorContext, config: DomainIntelConfig, domain: str
    ) -> Collected | None:
        url = f"{str(config.rdap_url).rstrip('/')}/domain/{domain}"
        document = fetch_json(
            context.client,
            url,
            headers={"Accept": "application/rdap+json, application/json"},
            ok_statuses=(404,),
        )
        if not isinstance(document, dict):
            raise CollectorError(f"RDAP {url} answered {type(document).__name__}, not an object")
        if document.get("errorCode") == 404 or "ldhName" not in document:
            log.info("rdap has no record of %s", domain)
            return None
        return rdap_record(document, domain, url)

    # --- certificate transparency -------------------------------------------------------

    def _certificates(
        self, context: CollectorContext, config: DomainIntelConfig, domain: str
    ) -> list[Collected]:
        url = str(config.crtsh_url)
        rows = fetch_json(
            context.client,
            url,
            params={"q": f"%.{domain}", "output": "json"},
            headers={"Accept": "application/json"},
        )
        if not isinstance(rows, list):
            raise CollectorError(
                f"crt.sh answered {type(rows).__name__}, not a list of certificates"
            )
        certificates: dict[Any, Collected] = {}
        for row in rows:
            if not isinstance(row, dict):
                raise CollectorError("crt.sh answered a certificate that is not an object")
            # crt.sh lists a precertificate and its certificate as two rows of one serial.
            key = row.get("serial_number") or row.get("id")
            if key in certificates:
                continue
            certificates[key] = certificate_record(row, domain, str(config.crtsh_url))
            if len(certificates) >= config.max_certificates:
                break
        return list(certificates.values())


def dns_record(answer: DnsAnswer, domain: str) -> Collected:
    """One name's records of one type as an item, with what they say about the domain."""
    name = answer.name.lower().rstrip(".")
    subject = observe(EntityType.DOMAIN, name)
    parent = observe(EntityType.DOMAIN, domain)
    entities: list[Observed | None] = [subject]
    relations: list[ObservedRelation | None] = []
    if subject is not None and parent is not None and subject != parent:
        entities.append(parent)
        relations.append(relation(subject, parent, RelationshipType.PART_OF, confidence=1.0))
    for value in answer.values:
        if answer.rdtype in ("A", "AAAA"):
            address = observe(EntityType.IP_ADDRESS, value, confidence=1.0)
            entities.append(address)
            relations.append(
                relation(
                    subject,
                    address,
                    RelationshipType.RESOLVES_TO,
                    confidence=1.0,
                    record=answer.rdtype,
                )
            )
        elif answer.rdtype in ("MX", "NS", "CNAME"):
            host = value.split()[-1]
            preference = value.split()[0] if answer.rdtype == "MX" and " " in value else None
            target = observe(EntityType.DOMAIN, host)
            entities.append(target)
            extra: dict[str, Any] = {"record": answer.rdtype}
            if preference and preference.isdigit():
                extra["preference"] = int(preference)
            # An alias points at its canonical name; a mail or name server serves the name.
            ends = (subject, target) if answer.rdtype == "CNAME" else (target, subject)
            relations.append(
                relation(
                    ends[0], ends[1], RelationshipType.ASSOCIATED_WITH, confidence=1.0, **extra
                )
            )
        elif answer.rdtype == "SOA":
            fields = value.split()
            if len(fields) >= 2:
                primary = observe(EntityType.DOMAIN, fields[0])
                # The SOA's responsible mailbox writes the first dot for the @ (RFC 1035).
                local, _, mail_domain = fields[1].partition(".")
                mailbox = observe(EntityType.EMAIL, f"{local}@{mail_domain}")
                mailbox_domain = observe(EntityType.DOMAIN, mail_domain)
                entities += [primary, mailbox, mailbox_domain]
                relations.append(
                    relation(primary, subject, RelationshipType.ASSOCIATED_WITH, record="SOA")
                )
                relations.append(relation(mailbox, mailbox_domain, RelationshipType.PART_OF))
    values = sorted(answer.values)
    return Collected(
        item_type="dns_record",
        raw={"name": name, "type": answer.rdtype, "ttl": answer.ttl, "values": values},
        text="\n".join(f"{name}. {answer.ttl} IN {answer.rdtype} {v}" for v in values),
        title=f"{answer.rdtype} records of {name}",
        entities=unique(entities),
        relations=unique(relations),
        # The TTL counts down in caches: the same records asked twice are one item.
        hash_basis=f"dns|{name}|{answer.rdtype}|{'|'.join(values)}",
    )


def rdap_record(document: dict[str, Any], domain: str, url: str) -> Collected:
    """An RDAP domain answer as an item: registrar, registrant, dates and name servers."""
    subject = observe(EntityType.DOMAIN, str(document.get("ldhName") or domain))
    entities: list[Observed | None] = [subject]
    relations: list[ObservedRelation | None] = []
    lines = [f"Domain: {subject.value if subject else domain}"]
    summary: dict[str, Any] = {}
    for roles, card in _rdap_entities(document):
        name = card.get("fn")
        organisation = card.get("org") or (name if "registrar" in roles else None)
        mailbox = observe(EntityType.EMAIL, card.get("email", ""))
        mailbox_domain = (
            observe(EntityType.DOMAIN, mailbox.value.split("@", 1)[1]) if mailbox else None
        )
        entities += [mailbox, mailbox_domain]
        relations.append(
            relation(mailbox, mailbox_domain, RelationshipType.PART_OF, confidence=1.0)
        )
        role = ",".join(roles) or "contact"
        lines.append(f"{role}: {organisation or name or ''} {card.get('email', '')}".rstrip())
        if not _HOLDER_ROLES.intersection(roles):
            # Abuse and technical contacts are desks, not people: keep their mailboxes only.
            relations.append(
                relation(mailbox, subject, RelationshipType.ASSOCIATED_WITH, role=role)
            )
            continue
        org = observe(EntityType.ORGANIZATION, organisation, roles=roles) if organisation else None
        person = (
            observe(EntityType.PERSON, name, roles=roles, confidence=0.8)
            if name and name != organisation
            else None
        )
        holder = org or person
        entities += [org, person]
        relations.append(relation(person, org, RelationshipType.WORKS_FOR, confidence=0.7))
        relations.append(relation(mailbox, holder, RelationshipType.ASSOCIATED_WITH))
        if "registrant" in roles:
            relations.append(relation(holder, subject, RelationshipType.OWNS, role="registrant"))
            summary.setdefault("registrant", organisation or name)
        else:
            relations.append(relation(holder, subject, RelationshipType.ASSOCIATED_WITH, role=role))
            if "registrar" in roles:
                summary.setdefault("registrar", organisation or name)
    for event in document.get("events") or []:
        if isinstance(event, dict) and event.get("eventAction") and event.get("eventDate"):
            summary[str(event["eventAction"])] = event["eventDate"]
            lines.append(f"{event['eventAction']}: {event['eventDate']}")
    for server in document.get("nameservers") or []:
        host = observe(EntityType.DOMAIN, str((server or {}).get("ldhName", "")))
        entities.append(host)
        relations.append(
            relation(host, subject, RelationshipType.ASSOCIATED_WITH, record="NS", via="rdap")
        )
        if host is not None:
            lines.append(f"nameserver: {host.value}")
    status = document.get("status") or []
    if status:
        lines.append(f"status: {', '.join(str(s) for s in status)}")
    changed = summary.get("last changed") or summary.get("registration")
    return Collected(
        item_type="rdap",
        raw=document,
        text="\n".join(lines),
        url=url,
        title=f"RDAP registration of {domain}",
        published_at=parse_time(changed),
        entities=unique(entities),
        relations=unique(relations),
    )


def certificate_record(row: dict[str, Any], domain: str, base_url: str) -> Collected:
    """A crt.sh certificate row as an item; its names under ``domain`` become entities."""
    parent = observe(EntityType.DOMAIN, domain)
    entities: list[Observed | None] = [parent]
    relations: list[ObservedRelation | None] = []
    raw_names = {str(row.get("common_name") or "")}
    raw_names.update(str(row.get("name_value") or "").split("\n"))
    for raw_name in sorted(n.strip().lower() for n in raw_names if n.strip()):
        if "@" in raw_name:
            mailbox = observe(EntityType.EMAIL, raw_name)
            mailbox_domain = observe(EntityType.DOMAIN, raw_name.split("@", 1)[1])
            entities += [mailbox, mailbox_domain]
            relations.append(relation(mailbox, mailbox_domain, RelationshipType.PART_OF))
            continue
        name = raw_name.removeprefix("*.")
        host = observe(EntityType.DOMAIN, name, confidence=1.0)
        if host is None or not _under(host.value, domain) or host.value == domain:
            continue
        entities.append(host)
        relations.append(relation(host, parent, RelationshipType.PART_OF, confidence=1.0))
    issuer = str(row.get("issuer_name") or "")
    crt_id = row.get("id")
    return Collected(
        item_type="certificate",
        raw=row,
        text=f"Certificate {row.get('serial_number', '')} for {row.get('name_value', '')}\n"
        f"issued by {issuer}\nvalid {row.get('not_before', '')} to {row.get('not_after', '')}",
        url=f"{base_url.rstrip('/')}/?id={crt_id}" if crt_id is not None else None,
        title=f"Certificate for {row.get('common_name') or domain}",
        published_at=parse_time(row.get("not_before") or row.get("entry_timestamp")),
        entities=unique(entities),
        relations=unique(relations),
        hash_basis=f"certificate|{row.get('issuer_ca_id')}|{row.get('serial_number') or crt_id}",
    )


Config = DomainIntelConfig
"""The module's config model, by the name every collector module exports."""
