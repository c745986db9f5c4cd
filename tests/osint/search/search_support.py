"""Rows to search for, written the way the platform writes them."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from krsn.osint.models import Entity, EntityType, RawDocument


def add_entities(session: Session, rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
    """Insert entities in one Core executemany, as a batch extraction would."""
    ids = [uuid.uuid4() for _ in rows]
    values = [
        {
            "id": row_id,
            "entity_type": row.get("entity_type", EntityType.DOMAIN),
            "name": row["name"],
            "normalized_name": row.get("normalized_name", row["name"].lower()),
            "tags": row.get("tags"),
            "risk_score": row.get("risk_score", 0),
            **{k: v for k, v in row.items() if k in ("last_seen", "first_seen")},
        }
        for row_id, row in zip(ids, rows, strict=True)
    ]
    session.execute(insert(Entity), values)
    return ids


def add_entity(session: Session, name: str, **fields: Any) -> uuid.UUID:
    """One entity through the ORM."""
    entity = Entity(
        name=name,
        normalized_name=fields.pop("normalized_name", name.lower()),
        entity_type=fields.pop("entity_type", EntityType.DOMAIN),
        **fields,
    )
    session.add(entity)
    session.flush()
    return entity.id


def add_document(session: Session, content: str, **fields: Any) -> uuid.UUID:
    """One raw document through the ORM."""
    document = RawDocument(
        content=content,
        hash=hashlib.sha256(content.encode()).hexdigest(),
        document_type=fields.pop("document_type", "article"),
        **fields,
    )
    session.add(document)
    session.flush()
    return document.id
