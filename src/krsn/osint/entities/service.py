"""Entity operations: list, show, merge, split, risk history and rescoring.

Merges and splits are analysts' decisions: each is audited in the same transaction. A merge
moves everything that hangs off the merged entities to the survivor (sources, graph edges,
enrichments, risk history, resolution keys) and deletes them; a split moves chosen source links
to a new entity, with the edges whose evidence is one of those items.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ARRAY, Table, Text, delete, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate_sorted
from krsn.db.types import utcnow
from krsn.enrichment.models import EnrichmentData
from krsn.errors import Conflict, Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.osint.entities.models import EntityAlias
from krsn.osint.entities.names import fold, organisation_key, resolution_key
from krsn.osint.entities.schemas import (
    AliasRead,
    EntityDetail,
    EntityRead,
    LinkedIndicator,
    RiskFactor,
    RiskRead,
    SourceLink,
)
from krsn.osint.graph.edges import EdgeSpec, NodeRef, add_edges, remove_edges, repoint_node
from krsn.osint.models import (
    CollectionItem,
    EdgeRelation,
    Entity,
    EntityRelationship,
    EntitySource,
    EntityType,
    NodeKind,
    RelationshipType,
    RiskScore,
    Source,
)
from krsn.osint.risk.service import level_of, neighbours_of, rescore

SORTS = {
    "risk": Entity.risk_score,
    "name": Entity.normalized_name,
    "last_seen": Entity.last_seen,
    "first_seen": Entity.first_seen,
}
SOURCES_SHOWN = 100
HISTORY_SHOWN = 20


def entity_read(row: Entity) -> EntityRead:
    """The list shape of an entity."""
    return EntityRead(
        id=row.id,
        entity_type=row.entity_type,
        name=row.name,
        normalized_name=row.normalized_name,
        risk_score=row.risk_score,
        risk_level=level_of(row.risk_score or 0),
        confidence=None if row.confidence is None else float(row.confidence),
        tags=row.tags,
        is_verified=row.is_verified,
        indicator_id=row.indicator_id,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
    )


def risk_read(row: RiskScore) -> RiskRead:
    """A risk computation as the API shows it."""
    return RiskRead(
        id=row.id,
        score=row.score,
        level=row.level,
        factors=[RiskFactor.model_validate(f) for f in row.factors or []],
        calculation_method=row.calculation_method,
        calculated_by=row.calculated_by,
        calculated_at=row.calculated_at,
    )


def get_entity(session: Session, entity_id: uuid.UUID) -> Entity:
    """An entity by id, or NotFound."""
    row = session.get(Entity, entity_id)
    if row is None:
        raise NotFound(f"No entity {entity_id}.")
    return row


def page_entities(
    session: Session,
    *,
    limit: int,
    cursor: str | None = None,
    sort: str = "-risk",
    entity_type: EntityType | None = None,
    tag: str | None = None,
    min_risk: int | None = None,
    q: str | None = None,
) -> PageResult[Entity]:
    """A page of entities, filtered by type, tag, minimum risk and a name prefix."""
    statement = select(Entity)
    if entity_type is not None:
        statement = statement.where(Entity.entity_type == entity_type)
    if min_risk is not None:
        statement = statement.where(Entity.risk_score >= min_risk)
    if q:
        # The start of any form the name is kept in: as typed, folded, as an organisation
        # (without its legal suffix) or canonical for the type asked for.
        key = resolution_key(entity_type, q) if entity_type is not None else None
        prefixes = {q.strip(), fold(q), organisation_key(q)} | ({key.key} if key else set())
        statement = statement.where(
            or_(
                *(Entity.normalized_name.startswith(p, autoescape=True) for p in prefixes if p),
                func.lower(Entity.name).startswith(q.strip().lower(), autoescape=True),
            )
        )
    if tag:
        statement = statement.where(_has_tag(session, tag))
    return paginate_sorted(
        session, statement, sort=sort, columns=SORTS, tie=Entity.id, limit=limit, cursor=cursor
    )


def _has_tag(session: Session, tag: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        # Array containment uses the GIN index on tags.
        return Entity.tags.op("@>")(sql_cast(pg_array([tag]), ARRAY(Text)))
    # SQLite keeps the array as JSON text.
    each = func.json_each(Entity.tags).table_valued("value")
    return select(each.c.value).where(each.c.value == tag).exists()


def entity_detail(session: Session, entity_id: uuid.UUID) -> EntityDetail:
    """An entity with its sources, linked indicator, aliases, risk history and enrichments."""
    row = get_entity(session, entity_id)
    links = session.execute(
        select(
            EntitySource.id,
            EntitySource.collection_item_id,
            EntitySource.confidence,
            EntitySource.extraction_method,
            CollectionItem.collection_id,
            CollectionItem.source_id,
            CollectionItem.item_type,
            CollectionItem.collected_at,
            Source.name,
        )
        .join(CollectionItem, CollectionItem.id == EntitySource.collection_item_id)
        .outerjoin(Source, Source.id == CollectionItem.source_id)
        .where(EntitySource.entity_id == entity_id)
        .order_by(CollectionItem.collected_at.desc(), EntitySource.id)
        .limit(SOURCES_SHOWN)
    )
    sources = [
        SourceLink(
            id=link.id,
            collection_item_id=link.collection_item_id,
            collection_id=link.collection_id,
            source_id=link.source_id,
            source_name=link.name,
            item_type=link.item_type,
            confidence=None if link.confidence is None else float(link.confidence),
            extraction_method=link.extraction_method,
            collected_at=link.collected_at,
        )
        for link in links
    ]
    count = session.scalar(
        select(func.count()).select_from(EntitySource).where(EntitySource.entity_id == entity_id)
    )
    indicator = None
    if row.indicator_id is not None:
        found = session.get(ThreatIndicator, row.indicator_id)
        if found is not None:
            indicator = LinkedIndicator(
                id=found.id,
                indicator_type=str(found.indicator_type.value),
                value=found.indicator_value,
                threat_score=None if found.threat_score is None else float(found.threat_score),
                severity=None if found.severity is None else found.severity.value,
                is_active=found.is_active,
            )
    aliases = [
        AliasRead(normalized_name=a.normalized_name, name=a.name, origin=a.origin)
        for a in session.scalars(
            select(EntityAlias)
            .where(EntityAlias.entity_id == entity_id)
            .order_by(EntityAlias.created_at, EntityAlias.normalized_name)
        )
    ]
    from krsn.enrichment.service import enrichment_read

    enrichments = [
        enrichment_read(e).model_dump(mode="json")
        for e in session.scalars(
            select(EnrichmentData)
            .where(EnrichmentData.entity_id == entity_id)
            .order_by(EnrichmentData.enriched_at.desc())
            .limit(HISTORY_SHOWN)
        )
    ]
    return EntityDetail(
        **entity_read(row).model_dump(),
        properties=row.properties,
        metadata=row.metadata_,
        aliases=aliases,
        source_count=int(count or 0),
        sources=sources,
        indicator=indicator,
        risk_history=risk_history(session, entity_id, limit=HISTORY_SHOWN),
        enrichments=enrichments,
    )


def risk_history(session: Session, entity_id: uuid.UUID, *, limit: int = 50) -> list[RiskRead]:
    """An entity's risk computations, newest first."""
    get_entity(session, entity_id)
    rows = session.scalars(
        select(RiskScore)
        .where(RiskScore.entity_id == entity_id)
        .order_by(RiskScore.calculated_at.desc(), RiskScore.id)
        .limit(limit)
    )
    return [risk_read(r) for r in rows]


