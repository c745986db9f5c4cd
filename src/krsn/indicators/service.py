"""The indicator store for people: search, one indicator with its records, and an analyst's
edits (false positive, tags, confidence, the status of its records). Batch lookup is
:mod:`krsn.indicators.lookup`."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute, Session

from krsn.db.pagination import MAX_LIMIT, PageResult
from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid, NotFound
from krsn.feeds.models import IntelligenceStatus, ThreatFeed, ThreatIntelligence, ThreatSource
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators import scoring
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator
from krsn.indicators.normalise import Indicator, Kind, normalise
from krsn.indicators.refang import refang
from krsn.sharing import tlp as tlps

MAX_TAG_LENGTH = 100
MAX_TAGS_PER_EDIT = 100
EDITABLE = frozenset(
    {"false_positive", "tags_add", "tags_remove", "confidence_override", "status", "tlp"}
)
ANALYST_STATUSES = frozenset({IntelligenceStatus.VERIFIED, IntelligenceStatus.PROCESSED})


# --- search ---------------------------------------------------------------------------------

MAX_SEARCH_TAGS = 20
# Every sorted column may hold NULL (ingestion always fills them, older or hand-made rows may
# not); see search_indicators for how those rows are paged.
_SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "updated": ThreatIndicator.updated_at,
    "last_seen": ThreatIndicator.last_seen_at,
    "first_seen": ThreatIndicator.first_seen_at,
    "threat_score": ThreatIndicator.threat_score,
    "confidence": ThreatIndicator.confidence_score,
}
SORTS = tuple(order for name in _SORT_COLUMNS for order in (name, f"-{name}"))
"""Every order of a search: a field ascending, or descending with a leading ``-``."""
DEFAULT_SORT = "-updated"
# Scores are 0..100; PostgreSQL casts a bound score to NUMERIC(5, 2), which stops below 1000.
_SCORE_LIMIT = Decimal(1000)


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _ids_named(
    session: Session,
    given: str,
    *,
    id_column: InstrumentedAttribute[uuid.UUID],
    name_column: InstrumentedAttribute[str],
    field: str,
    noun: str,
) -> list[uuid.UUID]:
    """The ids of the rows with this id or this name, in any case; ``Invalid`` when none."""
    text = given.strip()
    # The exact name too: SQLite's lower() folds ASCII only, so 'Ä' would miss itself.
    match = or_(name_column == text, func.lower(name_column) == text.lower())
    as_id = _as_uuid(text)
    if as_id is not None:
        match = or_(match, id_column == as_id)
    ids = list(session.scalars(select(id_column).where(match)))
    if not ids:
        raise Invalid(field, f"no {noun} has the name or id {given!r}")
    return ids


def _has_record(column: InstrumentedAttribute[Any], ids: list[uuid.UUID]) -> ColumnElement[bool]:
    """The indicator has an intelligence record whose ``column`` is one of ``ids``."""
    return (
        select(ThreatIntelligence.id)
        .where(ThreatIntelligence.indicator_id == ThreatIndicator.id, column.in_(ids))
        .exists()
    )


def _list_holds(dialect: str, key: str, wanted: Sequence[str]) -> list[ColumnElement[bool]]:
    """Conditions that the list ``metadata[key]`` holds every wanted string."""
    if dialect == "postgresql":
        # Containment: one condition for all of them, which a GIN index on metadata can serve.
        return [type_coerce(ThreatIndicator.metadata_, JSONB)[key].contains(list(wanted))]
    conditions: list[ColumnElement[bool]] = []
    for item in wanted:
        each = func.json_each(ThreatIndicator.metadata_, f"$.{key}").table_valued("value")
        conditions.append(select(literal(1)).select_from(each).where(each.c.value == item).exists())
    return conditions


def _search_terms(field: str, given: Sequence[str]) -> list[str]:
    terms = [given] if isinstance(given, str) else list(given)
    if len(terms) > MAX_SEARCH_TAGS:
        raise Invalid(field, f"at most {MAX_SEARCH_TAGS} per search")
    cleaned = [term.strip() for term in terms]
    if not all(cleaned):
        raise Invalid(field, "must not be empty")
    return cleaned


def search_prefixes(q: str) -> list[str]:
    """What values starting with ``q`` start with: ``q`` refanged and lower-cased, and its
    canonical form when it reads as a whole value (URL paths keep their case there)."""
    typed = refang(q.strip())
    found = {typed.lower()}
    result = normalise(typed)
    if isinstance(result, Indicator):
        found.add(result.value)
    return sorted(prefix for prefix in found if prefix)


def indicator_query(
    session: Session,
    *,
    indicator_type: IndicatorType | None = None,
    severity: Severity | None = None,
    is_active: bool | None = None,
    source: str | None = None,
    feed: str | None = None,
    tags: Sequence[str] = (),
    malware_family: str | None = None,
    q: str | None = None,
    first_seen_after: datetime | None = None,
    first_seen_before: datetime | None = None,
    last_seen_after: datetime | None = None,
    last_seen_before: datetime | None = None,
) -> Select[Any]:
    """Indicators matching every filter given.

    ``source`` and ``feed`` (a name or an id) keep indicators with a record from them; every
    tag of ``tags`` and ``malware_family`` must be on the indicator exactly as stored; ``q``
    is a prefix of the value, defanged or not; ``*_after`` bounds are inclusive, ``*_before``
    ones exclusive. An unknown source or feed is ``Invalid`` rather than an empty answer.
    """
    statement = select(ThreatIndicator)
    if indicator_type is not None:
        statement = statement.where(ThreatIndicator.indicator_type == indicator_type)
    if severity is not None:
        statement = statement.where(ThreatIndicator.severity == severity)
    if is_active is not None:
        statement = statement.where(ThreatIndicator.is_active.is_(is_active))
    if source is not None:
        ids = _ids_named(
            session,
            source,
            id_column=ThreatSource.id,
            name_column=ThreatSource.name,
            field="source",
            noun="threat source",
        )
        statement = statement.where(_has_record(ThreatIntelligence.source_id, ids))
    if feed is not None:
        ids = _ids_named(
            session,
            feed,
            id_column=ThreatFeed.id,
            name_column=ThreatFeed.feed_name,
            field="feed",
            noun="feed",
        )
        statement = statement.where(_has_record(ThreatIntelligence.feed_id, ids))
    dialect = session.get_bind().dialect.name
    if tags:
        statement = statement.where(*_list_holds(dialect, "tags", _search_terms("tag", tags)))
    if malware_family is not None:
        (family,) = _search_terms("malware_family", [malware_family])
        statement = statement.where(*_list_holds(dialect, "malware_families", [family]))
    prefixes = search_prefixes(q) if q else []
    if prefixes:
        statement = statement.where(
            or_(*(ThreatIndicator.indicator_value.startswith(p, autoescape=True) for p in prefixes))
        )
    for column, after, before in (
        (ThreatIndicator.first_seen_at, first_seen_after, first_seen_before),
        (ThreatIndicator.last_seen_at, last_seen_after, last_seen_before),
    ):
        if after is not None:
            statement = statement.where(column >= after)
        if before is not None:
            statement = statement.where(column < before)
    return statement


def _write_cursor(sort: str, value: Any, row_id: uuid.UUID) -> str:
    plain = value.isoformat() if isinstance(value, datetime) else value
    text = json.dumps([sort, None if plain is None else str(plain), str(row_id)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_cursor(
    cursor: str, *, sort: str, column: InstrumentedAttribute[Any]
) -> tuple[Any, uuid.UUID]:
    """The sort value (None past the rows that have one) and the id a cursor ends after;
    ``Invalid`` for anything not issued here."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(raw, list) and len(raw) == 3):
            raise ValueError("wrong shape")
        issued_for, plain, row_id = raw
        if not (isinstance(issued_for, str) and isinstance(row_id, str)):
            raise ValueError("wrong shape")
        value: Any = None
        if plain is None:
            pass
        elif column.type.python_type is datetime:
            moment = datetime.fromisoformat(plain)
            value = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        else:
            value = Decimal(plain)
            # Past what the score's column type holds, PostgreSQL would refuse the cast.
            if not (value.is_finite() and -_SCORE_LIMIT < value < _SCORE_LIMIT):
                raise ValueError("out of range")
        found = uuid.UUID(row_id)
    except (ValueError, TypeError, OverflowError, InvalidOperation):
        raise Invalid("cursor", "not a cursor this API issued; start again without it") from None
    if issued_for != sort:
        raise Invalid("cursor", "issued for another sort order; start again without it")
    return value, found


