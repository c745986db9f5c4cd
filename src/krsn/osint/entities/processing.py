"""Processing new items: extract entities from their text, add what the collector observed,
resolve both to entity rows, record where each came from, and draw the graph edges.

Edges written per item:
- ``COLLECTED_FROM`` from each entity to the item's source node, once per collection;
- the collector's :class:`ObservedRelation` edges (``RESOLVES_TO``, ``PART_OF``...);
- ``ASSOCIATED_WITH`` between entities mentioned close together in the text (within
  :data:`WINDOW` characters and the same paragraph), the nearest :data:`MAX_PAIRS` pairs of
  an item only, each with the item id and a snippet as evidence;
- ``SAME_AS`` from an entity to the threat indicator with its type and value.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.osint.collectors.base import Observed, ObservedRelation
from krsn.osint.entities.names import Key, resolution_key
from krsn.osint.entities.resolution import (
    KeyTuple,
    Sighting,
    fraction,
    insert_for,
    link_entities,
    resolve,
)
from krsn.osint.extract.findings import Finding
from krsn.osint.graph.edges import EdgeSpec, NodeRef, add_edges
from krsn.osint.models import (
    CollectionItem,
    EdgeRelation,
    EntityRelationship,
    EntitySource,
    NodeKind,
    RelationshipType,
)

log = logging.getLogger(__name__)

WINDOW: Final = 150
"""Most characters between two mentions for them to count as co-occurring."""
MAX_PAIRS: Final = 20
"""Most co-occurrence edges one item adds: the nearest pairs win."""
_NEIGHBOURS: Final = 8
# Mentions looked at after each one: keeps pairing linear in a long list of IOCs.
_SNIPPET: Final = 240
_PARAGRAPH = re.compile(r"\n\s*\n")
_SPACES = re.compile(r"\s+")
BATCH = 500

Extractor = Callable[[str], Sequence[Finding]]


@dataclass(frozen=True, slots=True)
class ItemInput:
    """A stored item to process: its text, what its collector observed, where it came from."""

    item_id: uuid.UUID
    collection_id: uuid.UUID | None
    source_id: uuid.UUID | None
    text: str | None
    observed: Sequence[Observed] = ()
    relations: Sequence[ObservedRelation] = ()
    collected_at: datetime | None = None
    # extraction_method of the collector's own entities, e.g. "collector:domain_intel".
    observer: str = "collector"


@dataclass(slots=True)
class Mention:
    """One resolved mention in one item."""

    key: Key
    confidence: float
    method: str
    start: int | None = None
    end: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def lookup(self) -> KeyTuple:
        return (self.key.entity_type.value, self.key.key)


def default_extractor() -> Extractor | None:
    """Text extraction, when the extraction package provides it."""
    try:
        from krsn.osint.extract.text import extract_text
    except ImportError:
        log.warning("text extraction unavailable: items keep only their observed entities")
        return None
    return cast(Extractor, extract_text)


def mentions_of(item: ItemInput, extractor: Extractor | None) -> list[Mention]:
    """Every resolvable mention of an item: text findings first (with offsets), then the
    collector's observed entities and the ends of its relations."""
    found: list[Mention] = []
    if item.text and extractor is not None:
        for finding in extractor(item.text):
            key = resolution_key(finding.entity_type, finding.canonical or finding.value)
            if key is None:
                continue
            properties = {"subtype": finding.subtype} if finding.subtype else {}
            found.append(
                Mention(
                    key, finding.confidence, finding.method, finding.start, finding.end, properties
                )
            )
    for observed in item.observed:
        key = resolution_key(observed.entity_type, observed.value)
        if key is not None:
            found.append(
                Mention(
                    key, observed.confidence, item.observer, None, None, dict(observed.properties)
                )
            )
    for relation in item.relations:
        for end_type, end_value in (relation.source, relation.target):
            key = resolution_key(end_type, end_value)
            if key is not None:
                found.append(Mention(key, relation.confidence, item.observer))
    return found


