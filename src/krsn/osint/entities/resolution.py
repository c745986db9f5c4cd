"""Entity resolution: one entity row per type and normalised name, found through
``entity_aliases``, created in batches, and linked to the threat indicator with its value.

Everything here works on batches: one query finds the entities of a batch of keys, one
multi-row insert creates the missing ones, one executemany moves ``first_seen`` /
``last_seen``. Keys are claimed with ``ON CONFLICT DO NOTHING``, so two transactions that
create the same entity at once end with one row: the loser drops its own and takes the winner's.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import hash_signature
from krsn.osint.entities.models import EntityAlias
from krsn.osint.entities.names import ENTITY_TYPE, INDICATOR_TYPE, Key, resolution_key
from krsn.osint.graph.edges import EdgeSpec, NodeRef, add_edges
from krsn.osint.models import Entity, EntityType, NodeKind, RelationshipType

BATCH = 500

ENTITIES = cast(Table, Entity.__table__)
ALIASES = cast(Table, EntityAlias.__table__)

KeyTuple = tuple[str, str]


def insert_for(session: Session, table: Table) -> Any:
    """An INSERT of the session's engine, so ON CONFLICT DO NOTHING is available."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def fraction(value: float) -> Decimal:
    """A confidence as the NUMERIC(3, 2) columns hold it, clamped to 0..1."""
    return Decimal(f"{min(max(value, 0.0), 1.0):.2f}")


@dataclass(slots=True)
class Sighting:
    """What a batch says about one key: when it was seen, how sure, what properties."""

    key: Key
    first: datetime
    last: datetime
    confidence: float = 0.5
    properties: dict[str, Any] = field(default_factory=dict)

    def see(self, at: datetime, confidence: float, properties: Mapping[str, Any]) -> None:
        self.first = min(self.first, at)
        self.last = max(self.last, at)
        self.confidence = max(self.confidence, confidence)
        self.properties.update(properties)


@dataclass(slots=True)
class Resolved:
    """The entity id of every key of a batch, and which of them were created."""

    ids: dict[KeyTuple, uuid.UUID]
    created: set[uuid.UUID]


def _tuple(key: Key) -> KeyTuple:
    return (key.entity_type.value, key.key)


def find(session: Session, keys: Iterable[KeyTuple]) -> dict[KeyTuple, uuid.UUID]:
    """The entity each key resolves to, for the keys that have one."""
    wanted = list(dict.fromkeys(keys))
    found: dict[KeyTuple, uuid.UUID] = {}
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        rows = session.execute(
            select(ALIASES.c.entity_type, ALIASES.c.normalized_name, ALIASES.c.entity_id).where(
                tuple_(ALIASES.c.entity_type, ALIASES.c.normalized_name).in_(chunk)
            )
        )
        for row in rows:
            found[(str(getattr(row[0], "value", row[0])), row[1])] = row[2]
    return found


def resolve(session: Session, sightings: Mapping[KeyTuple, Sighting], *, now: datetime) -> Resolved:
    """Find or create the entity of every sighted key; move first/last seen and merge the
    properties of the ones that exist."""
    ids = find(session, sightings)
    existing = set(ids.values())
    _touch(session, {ids[k]: s for k, s in sightings.items() if k in ids}, now=now)
    missing = [s for k, s in sightings.items() if k not in ids]
    created: set[uuid.UUID] = set()
    for start in range(0, len(missing), BATCH):
        made = _create(session, missing[start : start + BATCH], now=now)
        ids.update(made)
        created.update(v for v in made.values() if v not in existing)
    return Resolved(ids=ids, created=created)


