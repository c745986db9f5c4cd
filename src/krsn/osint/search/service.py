"""Full-text search over entities, documents, audit logs and indicators.

One function, :func:`search`, on both engines (see :mod:`krsn.osint.search.backends`).
Ranking is bounded by design: each index hands over at most :data:`CANDIDATES` matching
rows (the first the index yields, with filters applied in the same query) and only those
are ranked, so a word in a fifth of a million documents costs what a rare one does. The
answer says so (``approximate``, ``ranked_of``, ``total_estimate``).

Entities and indicators are also looked up whole (the name, the value, and the canonical
form of an IOC, so ``hxxp://evil[.]com`` finds ``http://evil.com``); entity names are
searched for substrings, and when that finds too little, for near misses of a mistyped
name: pieces of the query found as substrings, ranked by similarity.
"""

from __future__ import annotations

import difflib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from krsn.errors import Invalid
from krsn.identity.models import AuditLog
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import Indicator, normalise
from krsn.osint.models import Entity, RawDocument
from krsn.osint.search import query as query_language
from krsn.osint.search.backends import Backend, backend_for
from krsn.osint.search.schema import AUDIT_LOGS, DOCUMENTS, ENTITIES, INDICATORS, Indexed
from krsn.osint.search.schemas import (
    Fragment,
    MatchKind,
    SearchHit,
    SearchIndex,
    SearchResult,
)

# Rows each index may hand over for ranking; beyond it, ranking is approximate.
CANDIDATES = 200
# Entities a substring or a fuzzy piece may bring.
SUBSTRING_CANDIDATES = 100
FUZZY_THRESHOLD = 0.75
MAX_LIMIT = 100
MIN_SUBSTRING_CHARS = 3
MAX_SUBSTRING_CHARS = 200

_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
# Hits are ordered by how they matched, then by their rank within that kind.
_TIER = {MatchKind.EXACT: 3.0, MatchKind.WORDS: 2.0, MatchKind.SUBSTRING: 1.0, MatchKind.FUZZY: 0}


@dataclass(frozen=True, slots=True)
class _Index:
    name: SearchIndex
    spec: Indexed
    type_column: str
    risk_column: str | None
    date_column: str
    tagged: bool


_INDICES = {
    SearchIndex.ENTITIES: _Index(
        SearchIndex.ENTITIES, ENTITIES, "entity_type", "risk_score", "last_seen", True
    ),
    SearchIndex.DOCUMENTS: _Index(
        SearchIndex.DOCUMENTS, DOCUMENTS, "document_type", None, "created_at", False
    ),
    SearchIndex.AUDIT_LOGS: _Index(
        SearchIndex.AUDIT_LOGS, AUDIT_LOGS, "resource_type", None, "created_at", False
    ),
    SearchIndex.INDICATORS: _Index(
        SearchIndex.INDICATORS, INDICATORS, "indicator_type", "threat_score", "last_seen_at", True
    ),
}


@dataclass(slots=True)
class _Candidate:
    index: SearchIndex
    id: uuid.UUID
    match: MatchKind
    rank: float
    substring: str | None = None