def rescore_entities(
    session: Session, *, actor: Actor, entity_ids: Collection[uuid.UUID]
) -> list[RiskRead]:
    """Recompute the scores of entities now, on an analyst's request (always recorded)."""
    for entity_id in entity_ids:
        get_entity(session, entity_id)
    rescore(session, entity_ids=entity_ids, calculated_by=actor.user_id, force=True)
    out = []
    for entity_id in entity_ids:
        latest = session.scalars(
            select(RiskScore)
            .where(RiskScore.entity_id == entity_id)
            .order_by(RiskScore.calculated_at.desc())
            .limit(1)
        ).first()
        if latest is not None:
            out.append(risk_read(latest))
    return out


# --- merge ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Merged:
    survivor: Entity
    merged: list[uuid.UUID]
    moved_sources: int
    moved_edges: int


def merge_entities(
    session: Session, *, actor: Actor, survivor_id: uuid.UUID, merged_ids: Sequence[uuid.UUID]
) -> Merged:
    """Fold entities of the survivor's type into it: their sources, edges, enrichments, risk
    history and names move to the survivor, first/last seen widen, and they are deleted."""
    losers_ids = list(dict.fromkeys(m for m in merged_ids))
    if survivor_id in losers_ids:
        raise Invalid("merged", "the survivor cannot be merged into itself")
    survivor = get_entity(session, survivor_id)
    losers = [get_entity(session, m) for m in losers_ids]
    for loser in losers:
        if loser.entity_type != survivor.entity_type:
            raise Invalid(
                "merged",
                f"{loser.id} is a {loser.entity_type.value}, the survivor a "
                f"{survivor.entity_type.value}: only entities of one type merge",
            )
    before = audit.snapshot(survivor)
    moved_sources = _move_sources(session, losers_ids, survivor_id)
    moved_edges = 0
    for loser in losers:
        moved_edges += repoint_node(
            session,
            NodeRef.of(NodeKind.ENTITY, loser.id),
            NodeRef.of(NodeKind.ENTITY, survivor_id),
        )
    session.execute(
        update(EnrichmentData)
        .where(EnrichmentData.entity_id.in_(losers_ids))
        .values(entity_id=survivor_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(RiskScore)
        .where(RiskScore.entity_id.in_(losers_ids))
        .values(entity_id=survivor_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(EntityAlias)
        .where(EntityAlias.entity_id.in_(losers_ids))
        .values(entity_id=survivor_id, origin="merge")
        .execution_options(synchronize_session=False)
    )
    # A split-off loser has no key of its own: its name becomes one, unless another holds it.
    for loser in losers:
        if loser.normalized_name:
            _claim(session, survivor.entity_type, loser.normalized_name, survivor_id, loser.name)

    firsts = [e.first_seen for e in (survivor, *losers) if e.first_seen]
    lasts = [e.last_seen for e in (survivor, *losers) if e.last_seen]
    survivor.first_seen = min(firsts) if firsts else survivor.first_seen
    survivor.last_seen = max(lasts) if lasts else survivor.last_seen
    properties: dict[str, Any] = {}
    tags: list[str] = list(survivor.tags or [])
    for loser in losers:
        properties.update(loser.properties or {})
        tags.extend(t for t in loser.tags or [] if t not in tags)
    survivor.properties = {**properties, **(survivor.properties or {})}
    survivor.tags = tags or survivor.tags
    survivor.confidence = max(
        [e.confidence for e in (survivor, *losers) if e.confidence is not None],
        default=survivor.confidence,
    )
    if survivor.indicator_id is None:
        survivor.indicator_id = next((e.indicator_id for e in losers if e.indicator_id), None)
    history = list((survivor.metadata_ or {}).get("merged_from", []))
    history.extend({"id": str(e.id), "name": e.name} for e in losers)
    survivor.metadata_ = {**(survivor.metadata_ or {}), "merged_from": history}
    for loser in losers:
        session.delete(loser)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="entity.merge",
        resource_type="entity",
        resource_id=survivor_id,
        old_values=before,
        new_values=audit.snapshot(survivor),
        details={
            "merged": [{"id": str(e.id), "name": e.name} for e in losers],
            "moved_sources": moved_sources,
            "moved_edges": moved_edges,
        },
    )
    _rescore_around(session, [survivor_id], actor=actor)
    session.refresh(survivor)
    return Merged(survivor, losers_ids, moved_sources, moved_edges)


def _move_sources(session: Session, losers: list[uuid.UUID], survivor: uuid.UUID) -> int:
    """Re-attach the losers' source links to the survivor; an item it already has keeps the
    surer of the two links."""
    table = cast(Table, EntitySource.__table__)
    held = {
        item: confidence
        for item, confidence in session.execute(
            select(table.c.collection_item_id, table.c.confidence).where(
                table.c.entity_id == survivor
            )
        )
    }
    moving = list(
        session.execute(
            select(table.c.id, table.c.collection_item_id, table.c.confidence)
            .where(table.c.entity_id.in_(losers))
            .order_by(table.c.confidence.desc())
        )
    )
    doomed: list[uuid.UUID] = []
    moved = 0
    for link_id, item_id, confidence in moving:
        if item_id in held:
            doomed.append(link_id)
            continue
        held[item_id] = confidence
        session.execute(update(table).where(table.c.id == link_id).values(entity_id=survivor))
        moved += 1
    if doomed:
        session.execute(delete(table).where(table.c.id.in_(doomed)))
    return moved


def _claim(
    session: Session, entity_type: EntityType, key: str, entity_id: uuid.UUID, name: str
) -> bool:
    """Make ``key`` resolve to ``entity_id`` if no entity holds it yet."""
    if session.get(EntityAlias, (entity_type, key)) is not None:
        return False
    session.add(
        EntityAlias(
            entity_type=entity_type,
            normalized_name=key,
            entity_id=entity_id,
            name=name[:500],
            origin="analyst",
        )
    )
    session.flush()
    return True


def _rescore_around(session: Session, ids: list[uuid.UUID], *, actor: Actor) -> None:
    """Rescore entities and then their neighbours, whose proximity factor may have moved."""
    rescore(session, entity_ids=ids, calculated_by=actor.user_id, force=True)
    near = neighbours_of(session, entity_ids=ids) - set(ids)
    if near:
        rescore(session, entity_ids=near)


# --- split ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Split:
    original: Entity
    created: Entity
    moved_sources: int


def split_entity(
    session: Session,
    *,
    actor: Actor,
    entity_id: uuid.UUID,
    source_link_ids: Sequence[uuid.UUID],
    name: str | None = None,
    now: datetime | None = None,
) -> Split:
    """Move chosen source links of an entity to a new entity of its type, with the edges whose
    evidence is one of the moved items. The new entity resolves by ``name`` when that is a
    name no entity holds; without one, mentions of the shared name stay with the original."""
    now = now or utcnow()
    original = get_entity(session, entity_id)
    before = audit.snapshot(original)
    wanted = list(dict.fromkeys(source_link_ids))
    links = list(
        session.scalars(
            select(EntitySource).where(
                EntitySource.id.in_(wanted), EntitySource.entity_id == entity_id
            )
        )
    )
    if len(links) != len(wanted):
        strangers = sorted(str(i) for i in set(wanted) - {link.id for link in links})
        raise Invalid("sources", f"not source links of this entity: {', '.join(strangers)}")
    total = session.scalar(
        select(func.count()).select_from(EntitySource).where(EntitySource.entity_id == entity_id)
    )
    if len(links) >= int(total or 0):
        raise Invalid("sources", "leave at least one source with the original entity")
    label = name or original.name
    key = resolution_key(original.entity_type, label)
    if key is None:
        raise Invalid("name", f"{label!r} is not a valid {original.entity_type.value}")
    holder = None
    if name is not None and key.key != original.normalized_name:
        holder = session.get(EntityAlias, (original.entity_type, key.key))
        # A name merged into this entity may leave with the split (undoing the merge).
        if holder is not None and holder.entity_id != original.id:
            raise Conflict(
                f"{name!r} already resolves to entity {holder.entity_id}; merge instead."
            )
    item_ids = {link.collection_item_id for link in links}
    seen = list(
        session.execute(
            select(CollectionItem.collected_at).where(CollectionItem.id.in_(item_ids))
        ).scalars()
    )
    created = Entity(
        id=uuid.uuid4(),
        entity_type=original.entity_type,
        name=key.name if name else original.name,
        normalized_name=key.key,
        properties=dict(original.properties or {}),
        metadata_={"split_from": {"id": str(original.id), "name": original.name}},
        tags=list(original.tags) if original.tags else None,
        confidence=original.confidence,
        first_seen=min((s for s in seen if s), default=now),
        last_seen=max((s for s in seen if s), default=now),
        risk_score=0,
    )
    session.add(created)
    session.flush()
    if holder is not None:
        holder.entity_id = created.id
        holder.origin = "analyst"
    elif name is not None and key.key != original.normalized_name:
        _claim(session, original.entity_type, key.key, created.id, key.name)
    session.execute(
        update(EntitySource)
        .where(EntitySource.id.in_(wanted))
        .values(entity_id=created.id)
        .execution_options(synchronize_session=False)
    )
    _move_item_edges(session, original.id, created.id, {str(i) for i in item_ids})
    _reseen(session, original)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="entity.split",
        resource_type="entity",
        resource_id=original.id,
        old_values=before,
        new_values=audit.snapshot(created),
        details={
            "created": str(created.id),
            "moved_sources": [str(i) for i in wanted],
            "items": sorted(str(i) for i in item_ids),
        },
    )
    _rescore_around(session, [original.id, created.id], actor=actor)
    session.refresh(original)
    session.refresh(created)
    return Split(original, created, len(links))