def _create(session: Session, batch: list[Sighting], *, now: datetime) -> dict[KeyTuple, uuid.UUID]:
    rows: list[dict[str, Any]] = []
    for sighting in batch:
        rows.append(
            {
                "id": uuid.uuid4(),
                "entity_type": sighting.key.entity_type,
                "name": sighting.key.name,
                "normalized_name": sighting.key.key,
                "properties": sighting.properties,
                "metadata": {},
                "risk_score": 0,
                "confidence": fraction(sighting.confidence),
                "is_verified": False,
                "first_seen": sighting.first,
                "last_seen": sighting.last,
                "created_at": now,
                "updated_at": now,
            }
        )
    session.execute(ENTITIES.insert(), rows)
    claimed = session.execute(
        insert_for(session, ALIASES)
        .values(
            [
                {
                    "entity_type": row["entity_type"],
                    "normalized_name": row["normalized_name"],
                    "entity_id": row["id"],
                    "name": row["name"],
                    "origin": "resolution",
                    "created_at": now,
                }
                for row in rows
            ]
        )
        .on_conflict_do_nothing(index_elements=["entity_type", "normalized_name"])
        .returning(ALIASES.c.entity_type, ALIASES.c.normalized_name)
    )
    won = {(str(getattr(t, "value", t)), n) for t, n in claimed}
    ids: dict[KeyTuple, uuid.UUID] = {}
    lost: list[uuid.UUID] = []
    for sighting, row in zip(batch, rows, strict=True):
        key = _tuple(sighting.key)
        if key in won:
            ids[key] = cast(uuid.UUID, row["id"])
        else:
            lost.append(cast(uuid.UUID, row["id"]))
    if lost:
        # Another transaction created these keys between our look-up and our insert.
        session.execute(delete(ENTITIES).where(ENTITIES.c.id.in_(lost)))
        by_key = {_tuple(s.key): s for s in batch}
        winners = find(session, by_key)
        _touch(session, {winners[k]: by_key[k] for k in winners if k not in ids}, now=now)
        ids.update({k: v for k, v in winners.items() if k not in ids})
    return ids


def _touch(session: Session, sightings: Mapping[uuid.UUID, Sighting], *, now: datetime) -> None:
    """Widen first/last seen, raise confidence and merge new properties of existing entities."""
    if not sightings:
        return
    current: dict[uuid.UUID, Any] = {}
    entity_ids = list(sightings)
    for start in range(0, len(entity_ids), BATCH):
        chunk = entity_ids[start : start + BATCH]
        for found in session.execute(
            select(
                ENTITIES.c.id,
                ENTITIES.c.first_seen,
                ENTITIES.c.last_seen,
                ENTITIES.c.properties,
                ENTITIES.c.confidence,
            ).where(ENTITIES.c.id.in_(chunk))
        ):
            current[found.id] = found
    changes = []
    for entity_id, sighting in sightings.items():
        row = current.get(entity_id)
        if row is None:
            continue
        first = min(row.first_seen, sighting.first) if row.first_seen else sighting.first
        last = max(row.last_seen, sighting.last) if row.last_seen else sighting.last
        properties = {**(row.properties or {}), **sighting.properties}
        confidence = max(row.confidence or Decimal(0), fraction(sighting.confidence))
        if (
            first != row.first_seen
            or last != row.last_seen
            or properties != (row.properties or {})
            or confidence != row.confidence
        ):
            changes.append(
                {
                    "b_id": entity_id,
                    "first_seen": first,
                    "last_seen": last,
                    "properties": properties,
                    "confidence": confidence,
                    "updated_at": now,
                }
            )
    if changes:
        session.execute(
            update(ENTITIES).where(ENTITIES.c.id == bindparam("b_id")),
            changes,
            execution_options={"synchronize_session": False},
        )


