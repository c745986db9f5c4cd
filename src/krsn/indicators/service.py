"""Reading the indicator store: search, one indicator with its records, batch lookup."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.errors import Invalid, NotFound
from krsn.feeds.models import ThreatIntelligence, ThreatSource
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator
from krsn.indicators.normalise import Indicator, Kind, normalise

MAX_LOOKUP = 10_000


def indicator_query(
    *,
    indicator_type: IndicatorType | None = None,
    severity: Severity | None = None,
    is_active: bool | None = None,
    q: str | None = None,
    seen_after: datetime | None = None,
    seen_before: datetime | None = None,
) -> Select[Any]:
    """Indicators matching the filters; ``q`` is a prefix of the canonical value."""
    statement = select(ThreatIndicator)
    if indicator_type is not None:
        statement = statement.where(ThreatIndicator.indicator_type == indicator_type)
    if severity is not None:
        statement = statement.where(ThreatIndicator.severity == severity)
    if is_active is not None:
        statement = statement.where(ThreatIndicator.is_active.is_(is_active))
    if q:
        statement = statement.where(
            ThreatIndicator.indicator_value.startswith(q.strip().lower(), autoescape=True)
        )
    if seen_after is not None:
        statement = statement.where(ThreatIndicator.last_seen_at >= seen_after)
    if seen_before is not None:
        statement = statement.where(ThreatIndicator.last_seen_at < seen_before)
    return statement


def search_indicators(
    session: Session, *, limit: int = 50, cursor: str | None = None, **filters: Any
) -> PageResult[ThreatIndicator]:
    """A page of indicators, most recently seen first."""
    return paginate(
        session,
        indicator_query(**filters),
        order_by=[ThreatIndicator.updated_at, ThreatIndicator.id],
        limit=limit,
        cursor=cursor,
    )


def get_indicator(session: Session, key: str) -> ThreatIndicator:
    """An indicator by id, or by any spelling of its value (defanged included)."""
    try:
        found = session.get(ThreatIndicator, uuid.UUID(key))
    except ValueError:
        result = normalise(key)
        if not isinstance(result, Indicator):
            raise Invalid("indicator", result.reason) from None
        found = session.scalar(
            select(ThreatIndicator).where(ThreatIndicator.hash_signature == result.signature)
        )
    if found is None:
        raise NotFound(f"No indicator {key!r}.")
    return found


def intelligence_of(session: Session, indicator_id: uuid.UUID) -> list[dict[str, Any]]:
    """What each source said about an indicator."""
    rows = session.execute(
        select(ThreatIntelligence, ThreatSource.name)
        .outerjoin(ThreatSource, ThreatSource.id == ThreatIntelligence.source_id)
        .where(ThreatIntelligence.indicator_id == indicator_id)
        .order_by(ThreatIntelligence.ingested_at)
    )
    return [
        {
            "id": str(record.id),
            "source": name,
            "status": record.status.value,
            "source_confidence": float(record.source_confidence)
            if record.source_confidence is not None
            else None,
            "ingested_at": record.ingested_at,
            "processed_data": record.processed_data,
            "raw_data": record.raw_data,
        }
        for record, name in rows
    ]


@dataclass
class LookupHit:
    value: str
    matched: str
    """The stored value that matched: the same value, or a CIDR range holding the IP."""
    indicator: ThreatIndicator


def lookup(session: Session, *, values: list[str]) -> tuple[list[LookupHit], list[str]]:
    """Which observables are known active indicators: exact values and IPs inside ranges.

    Returns the hits and the values that could not be read as indicators.
    """
    if len(values) > MAX_LOOKUP:
        raise Invalid("values", f"at most {MAX_LOOKUP} per request; split the batch")
    wanted: dict[str, list[str]] = {}
    ips: dict[str, ipaddress.IPv4Address | ipaddress.IPv6Address] = {}
    unreadable: list[str] = []
    for value in values:
        result = normalise(value)
        if not isinstance(result, Indicator):
            unreadable.append(value)
            continue
        wanted.setdefault(result.signature, []).append(value)
        if result.kind in (Kind.IPV4, Kind.IPV6):
            ips[value] = ipaddress.ip_address(result.value)
    hits: list[LookupHit] = []
    if wanted:
        for indicator in session.scalars(
            select(ThreatIndicator).where(
                ThreatIndicator.hash_signature.in_(list(wanted)),
                ThreatIndicator.is_active.is_(True),
            )
        ):
            hits.extend(
                LookupHit(v, indicator.indicator_value, indicator)
                for v in wanted[indicator.hash_signature]
            )
    if ips:
        # Ranges are few next to single values; a range index comes with the lookup benchmark.
        ranges = session.scalars(
            select(ThreatIndicator).where(
                ThreatIndicator.indicator_type == IndicatorType.IP,
                ThreatIndicator.indicator_value.contains("/"),
                ThreatIndicator.is_active.is_(True),
            )
        ).all()
        networks = [(ipaddress.ip_network(r.indicator_value), r) for r in ranges]
        for value, address in ips.items():
            hits.extend(
                LookupHit(value, row.indicator_value, row)
                for network, row in networks
                if address.version == network.version and address in network
            )
    return hits, unreadable