@dataclass(slots=True)
class _Filters:
    type: str | None = None
    tag: str | None = None
    min_risk: float | None = None
    max_risk: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    collection_id: uuid.UUID | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def sql(self, index: _Index, backend: Backend) -> str | None:
        """The filters as SQL over ``t``, or None when ``index`` cannot satisfy them."""
        conditions: list[str] = []
        if self.type is not None:
            conditions.append(f"t.{index.type_column} = :f_type")
        if self.tag is not None:
            if not index.tagged:
                return None
            conditions.append(backend.tag_condition(index.spec, "f_tag"))
        if self.min_risk is not None or self.max_risk is not None:
            if index.risk_column is None:
                return None
            if self.min_risk is not None:
                conditions.append(f"t.{index.risk_column} >= :f_min_risk")
            if self.max_risk is not None:
                conditions.append(f"t.{index.risk_column} <= :f_max_risk")
        if self.since is not None:
            conditions.append(f"t.{index.date_column} >= :f_since")
        if self.until is not None:
            conditions.append(f"t.{index.date_column} < :f_until")
        if self.collection_id is not None:
            if index.name is not SearchIndex.DOCUMENTS:
                return None
            conditions.append("t.collection_id = :f_collection")
        return " AND ".join(conditions)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def search(
    session: Session,
    *,
    q: str,
    indices: Sequence[SearchIndex] = tuple(SearchIndex),
    type: str | None = None,
    tag: str | None = None,
    min_risk: float | None = None,
    max_risk: float | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    collection_id: uuid.UUID | None = None,
    limit: int = 20,
) -> SearchResult:
    """The best ``limit`` hits for ``q`` in ``indices``, filtered; see the module docstring.

    ``type`` is the entity, document or indicator type or the audited resource type;
    ``min_risk``/``max_risk`` bound an entity's risk score or an indicator's threat score
    (so they leave documents and audit logs out); ``since`` is inclusive, ``until`` not.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    if min_risk is not None and max_risk is not None and min_risk > max_risk:
        raise Invalid("min_risk", "must not exceed max_risk")
    if since is not None and until is not None and since >= until:
        raise Invalid("since", "must be before until")
    # NUL cannot be stored in PostgreSQL text nor quoted in FTS5; no name holds controls.
    q = _CONTROLS.sub(" ", q)
    parsed = query_language.parse(q)
    backend = backend_for(session)
    filters = _Filters(type, tag, min_risk, max_risk, since, until, collection_id)
    params = _filter_params(filters, session.get_bind().dialect.name)
    chosen = list(dict.fromkeys(indices))
    candidates: list[_Candidate] = []
    ranked_of = total = 0
    approximate = False
    for name in chosen:
        index = _INDICES[name]
        where = filters.sql(index, backend)
        if where is None or (parsed.empty and not q.strip()):
            continue
        found = _candidates(session, backend, index, parsed, q, where, params, limit)
        candidates += found.hits
        ranked_of += found.ranked
        total += found.total
        approximate = approximate or found.approximate
    best = _best(candidates, limit)
    hits = _hits(session, best, parsed)
    return SearchResult(
        query=_describe(parsed),
        indices=chosen,
        items=hits,
        ranked_of=ranked_of,
        total_estimate=max(total, len(hits)),
        approximate=approximate,
        truncated=parsed.truncated,
    )


def _stored_time(value: datetime, dialect: str) -> Any:
    """A time as the engine stores it: SQLite compares naive UTC text."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if dialect == "postgresql":
        return aware
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _filter_params(filters: _Filters, dialect: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if filters.type is not None:
        params["f_type"] = filters.type
    if filters.tag is not None:
        params["f_tag"] = filters.tag
    if filters.min_risk is not None:
        params["f_min_risk"] = filters.min_risk
    if filters.max_risk is not None:
        params["f_max_risk"] = filters.max_risk
    if filters.since is not None:
        params["f_since"] = _stored_time(filters.since, dialect)
    if filters.until is not None:
        params["f_until"] = _stored_time(filters.until, dialect)
    if filters.collection_id is not None:
        collection = filters.collection_id
        params["f_collection"] = str(collection) if dialect == "postgresql" else collection.hex
    return params


def _describe(parsed: query_language.Query) -> str:
    parts = [('"' if len(t.tokens) > 1 else "") for t in parsed.required]
    described = [
        f"{quote}{' '.join(term.tokens)}{quote}{'*' if term.prefix else ''}"
        for quote, term in zip(parts, parsed.required, strict=True)
    ]
    described += [
        f"-{chr(34) if len(t.tokens) > 1 else ''}{' '.join(t.tokens)}"
        f"{chr(34) if len(t.tokens) > 1 else ''}"
        for t in parsed.excluded
    ]
    return " ".join(described)


@dataclass(slots=True)
class _Found:
    hits: list[_Candidate] = field(default_factory=list)
    ranked: int = 0
    total: int = 0
    approximate: bool = False


def _candidates(
    session: Session,
    backend: Backend,
    index: _Index,
    parsed: query_language.Query,
    raw: str,
    where: str,
    params: dict[str, Any],
    limit: int,
) -> _Found:
    found = _Found()
    seen: set[uuid.UUID] = set()

    def add(row_id: Any, match: MatchKind, rank: float, substring: str | None = None) -> None:
        key = _uuid(row_id)
        if key not in seen:
            seen.add(key)
            found.hits.append(_Candidate(index.name, key, match, rank, substring))

    if index.name in (SearchIndex.ENTITIES, SearchIndex.INDICATORS):
        for row_id in _exact(session, index, raw, where, params):
            add(row_id, MatchKind.EXACT, 1.0)
    if not parsed.empty:
        ranked = backend.words(
            session, index.spec, parsed, filters=where, params=params, limit=CANDIDATES
        )
        found.ranked = len(ranked)
        if len(ranked) < CANDIDATES:
            found.total = len(ranked)
        else:
            found.approximate = True
            found.total = max(backend.estimate(session, index.spec, parsed), len(ranked))
        for row_id, rank in ranked:
            add(row_id, MatchKind.WORDS, rank / (1.0 + abs(rank)))
    needle = raw.strip().strip('"').strip().casefold()[:MAX_SUBSTRING_CHARS]
    exact = any(hit.match is MatchKind.EXACT for hit in found.hits)
    # Partial names only when the name was not found whole and words left room; near
    # misses only when nothing matched at all (a mistyped name).
    if (
        index.name is SearchIndex.ENTITIES
        and parsed.single_word is not None
        and len(needle) >= MIN_SUBSTRING_CHARS
        and not exact
        and len(found.hits) < limit
    ):
        for row_id in backend.substring(
            session, needle, filters=where, params=params, limit=SUBSTRING_CANDIDATES
        ):
            add(row_id, MatchKind.SUBSTRING, 0.0, needle)
        if not found.hits:
            _fuzzy(session, backend, needle, where, params, add)
    return found


def _exact(
    session: Session, index: _Index, raw: str, where: str, params: dict[str, Any]
) -> list[Any]:
    typed = raw.strip().strip('"').strip()
    if not typed or len(typed) > 2048:
        return []
    forms = {typed, typed.casefold()}
    canonical = normalise(typed)
    if isinstance(canonical, Indicator):
        forms.add(canonical.value)
    values = {f"v{i}": form for i, form in enumerate(sorted(forms))}
    marks = ", ".join(f":{name}" for name in values)
    if index.name is SearchIndex.ENTITIES:
        condition = f"(t.name IN ({marks}) OR t.normalized_name IN ({marks}))"
    else:
        condition = f"t.indicator_value IN ({marks})"
    extra = f" AND {where}" if where else ""
    sql = f"SELECT t.id FROM {index.spec.table} t WHERE {condition}{extra} LIMIT 20"  # noqa: S608
    return [row[0] for row in session.execute(text(sql), {**params, **values})]


def _pieces(needle: str) -> list[str]:
    """Parts of a mistyped name of which one survives any single typo (two when in thirds)."""
    if len(needle) >= 9:
        third = len(needle) // 3
        return [needle[:third], needle[third : 2 * third], needle[2 * third :]]
    if len(needle) >= 6:
        half = len(needle) // 2
        return [needle[:half], needle[half:]]
    return []


def _fuzzy(
    session: Session,
    backend: Backend,
    needle: str,
    where: str,
    params: dict[str, Any],
    add: Any,
) -> None:
    ids: list[Any] = []
    for piece in _pieces(needle):
        ids += backend.substring(
            session, piece, filters=where, params=params, limit=SUBSTRING_CANDIDATES
        )
    if not ids:
        return
    unique = list(dict.fromkeys(_uuid(i) for i in ids))
    rows = session.execute(select(Entity.id, Entity.name).where(Entity.id.in_(unique))).all()
    for row_id, name in rows:
        score = _similarity(needle, name.casefold())
        if score >= FUZZY_THRESHOLD:
            add(row_id, MatchKind.FUZZY, score)


def _similarity(needle: str, name: str) -> float:
    """How close ``needle`` is to the name or to its closest part of the same length."""
    best = difflib.SequenceMatcher(None, needle, name).ratio()
    if len(name) > len(needle):
        matcher = difflib.SequenceMatcher(None, needle, "")
        width = len(needle)
        for start in range(0, len(name) - width + 1):
            for size in (width - 1, width, width + 1):
                matcher.set_seq2(name[start : start + size])
                best = max(best, matcher.ratio())
    return best


def _best(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    candidates.sort(key=lambda c: _TIER[c.match] + c.rank, reverse=True)
    return candidates[:limit]


# --- shaping the hits -----------------------------------------------------------------------


def _hits(
    session: Session, best: list[_Candidate], parsed: query_language.Query
) -> list[SearchHit]:
    by_index: dict[SearchIndex, list[uuid.UUID]] = {}
    for candidate in best:
        by_index.setdefault(candidate.index, []).append(candidate.id)
    shaped: dict[tuple[SearchIndex, uuid.UUID], dict[str, Any]] = {}
    for name, ids in by_index.items():
        for key, row in _rows(session, name, ids).items():
            shaped[(name, key)] = row
    hits: list[SearchHit] = []
    for candidate in best:
        row = shaped.get((candidate.index, candidate.id))
        if row is None:
            continue
        body = row.pop("body")
        pieces = query_language.fragments(body, parsed, substring=candidate.substring)
        hits.append(
            SearchHit(
                index=candidate.index,
                id=candidate.id,
                match=candidate.match,
                score=round(_TIER[candidate.match] + candidate.rank, 6),
                snippet=query_language.snippet_html(pieces),
                fragments=[Fragment(text=p.text, match=p.match) for p in pieces],
                **row,
            )
        )
    return hits


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


def _rows(session: Session, name: SearchIndex, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found: dict[uuid.UUID, Any] = {}
    if name is SearchIndex.ENTITIES:
        for e in session.execute(select(Entity).where(Entity.id.in_(ids))).scalars():
            found[e.id] = {
                "title": e.name,
                "type": _value(e.entity_type),
                "field": "name",
                "body": e.name,
                "risk": float(e.risk_score) if e.risk_score is not None else None,
                "tags": list(e.tags or []),
                "seen_at": e.last_seen,
            }
    elif name is SearchIndex.INDICATORS:
        for i in session.execute(
            select(ThreatIndicator).where(ThreatIndicator.id.in_(ids))
        ).scalars():
            found[i.id] = {
                "title": i.indicator_value,
                "type": _value(i.indicator_type),
                "field": "indicator_value",
                "body": i.indicator_value,
                "risk": float(i.threat_score) if i.threat_score is not None else None,
                "tags": list((i.metadata_ or {}).get("tags") or []),
                "seen_at": i.last_seen_at,
            }
    elif name is SearchIndex.DOCUMENTS:
        for d in session.execute(select(RawDocument).where(RawDocument.id.in_(ids))).scalars():
            title = str((d.metadata_ or {}).get("title") or d.source or d.document_type or "")
            found[d.id] = {
                "title": title or (d.content or "")[:80],
                "type": d.document_type,
                "field": "content",
                "body": d.content or "",
                "seen_at": d.created_at,
            }
    else:
        for a in session.execute(select(AuditLog).where(AuditLog.id.in_(ids))).scalars():
            parts = [a.resource_type or "", a.resource_id or "", a.ip_address or ""]
            details = json.dumps(a.details, ensure_ascii=False) if a.details else ""
            found[a.id] = {
                "title": a.action,
                "type": a.resource_type,
                "field": "details",
                "body": " ".join(p for p in [a.action, *parts, details] if p),
                "seen_at": a.created_at,
            }
    return found
