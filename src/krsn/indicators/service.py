"""The indicator store for people: search, one indicator with its records, batch lookup, and
an analyst's edits (false positive, tags, confidence, the status of its records)."""

from __future__ import annotations

import copy
import ipaddress
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid, NotFound
from krsn.feeds.models import IntelligenceStatus, ThreatIntelligence, ThreatSource
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators import scoring
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator
from krsn.indicators.normalise import Indicator, Kind, normalise

MAX_LOOKUP = 10_000
MAX_TAG_LENGTH = 100
MAX_TAGS_PER_EDIT = 100
EDITABLE = frozenset({"false_positive", "tags_add", "tags_remove", "confidence_override", "status"})
ANALYST_STATUSES = frozenset({IntelligenceStatus.VERIFIED, IntelligenceStatus.PROCESSED})


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
        found, is_id = session.get(ThreatIndicator, uuid.UUID(key)), True
    except ValueError:
        found, is_id = None, False
    if found is None:
        # 32 hex digits read as a UUID too, yet are an MD5 hash: then look for the value.
        result = normalise(key)
        if not isinstance(result, Indicator):
            if is_id:
                raise NotFound(f"No indicator {key!r}.")
            raise Invalid("indicator", result.reason)
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


# --- an analyst's edits ---------------------------------------------------------------------


def _kind(indicator: ThreatIndicator) -> Kind:
    """The fine kind: kept in the metadata at ingestion, else read again from the value."""
    stored = (indicator.metadata_ or {}).get("kind")
    if stored:
        return Kind(stored)
    result = normalise(indicator.indicator_value)
    if not isinstance(result, Indicator):
        raise Conflict(f"The stored value {indicator.indicator_value!r} is not readable.")
    return result.kind


def _tags(field: str, given: Any) -> list[str]:
    if not isinstance(given, list | tuple | set | frozenset):
        raise Invalid(field, "must be a list of tags")
    if len(given) > MAX_TAGS_PER_EDIT:
        raise Invalid(field, f"at most {MAX_TAGS_PER_EDIT} tags per edit")
    tags: list[str] = []
    for raw in given:
        if not isinstance(raw, str):
            raise Invalid(field, "tags are strings")
        tag = raw.strip()
        if not tag:
            raise Invalid(field, "a tag must not be empty")
        if len(tag) > MAX_TAG_LENGTH:
            raise Invalid(field, f"a tag has at most {MAX_TAG_LENGTH} characters")
        if not tag.isprintable():
            raise Invalid(field, f"{tag[:40]!r}: control characters are not allowed")
        try:
            tag.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid(field, f"{tag[:40]!r} is not valid text") from None
        if tag not in tags:
            tags.append(tag)
    return tags


def _confidence(given: Any) -> float | None:
    if given is None:
        return None
    if isinstance(given, bool) or not isinstance(given, int | float):
        raise Invalid("confidence_override", "must be a number from 0 to 100, or null")
    value = float(given)
    if not 0.0 <= value <= 100.0:  # NaN fails this too
        raise Invalid("confidence_override", "must be from 0 to 100")
    return round(value, 2)


def _status(given: Any) -> IntelligenceStatus:
    try:
        status = IntelligenceStatus(given)
    except ValueError:
        status = None
    if status not in ANALYST_STATUSES:
        allowed = ", ".join(sorted(s.value for s in ANALYST_STATUSES))
        raise Invalid(
            "status", f"must be one of {allowed} (mark false positives with false_positive)"
        )
    assert status is not None
    return status


def _feed_tags(records: list[ThreatIntelligence]) -> set[str]:
    """The tags the sources gave, as their records keep them."""
    tags: set[str] = set()
    for record in records:
        data = record.processed_data
        if isinstance(data, dict) and isinstance(data.get("tags"), list):
            tags.update(str(t) for t in data["tags"])
    return tags


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _state(indicator: ThreatIndicator, records: list[ThreatIntelligence]) -> dict[str, Any]:
    """What an edit may change, in audit form."""
    meta = indicator.metadata_ or {}
    return {
        "is_active": indicator.is_active,
        "severity": indicator.severity,
        "confidence_score": _number(indicator.confidence_score),
        "threat_score": _number(indicator.threat_score),
        "tags": list(meta.get("tags") or []),
        "analyst": copy.deepcopy(meta.get("analyst") or {}),
        "intelligence_status": {str(r.id): r.status.value for r in records},
    }


