"""Risk scores of entities: 0..100 from documented factors, with the history of why.

Each factor has a value in 0..1 and a weight in points; its contribution is ``weight × value``
and the score is the sum of contributions, rounded and capped at 100. The weights do not add up
to 100 on purpose: each strong factor alone places an entity in a band (a sanctions match alone
is *high*, a linked indicator scored 95 alone is *critical*), and together they saturate.

============== ====== ==========================================================================
factor         weight value
============== ====== ==========================================================================
indicator       80    the linked threat indicator's ``threat_score`` / 100 (halved if inactive)
sanctions       60    1 when the entity's properties say it is sanctioned (a ``public_db`` match)
watchlist       40    1 when an active, unexpired watchlist item raises alerts for its value
proximity       30    the highest score among 1-hop neighbours that are high-risk (≥ 51) / 100:
                      entities by their risk score, indicators by their threat score, threat
                      actors and campaigns count as 80
sources         10    corroboration: the summed reliability of the distinct sources it came
                      from, divided by 3 and capped at 1 (unknown reliability counts 0.5)
============== ====== ==========================================================================

Levels: low 0–25, medium 26–50, high 51–75, critical 76–100. Every computation that changes an
entity's score, and every first or on-demand one, appends a ``risk_scores`` row with the factors
(``[{factor, weight, value, contribution, evidence}]``) and sets ``entities.risk_score``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.detection.watchlists import matching
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.normalise import Indicator, normalise
from krsn.osint.entities.names import ENTITY_TYPE, INDICATOR_TYPE
from krsn.osint.models import (
    CollectionItem,
    EdgeRelation,
    Entity,
    EntityRelationship,
    EntitySource,
    EntityType,
    NodeKind,
    RiskLevel,
    RiskScore,
    Source,
)

METHOD: Final = "krsn-risk-v1"
BATCH = 500

WEIGHTS: Final[dict[str, int]] = {
    "indicator": 80,
    "sanctions": 60,
    "watchlist": 40,
    "proximity": 30,
    "sources": 10,
}
HIGH_RISK: Final = 51
"""Neighbours at or above this score (the *high* band) count for proximity."""
ACTOR_RISK: Final = 80
"""What a threat actor or campaign neighbour counts as: they carry no score of their own."""
CORROBORATION: Final = 3.0
"""Summed source reliability at which the sources factor is full."""
UNKNOWN_RELIABILITY: Final = 0.5
# Property names a public_db record uses to say an entity is sanctioned.
_SANCTION_FLAGS: Final = ("sanctioned", "is_sanctioned")
_SANCTION_LISTS: Final = ("sanctions", "sanction_lists", "programs")

ENTITIES = cast(Table, Entity.__table__)
SCORES = cast(Table, RiskScore.__table__)


def level_of(score: int) -> RiskLevel:
    """The band of a score: low 0–25, medium 26–50, high 51–75, critical 76–100."""
    if score >= 76:
        return RiskLevel.CRITICAL
    if score >= 51:
        return RiskLevel.HIGH
    if score >= 26:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


@dataclass(slots=True)
class Factor:
    """One factor of one computation."""

    factor: str
    value: float
    evidence: Any = None

    @property
    def weight(self) -> int:
        return WEIGHTS[self.factor]

    @property
    def contribution(self) -> float:
        return round(self.weight * self.value, 2)

    def as_json(self) -> dict[str, Any]:
        """The shape stored in ``risk_scores.factors``."""
        return {
            "factor": self.factor,
            "weight": self.weight,
            "value": round(self.value, 4),
            "contribution": self.contribution,
            "evidence": self.evidence,
        }


@dataclass(slots=True)
class Assessment:
    """A computed score of one entity with its factors."""

    entity_id: uuid.UUID
    factors: list[Factor] = field(default_factory=list)

    @property
    def score(self) -> int:
        return min(100, max(0, round(sum(f.contribution for f in self.factors))))

    @property
    def level(self) -> RiskLevel:
        return level_of(self.score)


def _sanctions(properties: dict[str, Any]) -> Factor:
    flags = [name for name in _SANCTION_FLAGS if properties.get(name) is True]
    lists = [name for name in _SANCTION_LISTS if properties.get(name)]
    topics = properties.get("topics")
    if isinstance(topics, list) and any("sanction" in str(t).lower() for t in topics):
        lists.append("topics")
    if not flags and not lists:
        return Factor("sanctions", 0.0)
    return Factor("sanctions", 1.0, {name: properties.get(name) for name in (*flags, *lists)})


def _watchlist(session: Session, entity_type: EntityType, key: str | None, now: datetime) -> Factor:
    indicator_type = INDICATOR_TYPE.get(entity_type)
    if indicator_type is None or not key:
        return Factor("watchlist", 0.0)
    indicator = normalise(key, expected=indicator_type)
    if not isinstance(indicator, Indicator):
        return Factor("watchlist", 0.0)
    hits = [
        hit
        for hit in matching.hits_of(
            session, kind=indicator.kind.value, canonical=indicator.value, now=now
        )
        if not hit.suppresses
    ]
    if not hits:
        return Factor("watchlist", 0.0)
    return Factor(
        "watchlist",
        1.0,
        [
            {
                "watchlist_id": str(h.watchlist_id),
                "watchlist": h.watchlist_name,
                "item": h.item_value,
            }
            for h in hits[:5]
        ],
    )


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), BATCH):
        yield values[start : start + BATCH]


def assess(
    session: Session, *, entity_ids: Collection[uuid.UUID], now: datetime
) -> list[Assessment]:
    """Compute (without storing) the score and factors of entities, in batched queries."""
    ids = list(dict.fromkeys(entity_ids))
    results: list[Assessment] = []
    for chunk in _chunks(ids):
        results.extend(_assess_chunk(session, chunk, now))
    return results


def _assess_chunk(session: Session, ids: list[uuid.UUID], now: datetime) -> list[Assessment]:
    rows = list(
        session.execute(
            select(
                ENTITIES.c.id,
                ENTITIES.c.entity_type,
                ENTITIES.c.normalized_name,
                ENTITIES.c.properties,
                ENTITIES.c.indicator_id,
            ).where(ENTITIES.c.id.in_(ids))
        )
    )
    linked = [row.indicator_id for row in rows if row.indicator_id is not None]
    indicators: dict[uuid.UUID, Any] = {}
    if linked:
        for found in session.execute(
            select(
                ThreatIndicator.id,
                ThreatIndicator.indicator_value,
                ThreatIndicator.threat_score,
                ThreatIndicator.is_active,
            ).where(ThreatIndicator.id.in_(linked))
        ):
            indicators[found.id] = found

    neighbours = _neighbours(session, [str(i) for i in ids])
    sources = _sources(session, ids)

    out = []
    for row in rows:
        entity_id = row.id
        kind = EntityType(row.entity_type)
        factors = []
        indicator = indicators.get(row.indicator_id) if row.indicator_id else None
        if indicator is not None and indicator.threat_score is not None:
            value = float(indicator.threat_score) / 100
            if not indicator.is_active:
                value /= 2
            factors.append(
                Factor(
                    "indicator",
                    min(1.0, value),
                    {
                        "indicator_id": str(indicator.id),
                        "value": indicator.indicator_value,
                        "threat_score": float(indicator.threat_score),
                        "active": bool(indicator.is_active),
                    },
                )
            )
        else:
            factors.append(Factor("indicator", 0.0))
        factors.append(_sanctions(row.properties or {}))
        factors.append(_watchlist(session, kind, row.normalized_name, now))
        own = str(row.indicator_id) if row.indicator_id else None
        near = [n for n in neighbours.get(str(entity_id), []) if n[1] != own]
        high = [n for n in near if n[2] >= HIGH_RISK]
        if high:
            best = max(high, key=lambda n: n[2])
            factors.append(
                Factor(
                    "proximity",
                    best[2] / 100,
                    [
                        {"kind": k, "id": i, "score": s}
                        for k, i, s in sorted(high, key=lambda n: -n[2])[:5]
                    ],
                )
            )
        else:
            factors.append(Factor("proximity", 0.0))
        mine = sources.get(entity_id, [])
        if mine:
            total = sum(r if r is not None else UNKNOWN_RELIABILITY for _, _, r in mine)
            factors.append(
                Factor(
                    "sources",
                    min(1.0, total / CORROBORATION),
                    [{"source_id": str(s), "name": n, "reliability": r} for s, n, r in mine[:10]],
                )
            )
        else:
            factors.append(Factor("sources", 0.0))
        out.append(Assessment(entity_id, factors))
    return out


def _neighbours(session: Session, ids: list[str]) -> dict[str, list[tuple[str, str, float]]]:
    """Each entity's 1-hop RELATED_TO neighbours as (kind, id, score)."""
    table = EntityRelationship
    pairs: list[tuple[str, str, str]] = []
    for row in session.execute(
        select(table.source_id, table.target_kind, table.target_id).where(
            table.source_kind == NodeKind.ENTITY,
            table.source_id.in_(ids),
            table.relation == EdgeRelation.RELATED_TO,
        )
    ):
        pairs.append(
            (row.source_id, str(getattr(row.target_kind, "value", row.target_kind)), row.target_id)
        )
    for row in session.execute(
        select(table.target_id, table.source_kind, table.source_id).where(
            table.target_kind == NodeKind.ENTITY,
            table.target_id.in_(ids),
            table.relation == EdgeRelation.RELATED_TO,
        )
    ):
        pairs.append(
            (row.target_id, str(getattr(row.source_kind, "value", row.source_kind)), row.source_id)
        )
    scores: dict[tuple[str, str], float] = {}
    by_kind: dict[str, set[str]] = defaultdict(set)
    for _, kind, other in pairs:
        by_kind[kind].add(other)
    entity_ids = [_uuid(i) for i in by_kind.get(NodeKind.ENTITY.value, set())]
    for chunk in _chunks([i for i in entity_ids if i is not None]):
        for entity_id, score in session.execute(
            select(ENTITIES.c.id, ENTITIES.c.risk_score).where(ENTITIES.c.id.in_(chunk))
        ):
            scores[(NodeKind.ENTITY.value, str(entity_id))] = float(score or 0)
    indicator_ids = [_uuid(i) for i in by_kind.get(NodeKind.INDICATOR.value, set())]
    for chunk in _chunks([i for i in indicator_ids if i is not None]):
        for indicator_id, score, active in session.execute(
            select(
                ThreatIndicator.id, ThreatIndicator.threat_score, ThreatIndicator.is_active
            ).where(ThreatIndicator.id.in_(chunk))
        ):
            value = float(score or 0) / (1 if active else 2)
            scores[(NodeKind.INDICATOR.value, str(indicator_id))] = value
    for kind in (NodeKind.ACTOR.value, NodeKind.CAMPAIGN.value):
        for other in by_kind.get(kind, set()):
            scores[(kind, other)] = float(ACTOR_RISK)
    result: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    seen: set[tuple[str, str, str]] = set()
    for mine, kind, other in pairs:
        if (mine, kind, other) in seen or (kind == NodeKind.ENTITY.value and other == mine):
            continue
        seen.add((mine, kind, other))
        score = scores.get((kind, other))
        if score is not None:
            result[mine].append((kind, other, score))
    return result


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _sources(
    session: Session, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str, float | None]]]:
    """The distinct OSINT sources of each entity's items, with their reliability (0..1)."""
    result: dict[uuid.UUID, list[tuple[uuid.UUID, str, float | None]]] = defaultdict(list)
    rows = session.execute(
        select(EntitySource.entity_id, Source.id, Source.name, Source.reliability_score)
        .join(CollectionItem, CollectionItem.id == EntitySource.collection_item_id)
        .join(Source, Source.id == CollectionItem.source_id)
        .where(EntitySource.entity_id.in_(ids))
        .distinct()
    )
    for entity_id, source_id, name, reliability in rows:
        value = None if reliability is None else min(1.0, float(reliability))
        result[entity_id].append((source_id, name, value))
    return result