def link_entities(session: Session, *, entity_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Point entities of IOC types at the threat indicator with their type and canonical value
    (with a SAME_AS edge); the ids of the entities newly linked."""
    candidates: dict[str, tuple[uuid.UUID, EntityType]] = {}
    wanted = list(entity_ids)
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        rows = session.execute(
            select(ENTITIES.c.id, ENTITIES.c.entity_type, ENTITIES.c.normalized_name).where(
                ENTITIES.c.id.in_(chunk),
                ENTITIES.c.indicator_id.is_(None),
                ENTITIES.c.entity_type.in_(list(INDICATOR_TYPE)),
            )
        )
        for row in rows:
            kind = EntityType(row.entity_type)
            if row.normalized_name:
                signature = hash_signature(INDICATOR_TYPE[kind], row.normalized_name)
                candidates[signature] = (row.id, kind)
    links: dict[uuid.UUID, uuid.UUID] = {}
    signatures = list(candidates)
    for start in range(0, len(signatures), BATCH):
        some = signatures[start : start + BATCH]
        for indicator_id, signature in session.execute(
            select(ThreatIndicator.id, ThreatIndicator.hash_signature).where(
                ThreatIndicator.hash_signature.in_(some)
            )
        ):
            links[candidates[signature][0]] = indicator_id
    _set_links(session, links)
    return set(links)


def link_indicators(session: Session, *, indicator_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Link the entities that match stored indicators and rescore every entity linked to them
    (a new link, or a changed threat score, is new evidence). Ingestion calls it after writing
    a batch, in the same transaction. The ids of the entities newly linked."""
    # Most deployments ingest far more indicators than they investigate entities: with none
    # to link, one cheap probe per batch is all ingestion pays.
    if session.execute(select(ENTITIES.c.id).limit(1)).first() is None:
        return set()
    keys: dict[KeyTuple, uuid.UUID] = {}
    ids = list(indicator_ids)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        for indicator_id, indicator_type, value in session.execute(
            select(
                ThreatIndicator.id, ThreatIndicator.indicator_type, ThreatIndicator.indicator_value
            ).where(ThreatIndicator.id.in_(chunk))
        ):
            kind = ENTITY_TYPE.get(indicator_type)
            if kind is not None:
                keys[(kind.value, value)] = indicator_id
    found = find(session, keys)
    current: dict[uuid.UUID, uuid.UUID | None] = {}
    entity_ids = list(found.values())
    for start in range(0, len(entity_ids), BATCH):
        for entity_id, linked in session.execute(
            select(ENTITIES.c.id, ENTITIES.c.indicator_id).where(
                ENTITIES.c.id.in_(entity_ids[start : start + BATCH])
            )
        ):
            current[entity_id] = linked
    links = {
        entity_id: keys[key]
        for key, entity_id in found.items()
        if current.get(entity_id, keys[key]) != keys[key]
    }
    _set_links(session, links)
    affected = set(links)
    for start in range(0, len(ids), BATCH):
        affected.update(
            session.execute(
                select(ENTITIES.c.id).where(ENTITIES.c.indicator_id.in_(ids[start : start + BATCH]))
            ).scalars()
        )
    if affected:
        from krsn.osint.risk.service import rescore

        rescore(session, entity_ids=affected)
    return set(links)


def _set_links(session: Session, links: Mapping[uuid.UUID, uuid.UUID]) -> None:
    if not links:
        return
    session.execute(
        update(ENTITIES).where(ENTITIES.c.id == bindparam("b_id")),
        [
            {"b_id": entity_id, "indicator_id": indicator_id, "updated_at": utcnow()}
            for entity_id, indicator_id in links.items()
        ],
        execution_options={"synchronize_session": False},
    )
    add_edges(
        session,
        [
            EdgeSpec(
                source=NodeRef.of(NodeKind.ENTITY, entity_id),
                target=NodeRef.of(NodeKind.INDICATOR, indicator_id),
                type=RelationshipType.SAME_AS,
                confidence=1.0,
                asserted_by="resolution",
            )
            for entity_id, indicator_id in links.items()
        ],
    )


def key_of(entity_type: EntityType | str, value: str) -> KeyTuple | None:
    """The lookup key of a value, or None when it is not a valid value of the type."""
    key = resolution_key(entity_type, value)
    return None if key is None else _tuple(key)