def process_items(
    session: Session,
    *,
    items: Sequence[ItemInput],
    now: datetime | None = None,
    extractor: Extractor | None = None,
    rescore: bool = True,
) -> int:
    """Extract, resolve and link the entities of stored items and mark them processed; the
    number of distinct entities they touched."""
    if not items:
        return 0
    now = now or utcnow()
    extract = extractor if extractor is not None else default_extractor()
    per_item = {item.item_id: mentions_of(item, extract) for item in items}

    sightings: dict[KeyTuple, Sighting] = {}
    for item in items:
        seen = item.collected_at or now
        for mention in per_item[item.item_id]:
            sighting = sightings.get(mention.lookup)
            if sighting is None:
                sightings[mention.lookup] = Sighting(
                    mention.key, seen, seen, mention.confidence, dict(mention.properties)
                )
            else:
                sighting.see(seen, mention.confidence, mention.properties)
    resolved = resolve(session, sightings, now=now)
    ids = resolved.ids

    _record_sources(session, items, per_item, ids, now=now)
    touched = {ids[k] for k in sightings if k in ids}
    link_entities(session, entity_ids=touched)
    edges: list[EdgeSpec] = []
    edges.extend(_collected_from(session, items, per_item, ids))
    for item in items:
        observed = _observed_edges(item, ids)
        edges.extend(observed)
        # A pair the collector already related (domain RESOLVES_TO address) gains nothing
        # from also being "mentioned together" in the record's text.
        known = {frozenset((e.source.id, e.target.id)) for e in observed}
        edges.extend(
            e
            for e in _co_occurrences(item, per_item[item.item_id], ids)
            if frozenset((e.source.id, e.target.id)) not in known
        )
    add_edges(session, edges)

    item_ids = [item.item_id for item in items]
    for start in range(0, len(item_ids), BATCH):
        session.execute(
            update(CollectionItem)
            .where(CollectionItem.id.in_(item_ids[start : start + BATCH]))
            .values(is_processed=True)
            .execution_options(synchronize_session=False)
        )
    if rescore and touched:
        from krsn.osint.risk.service import rescore as rescore_entities

        rescore_entities(session, entity_ids=touched, now=now)
    return len(touched)


def _record_sources(
    session: Session,
    items: Sequence[ItemInput],
    per_item: dict[uuid.UUID, list[Mention]],
    ids: dict[KeyTuple, uuid.UUID],
    *,
    now: datetime,
) -> None:
    """One ``entity_sources`` row per entity and item, with the surest mention's confidence."""
    best: dict[tuple[uuid.UUID, uuid.UUID], Mention] = {}
    for item in items:
        for mention in per_item[item.item_id]:
            entity_id = ids.get(mention.lookup)
            if entity_id is None:
                continue
            pair = (entity_id, item.item_id)
            if pair not in best or mention.confidence > best[pair].confidence:
                best[pair] = mention
    rows = [
        {
            "id": uuid.uuid4(),
            "entity_id": entity_id,
            "collection_item_id": item_id,
            "confidence": fraction(mention.confidence),
            "extraction_method": mention.method[:100],
            "created_at": now,
        }
        for (entity_id, item_id), mention in best.items()
    ]
    table = cast(Table, EntitySource.__table__)
    for start in range(0, len(rows), BATCH):
        session.execute(
            insert_for(session, table)
            .values(rows[start : start + BATCH])
            .on_conflict_do_nothing(index_elements=["entity_id", "collection_item_id"])
        )


def _collected_from(
    session: Session,
    items: Sequence[ItemInput],
    per_item: dict[uuid.UUID, list[Mention]],
    ids: dict[KeyTuple, uuid.UUID],
) -> list[EdgeSpec]:
    """COLLECTED_FROM edges entity → source, one per entity, source and collection."""
    wanted: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None], datetime | None] = {}
    for item in items:
        if item.source_id is None:
            continue
        for mention in per_item[item.item_id]:
            entity_id = ids.get(mention.lookup)
            if entity_id is not None:
                wanted.setdefault(
                    (entity_id, item.source_id, item.collection_id), item.collected_at
                )
    if not wanted:
        return []
    table = EntityRelationship
    present: set[tuple[str, str, str | None]] = set()
    entity_ids = sorted({str(k[0]) for k in wanted})
    for start in range(0, len(entity_ids), BATCH):
        rows = session.execute(
            select(table.source_id, table.target_id, table.collection_id).where(
                table.source_kind == NodeKind.ENTITY,
                table.source_id.in_(entity_ids[start : start + BATCH]),
                table.relation == EdgeRelation.COLLECTED_FROM,
                table.target_kind == NodeKind.SOURCE,
            )
        )
        present.update(
            (row.source_id, row.target_id, str(row.collection_id) if row.collection_id else None)
            for row in rows
        )
    return [
        EdgeSpec(
            source=NodeRef.of(NodeKind.ENTITY, entity_id),
            target=NodeRef.of(NodeKind.SOURCE, source_id),
            relation=EdgeRelation.COLLECTED_FROM,
            collection_id=collection_id,
            collected_at=collected_at,
        )
        for (entity_id, source_id, collection_id), collected_at in wanted.items()
        if (str(entity_id), str(source_id), str(collection_id) if collection_id else None)
        not in present
    ]