def rescore(
    session: Session,
    *,
    entity_ids: Collection[uuid.UUID],
    now: datetime | None = None,
    calculated_by: uuid.UUID | None = None,
    force: bool = False,
    cascade: bool = True,
) -> list[Assessment]:
    """Recompute and store the scores of entities: a history row when the score changed, when
    the entity was never scored, or always with ``force`` (an analyst asked). With
    ``cascade``, the neighbours of an entity that became or stopped being high-risk are
    rescored too: their proximity factor just changed."""
    now = now or utcnow()
    assessments = assess(session, entity_ids=entity_ids, now=now)
    by_id = {a.entity_id: a for a in assessments}
    ids = list(by_id)
    current: dict[uuid.UUID, int] = {}
    scored: set[uuid.UUID] = set()
    for chunk in _chunks(ids):
        for entity_id, risk in session.execute(
            select(ENTITIES.c.id, ENTITIES.c.risk_score).where(ENTITIES.c.id.in_(chunk))
        ):
            current[entity_id] = risk
        scored.update(
            session.execute(
                select(SCORES.c.entity_id).where(SCORES.c.entity_id.in_(chunk)).distinct()
            ).scalars()
        )
    history = []
    changed = []
    for entity_id, assessment in by_id.items():
        score = assessment.score
        if force or entity_id not in scored or current.get(entity_id) != score:
            history.append(
                {
                    "id": uuid.uuid4(),
                    "entity_id": entity_id,
                    "score": score,
                    "level": assessment.level,
                    "factors": [f.as_json() for f in assessment.factors],
                    "calculation_method": METHOD,
                    "calculated_by": calculated_by,
                    "calculated_at": now,
                }
            )
        if current.get(entity_id) != score:
            changed.append({"b_id": entity_id, "risk_score": score, "updated_at": now})
    if history:
        session.execute(SCORES.insert(), history)
    if changed:
        session.execute(
            update(ENTITIES).where(ENTITIES.c.id == bindparam("b_id")),
            changed,
            execution_options={"synchronize_session": False},
        )
    crossed = [
        entity_id
        for entity_id, assessment in by_id.items()
        if (current.get(entity_id, 0) >= HIGH_RISK) != (assessment.score >= HIGH_RISK)
    ]
    if cascade and crossed:
        # One hop only, to bound the work: a neighbour that crosses the line in turn moves
        # its own neighbours at their next rescore.
        # Neighbours scored in this same call read the old score too, so they go again.
        near = neighbours_of(session, entity_ids=crossed)
        if near:
            rescore(session, entity_ids=near, now=now, cascade=False)
    return assessments