def _move_item_edges(session: Session, old: uuid.UUID, new: uuid.UUID, item_ids: set[str]) -> None:
    """Edges at ``old`` whose evidence is one of the moved items now start or end at ``new``;
    COLLECTED_FROM edges are drawn for the new entity from the moved items' sources."""
    node = str(old)
    rows = session.scalars(
        select(EntityRelationship).where(
            EntityRelationship.relation == EdgeRelation.RELATED_TO,
            or_(
                (EntityRelationship.source_kind == NodeKind.ENTITY)
                & (EntityRelationship.source_id == node),
                (EntityRelationship.target_kind == NodeKind.ENTITY)
                & (EntityRelationship.target_id == node),
            ),
        )
    ).all()
    moving = [r for r in rows if str((r.properties or {}).get("item_id")) in item_ids]
    if moving:
        specs = [_spec(r) for r in moving]
        remove_edges(session, specs)
        here, there = NodeRef.of(NodeKind.ENTITY, old), NodeRef.of(NodeKind.ENTITY, new)
        add_edges(
            session,
            [
                EdgeSpec(
                    source=there if s.source == here else s.source,
                    target=there if s.target == here else s.target,
                    type=s.type,
                    relation=s.relation,
                    confidence=s.confidence,
                    asserted_by=s.asserted_by,
                    properties=s.properties,
                    collection_id=s.collection_id,
                    collected_at=s.collected_at,
                )
                for s in specs
            ],
        )
    origins = session.execute(
        select(CollectionItem.source_id, CollectionItem.collection_id, CollectionItem.collected_at)
        .where(
            CollectionItem.id.in_([uuid.UUID(i) for i in item_ids]),
            CollectionItem.source_id.is_not(None),
        )
        .distinct()
    )
    add_edges(
        session,
        [
            EdgeSpec(
                source=NodeRef.of(NodeKind.ENTITY, new),
                target=NodeRef.of(NodeKind.SOURCE, source_id),
                relation=EdgeRelation.COLLECTED_FROM,
                collection_id=collection_id,
                collected_at=collected_at,
            )
            for source_id, collection_id, collected_at in origins
            if source_id is not None
        ],
    )


def _spec(row: EntityRelationship) -> EdgeSpec:
    return EdgeSpec(
        source=NodeRef.of(row.source_kind, row.source_id),
        target=NodeRef.of(row.target_kind, row.target_id),
        type=None if row.type is None else RelationshipType(row.type),
        relation=EdgeRelation(row.relation),
        confidence=None if row.confidence is None else float(row.confidence),
        asserted_by=row.source,
        properties=dict(row.properties or {}),
        collection_id=row.collection_id,
        collected_at=row.collected_at,
    )


def _reseen(session: Session, entity: Entity) -> None:
    """First/last seen of an entity from the items it still has."""
    first, last = session.execute(
        select(func.min(CollectionItem.collected_at), func.max(CollectionItem.collected_at))
        .join(EntitySource, EntitySource.collection_item_id == CollectionItem.id)
        .where(EntitySource.entity_id == entity.id)
    ).one()
    if first is not None:
        entity.first_seen = first
        entity.last_seen = last