def _observed_edges(item: ItemInput, ids: dict[KeyTuple, uuid.UUID]) -> list[EdgeSpec]:
    edges = []
    for relation in item.relations:
        source = resolution_key(*relation.source)
        target = resolution_key(*relation.target)
        if source is None or target is None:
            continue
        source_id = ids.get((source.entity_type.value, source.key))
        target_id = ids.get((target.entity_type.value, target.key))
        if source_id is None or target_id is None or source_id == target_id:
            continue
        edges.append(
            EdgeSpec(
                source=NodeRef.of(NodeKind.ENTITY, source_id),
                target=NodeRef.of(NodeKind.ENTITY, target_id),
                type=relation.type,
                confidence=relation.confidence,
                asserted_by=item.observer[:255],
                properties={**relation.properties, "item_id": str(item.item_id)},
                collection_id=item.collection_id,
                collected_at=item.collected_at,
            )
        )
    return edges


def _snippet(text: str, start: int, end: int) -> str:
    margin = max(0, (_SNIPPET - (end - start)) // 2)
    piece = text[max(0, start - margin) : end + margin]
    return _SPACES.sub(" ", piece).strip()[:_SNIPPET]


def co_occurring_pairs(
    text: str, mentions: Sequence[Mention], ids: dict[KeyTuple, uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, int, Mention, Mention]]:
    """The nearest pairs of distinct entities mentioned within :data:`WINDOW` characters of
    each other in one paragraph, at most :data:`MAX_PAIRS`, nearest first."""
    placed = sorted(
        (m for m in mentions if m.start is not None and m.end is not None and m.lookup in ids),
        key=lambda m: cast(int, m.start),
    )
    nearest: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, Mention, Mention]] = {}
    for index, first in enumerate(placed):
        first_end = cast(int, first.end)
        for second in placed[index + 1 : index + 1 + _NEIGHBOURS]:
            second_start = cast(int, second.start)
            gap = max(0, second_start - first_end)
            if gap > WINDOW:
                break
            if _PARAGRAPH.search(text, first_end, max(first_end, second_start)):
                break
            a, b = ids[first.lookup], ids[second.lookup]
            if a == b:
                continue
            pair = (a, b) if str(a) < str(b) else (b, a)
            if pair not in nearest or gap < nearest[pair][0]:
                nearest[pair] = (gap, first, second)
    ranked = sorted(nearest.items(), key=lambda entry: entry[1][0])[:MAX_PAIRS]
    return [(a, b, gap, first, second) for (a, b), (gap, first, second) in ranked]


def _co_occurrences(
    item: ItemInput, mentions: Sequence[Mention], ids: dict[KeyTuple, uuid.UUID]
) -> list[EdgeSpec]:
    if not item.text:
        return []
    edges = []
    for a, b, gap, first, second in co_occurring_pairs(item.text, mentions, ids):
        # Nearer mentions say more; never surer than the less sure of the two findings.
        confidence = min(first.confidence, second.confidence, 0.7 - 0.4 * gap / WINDOW)
        edges.append(
            EdgeSpec(
                source=NodeRef.of(NodeKind.ENTITY, a),
                target=NodeRef.of(NodeKind.ENTITY, b),
                type=RelationshipType.ASSOCIATED_WITH,
                confidence=confidence,
                asserted_by="co-occurrence",
                properties={
                    "item_id": str(item.item_id),
                    "distance": gap,
                    "snippet": _snippet(item.text, cast(int, first.start), cast(int, second.end)),
                },
                collection_id=item.collection_id,
                collected_at=item.collected_at,
            )
        )
    return edges
