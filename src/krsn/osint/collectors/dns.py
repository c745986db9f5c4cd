"""DNS for collectors: live questions through dnspython, or answers replayed from zone files.

Both resolvers answer :class:`DnsAnswer` (values as text: names without the trailing dot,
TXT strings joined and decoded) or None when the name or the record type does not exist,
so a collector never tells a live run from a replayed one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.zone

from krsn.errors import Invalid, KrsnError

__all__ = ["DnsAnswer", "DnsError", "DnsResolver", "LiveResolver", "ReplayResolver", "rdata_text"]

log = logging.getLogger(__name__)

_CNAME_HOPS: Final = 8


class DnsError(KrsnError):
    """The DNS could not answer (timeout, no reachable server): not the same as no record."""

    status = 502
    title = "DNS lookup failed"


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """The records of one name and type; ``name`` is the name asked, ``values`` their text."""

    name: str
    rdtype: str
    ttl: int
    values: list[str] = field(default_factory=list)


class DnsResolver(Protocol):
    """What a collector asks DNS through; None means no such name or no such record."""

    def query(self, name: str, rdtype: str) -> DnsAnswer | None:
        """The ``rdtype`` records of ``name``."""
        ...


def rdata_text(rdata: dns.rdata.Rdata) -> str:
    """One record's value as people write it: TXT decoded, names without the final dot."""
    if rdata.rdtype in (dns.rdatatype.TXT, dns.rdatatype.SPF):
        return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
    text = rdata.to_text()
    if rdata.rdtype in (dns.rdatatype.SOA, dns.rdatatype.MX):
        return " ".join(part.rstrip(".") for part in text.split())
    return text.rstrip(".")


class LiveResolver:
    """dnspython's stub resolver, at ``nameservers``:``port`` when given, else the system's."""

    def __init__(
        self,
        *,
        nameservers: list[str] | None = None,
        port: int = 53,
        timeout: float = 5.0,
    ) -> None:
        self._resolver = dns.resolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = list(nameservers)
        self._resolver.port = port
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout * 2
        # A collector wants what the zone says now, not a neighbour's cached copy.
        self._resolver.cache = None

    def query(self, name: str, rdtype: str) -> DnsAnswer | None:
        """The ``rdtype`` records of ``name``; DnsError when no server answers."""
        try:
            answer = self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise DnsError(f"DNS lookup of {rdtype} {name} failed: {exc}", name=name) from exc
        except dns.exception.DNSException as exc:
            raise DnsError(f"DNS lookup of {rdtype} {name} failed: {exc}", name=name) from exc
        if answer.rrset is None:
            return None
        return DnsAnswer(
            name=name,
            rdtype=rdtype,
            ttl=answer.rrset.ttl,
            values=[rdata_text(rdata) for rdata in answer.rrset],
        )


class ReplayResolver:
    """Answers from the zone files (``*.zone``, named after their origin) under ``directory``.

    A name under no loaded zone, or without the asked type, has no answer; a CNAME is followed
    within the loaded zones as a recursive resolver would.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.zones: dict[dns.name.Name, dns.zone.Zone] = {}
        for path in sorted(self.directory.rglob("*.zone")):
            origin = path.name.removesuffix(".zone")
            try:
                zone = dns.zone.from_file(str(path), origin=origin, relativize=False)
            except (OSError, dns.exception.DNSException) as exc:
                raise Invalid("replay", f"{path.name} is not a readable zone file: {exc}") from exc
            self.zones[zone.origin] = zone  # type: ignore[index]
        self.questions: list[tuple[str, str]] = []

    def _zone_of(self, name: dns.name.Name) -> dns.zone.Zone | None:
        best: dns.zone.Zone | None = None
        for origin, zone in self.zones.items():
            if name.is_subdomain(origin) and (best is None or origin.is_subdomain(best.origin)):  # type: ignore[arg-type]
                best = zone
        return best

    def query(self, name: str, rdtype: str) -> DnsAnswer | None:
        """The recorded ``rdtype`` records of ``name``."""
        self.questions.append((name, rdtype))
        wanted = dns.rdatatype.from_text(rdtype)
        current = dns.name.from_text(name)
        for _ in range(_CNAME_HOPS):
            zone = self._zone_of(current)
            if zone is None:
                return None
            node = zone.get_node(current)
            if node is None:
                return None
            found = node.get_rdataset(dns.rdataclass.IN, wanted)
            if found is not None:
                return DnsAnswer(
                    name=name,
                    rdtype=rdtype,
                    ttl=found.ttl,
                    values=[rdata_text(rdata) for rdata in found],
                )
            alias = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if alias is None or wanted == dns.rdatatype.CNAME:
                return None
            current = next(iter(alias)).target
        return None