def rescore_all(
    session: Session,
    *,
    now: datetime | None = None,
    calculated_by: uuid.UUID | None = None,
    progress: Any = None,
) -> int:
    """Rescore every entity in batches (``progress(done, total)`` after each); how many."""
    ids = list(session.execute(select(ENTITIES.c.id).order_by(ENTITIES.c.id)).scalars())
    for start in range(0, len(ids), BATCH):
        rescore(
            session, entity_ids=ids[start : start + BATCH], now=now, calculated_by=calculated_by
        )
        if progress is not None:
            progress(min(start + BATCH, len(ids)), len(ids))
    return len(ids)


def neighbours_of(session: Session, *, entity_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Entities one RELATED_TO edge away: whose proximity factor a change here can move."""
    text_ids = [str(i) for i in entity_ids]
    table = EntityRelationship
    found: set[uuid.UUID] = set()
    for chunk in _chunks(text_ids):
        rows = session.execute(
            select(table.source_kind, table.source_id, table.target_kind, table.target_id).where(
                table.relation == EdgeRelation.RELATED_TO,
                or_(
                    (table.source_kind == NodeKind.ENTITY) & table.source_id.in_(chunk),
                    (table.target_kind == NodeKind.ENTITY) & table.target_id.in_(chunk),
                ),
            )
        )
        for row in rows:
            for kind, node in ((row.source_kind, row.source_id), (row.target_kind, row.target_id)):
                if kind == NodeKind.ENTITY and node not in chunk:
                    parsed = _uuid(node)
                    if parsed is not None:
                        found.add(parsed)
    return found


def rescore_listed(session: Session, *, values: Iterable[tuple[IndicatorType, str]]) -> int:
    """Rescore the entities whose type and canonical value a watchlist change names (an
    item added, changed or removed): their watchlist factor moved. Entities only covered
    by an item (a subdomain of a listed domain, an address in a listed range) wait for
    their next rescore. How many were rescored."""
    from krsn.osint.entities.resolution import find

    keys = {
        (kind.value, value)
        for indicator_type, value in values
        if (kind := ENTITY_TYPE.get(indicator_type)) is not None
    }
    if not keys or session.execute(select(ENTITIES.c.id).limit(1)).first() is None:
        return 0
    entity_ids = set(find(session, keys).values())
    if entity_ids:
        rescore(session, entity_ids=entity_ids)
    return len(entity_ids)