def update_indicator(
    session: Session,
    *,
    actor: Actor,
    key: str,
    changes: Mapping[str, Any],
    now: datetime | None = None,
) -> ThreatIndicator:
    """Apply an analyst's edits to an indicator and audit them with old and new values.

    ``changes`` may hold ``false_positive`` (bool), ``tags_add`` and ``tags_remove`` (lists),
    ``confidence_override`` (0–100, or None to clear it) and ``status`` (``verified`` or
    ``processed``, for the indicator's intelligence records). Analyst edits live in
    ``metadata.analyst``, which ingestion keeps (see :mod:`krsn.indicators.store`).
    """
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise Invalid(unknown[0], "cannot be edited")
    now = now or utcnow()
    indicator = get_indicator(session, key)
    kind = _kind(indicator)
    records = list(
        session.scalars(
            select(ThreatIntelligence)
            .where(ThreatIntelligence.indicator_id == indicator.id)
            .order_by(ThreatIntelligence.ingested_at, ThreatIntelligence.id)
        )
    )
    before = _state(indicator, records)
    meta: dict[str, Any] = copy.deepcopy(indicator.metadata_ or {})
    analyst: dict[str, Any] = dict(meta.get("analyst") or {})
    was_false_positive = bool(analyst.get("false_positive"))

    added = _tags("tags_add", changes["tags_add"]) if changes.get("tags_add") is not None else []
    removed = (
        _tags("tags_remove", changes["tags_remove"])
        if changes.get("tags_remove") is not None
        else []
    )
    both = set(added) & set(removed)
    if both:
        raise Invalid("tags_remove", f"{sorted(both)[0]!r} is also in tags_add")
    status = _status(changes["status"]) if changes.get("status") is not None else None
    false_positive = changes.get("false_positive")
    if false_positive is not None and not isinstance(false_positive, bool):
        raise Invalid("false_positive", "must be true or false")
    becomes_false_positive = was_false_positive if false_positive is None else false_positive
    if status is not None and becomes_false_positive:
        raise Conflict(
            "This indicator is marked a false positive; unmark it (false_positive: false) "
            "before setting the status of its records."
        )

    # Tags: the analyst's own list, merged into the tags the feeds gave.
    if added or removed:
        analyst_tags = list(analyst.get("tags") or [])
        tags = list(meta.get("tags") or [])
        feed_tags = _feed_tags(records)
        for tag in removed:
            if tag in analyst_tags:
                analyst_tags.remove(tag)
                if tag not in feed_tags and tag in tags:
                    tags.remove(tag)
            elif tag in tags:
                raise Invalid(
                    "tags_remove", f"{tag!r} was reported by a feed; only analyst tags can go"
                )
        for tag in added:
            if tag not in analyst_tags:
                analyst_tags.append(tag)
            if tag not in tags:
                tags.append(tag)
        if analyst_tags:
            analyst["tags"] = sorted(analyst_tags)
        else:
            analyst.pop("tags", None)
        meta["tags"] = sorted(tags)

    if "confidence_override" in changes:
        override = _confidence(changes["confidence_override"])
        if override is None:
            analyst.pop("confidence_override", None)
        else:
            analyst["confidence_override"] = override

    if false_positive is True and not was_false_positive:
        analyst["false_positive"] = {
            "by": str(actor.user_id) if actor.user_id else None,
            "via": actor.via,
            "at": now.isoformat(),
        }
    elif false_positive is False:
        analyst.pop("false_positive", None)

    if analyst:
        meta["analyst"] = analyst
    else:
        meta.pop("analyst", None)
    score = scoring.explain(
        kind,
        dict(meta.get("sources") or {}),
        malware_families=list(meta.get("malware_families") or []),
        confidence_override=analyst.get("confidence_override"),
    )
    meta["score"] = score
    indicator.metadata_ = meta
    indicator.confidence_score = Decimal(str(score["confidence"]))
    indicator.threat_score = Decimal(str(score["threat_score"]))
    indicator.severity = Severity(str(score["severity"]))

    if becomes_false_positive:
        indicator.is_active = False
        for record in records:
            record.status = IntelligenceStatus.FALSE_POSITIVE
    elif was_false_positive:
        # Back to what ingestion would make it: active unless a warninglist stops it or
        # it is unseen past its lifetime.
        expired = indicator.last_seen_at is not None and now >= scoring.expires_at(
            kind, indicator.last_seen_at
        )
        indicator.is_active = meta.get("suppressed_by") is None and not expired
        for record in records:
            data = record.processed_data if isinstance(record.processed_data, dict) else {}
            if record.status == IntelligenceStatus.FALSE_POSITIVE and not data.get("suppressed_by"):
                record.status = status or IntelligenceStatus.PROCESSED
    if status is not None:
        for record in records:
            data = record.processed_data if isinstance(record.processed_data, dict) else {}
            if not data.get("suppressed_by"):  # a warninglist's verdict stays on its record
                record.status = status
    session.flush()
    old, new = audit.changes(before, _state(indicator, records))
    if new:
        audit.record(
            session,
            actor=actor,
            action="indicator.update",
            resource_type="indicator",
            resource_id=indicator.id,
            old_values=old,
            new_values=new,
            details={"indicator": indicator.indicator_value},
        )
    return indicator
