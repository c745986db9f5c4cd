"""Storing what collectors collected: items deduplicated by content hash, their raw documents,
and the entity processing of the new ones, all in the caller's transaction.

A record's identity is the SHA-256 of its ``hash_basis`` (or of the canonical JSON of its
``raw`` when it has none). ``collection_items.hash`` is unique, so a record already stored —
by any run of any collection — is a duplicate: counted, never inserted twice. Inserts use
``ON CONFLICT DO NOTHING`` so two runs storing the same record at once cannot both win.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.osint.collectors.base import Collected
from krsn.osint.entities.processing import Extractor, ItemInput, process_items
from krsn.osint.models import Collection, CollectionItem, RawDocument, Source

log = logging.getLogger(__name__)

# Rows per INSERT statement: well under both engines' bound-parameter limits.
BATCH = 500


@dataclass(slots=True)
class StoredBatch:
    """What one call stored: the ids of the new items, the duplicates skipped, how many
    entities the new items touched and how many raw documents were written."""

    new_item_ids: list[uuid.UUID] = field(default_factory=list)
    duplicates: int = 0
    entities: int = 0
    documents: int = 0


def canonical_json(value: Any) -> str:
    """The JSON text two equal records share: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(record: Collected) -> str:
    """The deduplication key of a record: SHA-256 hex of its hash basis or canonical raw."""
    basis = record.hash_basis if record.hash_basis is not None else canonical_json(record.raw)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def _insert(session: Session, table: Table) -> Any:
    """An INSERT that can say ON CONFLICT DO NOTHING on the session's engine."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def _labels(
    session: Session, *, collection_id: uuid.UUID, source_id: uuid.UUID | None
) -> tuple[str | None, str]:
    """The name documents are filed under (the source's name, else the collector type) and
    the extraction method of the collector's own entities (``collector:<type>``)."""
    kind = session.execute(
        select(Collection.collector_type).where(Collection.id == collection_id)
    ).scalar()
    collector = None if kind is None else str(getattr(kind, "value", kind))
    label = collector
    if source_id is not None:
        name = session.execute(select(Source.name).where(Source.id == source_id)).scalar()
        if name is not None:
            label = str(name)
    return label, f"collector:{collector}" if collector else "collector"


def _jsonable(value: Any) -> Any:
    """``raw`` as JSON the column can hold: datetimes and the like become text."""
    return json.loads(canonical_json(value))


def store_collected(
    session: Session,
    *,
    collection_id: uuid.UUID,
    source_id: uuid.UUID | None,
    records: Sequence[Collected],
    now: datetime | None = None,
    process: bool = True,
    extractor: Extractor | None = None,
) -> StoredBatch:
    """Store the new records of a batch as items and raw documents, then extract and resolve
    their entities (``process``, with ``extractor`` or the platform's text extraction);
    records whose hash is already stored are counted only."""
    now = now or utcnow()
    result = StoredBatch()
    fresh: dict[str, Collected] = {}
    for record in records:
        digest = content_hash(record)
        if digest in fresh:
            result.duplicates += 1
            continue
        fresh[digest] = record
    if not fresh:
        return result

    items = cast(Table, CollectionItem.__table__)
    hashes = list(fresh)
    known: set[str] = set()
    for start in range(0, len(hashes), BATCH):
        some = hashes[start : start + BATCH]
        known.update(
            str(h)
            for h in session.execute(select(items.c.hash).where(items.c.hash.in_(some))).scalars()
        )
    result.duplicates += len(known)
    pending = [(digest, record) for digest, record in fresh.items() if digest not in known]

    new_ids: dict[str, uuid.UUID] = {}
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        rows = [
            {
                "id": uuid.uuid4(),
                "collection_id": collection_id,
                "source_id": source_id,
                "raw_data": _jsonable(record.raw),
                "item_type": record.item_type[:100],
                "hash": digest,
                "is_processed": False,
                "collected_at": now,
            }
            for digest, record in chunk
        ]
        statement = (
            _insert(session, items)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["hash"])
            .returning(items.c.id, items.c.hash)
        )
        for row in session.execute(statement):
            new_ids[str(row.hash)] = row.id
    # A record another transaction stored between our look-up and our insert: a duplicate.
    result.duplicates += len(pending) - len(new_ids)
    stored = [(digest, record) for digest, record in pending if digest in new_ids]
    result.new_item_ids = [new_ids[digest] for digest, _ in stored]
    if not stored:
        return result

    label, observer = _labels(session, collection_id=collection_id, source_id=source_id)
    documents = cast(Table, RawDocument.__table__)
    for start in range(0, len(stored), BATCH):
        chunk = stored[start : start + BATCH]
        rows = [
            {
                "id": uuid.uuid4(),
                "collection_id": collection_id,
                "document_type": record.item_type[:100],
                "content": record.text,
                "metadata": {
                    "url": record.url,
                    "title": record.title,
                    "published_at": record.published_at.isoformat()
                    if record.published_at
                    else None,
                    "source": label,
                    "item_id": str(new_ids[digest]),
                },
                "source": label[:255] if label else None,
                "hash": digest,
                "file_info": record.file_info,
                "created_at": now,
            }
            for digest, record in chunk
        ]
        statement = (
            _insert(session, documents)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["hash"])
            .returning(documents.c.id)
        )
        result.documents += len(session.execute(statement).all())

    if process:
        result.entities = process_items(
            session,
            items=[
                ItemInput(
                    item_id=new_ids[digest],
                    collection_id=collection_id,
                    source_id=source_id,
                    text=record.text,
                    observed=record.entities,
                    relations=record.relations,
                    collected_at=now,
                    observer=observer,
                )
                for digest, record in stored
            ],
            now=now,
            extractor=extractor,
        )
    log.info(
        "stored items",
        extra={
            "collection_id": str(collection_id),
            "new": len(result.new_item_ids),
            "duplicates": result.duplicates,
            "entities": result.entities,
        },
    )
    return result