def search_indicators(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = DEFAULT_SORT,
    **filters: Any,
) -> PageResult[ThreatIndicator]:
    """A page of the indicators :func:`indicator_query` finds, in ``sort`` order.

    ``sort`` is one of :data:`SORTS`, most recently changed first by default; indicators
    missing the sorted time or score come last in either direction.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    column = _SORT_COLUMNS.get(sort.removeprefix("-"))
    if column is None:
        raise Invalid("sort", f"must be one of {', '.join(SORTS)}")
    descending = sort.startswith("-")
    after = _read_cursor(cursor, sort=sort, column=column) if cursor else None
    statement = indicator_query(session, **filters)
    total = session.scalar(select(func.count()).select_from(statement.subquery()))

    def beyond(expression: Any, value: Any) -> ColumnElement[bool]:
        return expression < value if descending else expression > value

    def by(expression: Any) -> Any:
        return expression.desc() if descending else expression.asc()

    # Two runs, each in index order: the rows with a value, then those without (by id). The
    # engines put NULLs at opposite ends and keyset comparisons cannot reach them, and sorting
    # on a COALESCE instead would leave the columns' indexes unused.
    rows: list[ThreatIndicator] = []
    if after is None or after[0] is not None:
        valued = statement.where(column.is_not(None))
        if after is not None:
            value, last_id = after
            # (column, id) beyond (value, last_id), spelled out: row values differ by engine.
            valued = valued.where(
                or_(
                    beyond(column, value),
                    and_(column == value, beyond(ThreatIndicator.id, last_id)),
                )
            )
        rows = list(
            session.scalars(valued.order_by(by(column), by(ThreatIndicator.id)).limit(limit + 1))
        )
    if len(rows) <= limit:
        missing = statement.where(column.is_(None))
        if after is not None and after[0] is None:
            missing = missing.where(beyond(ThreatIndicator.id, after[1]))
        rows.extend(
            session.scalars(missing.order_by(by(ThreatIndicator.id)).limit(limit + 1 - len(rows)))
        )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _write_cursor(sort, getattr(last, column.key), last.id)
    return PageResult(items=rows, total=int(total or 0), limit=limit, next_cursor=next_cursor)


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
        "tlp": meta.get(tlps.TLP_KEY),
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
    ``processed``, for the indicator's intelligence records) and ``tlp`` (a TLP 2.0 level,
    or None to unmark it; kept in ``metadata.tlp``). Analyst edits live in
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
    if "tlp" in changes:
        level = tlps.parse_tlp(changes["tlp"])
        if level is None:
            meta.pop(tlps.TLP_KEY, None)
        else:
            meta[tlps.TLP_KEY] = level
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
