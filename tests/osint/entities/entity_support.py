"""Investigations to resolve entities in: a user, a collection and a source; records stored
through the real item store; the command line on the test's database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import select

from detection_support import add_user
from krsn.db import Database
from krsn.osint.collectors.base import Collected
from krsn.osint.entities.models import EntityAlias
from krsn.osint.entities.names import resolution_key
from krsn.osint.extract.text import extract_text
from krsn.osint.items.store import StoredBatch, store_collected
from krsn.osint.models import Collection, CollectorType, Entity, EntityType, Source

# The real extractor without the named-entity model: these tests are about resolution.
IOC_ONLY = partial(extract_text, ner=False)


@dataclass(frozen=True)
class Investigation:
    database: Database
    user_id: uuid.UUID
    collection_id: uuid.UUID
    source_id: uuid.UUID

    def store(self, *records: Collected, now: datetime | None = None) -> StoredBatch:
        """Store records as this collection's, processing them with IOC extraction."""
        with self.database.transaction() as session:
            return store_collected(
                session,
                collection_id=self.collection_id,
                source_id=self.source_id,
                records=list(records),
                now=now,
                extractor=IOC_ONLY,
            )

    def entity(self, entity_type: EntityType, value: str) -> Entity:
        """The entity a value resolves to."""
        key = resolution_key(entity_type, value)
        assert key is not None
        with self.database.transaction(readonly=True) as session:
            alias = session.get(EntityAlias, (entity_type, key.key))
            assert alias is not None, f"no {entity_type.value} entity {key.key!r}"
            row = session.get(Entity, alias.entity_id)
            assert row is not None
            return row

    def entities(self, entity_type: EntityType | None = None) -> list[Entity]:
        statement = select(Entity).order_by(Entity.normalized_name)
        if entity_type is not None:
            statement = statement.where(Entity.entity_type == entity_type)
        with self.database.transaction(readonly=True) as session:
            return list(session.scalars(statement))


def start_investigation(
    database: Database,
    *,
    name: str = "acme",
    reliability: str | None = "0.80",
    collector_type: CollectorType = CollectorType.NEWS,
) -> Investigation:
    """A user with a collection and its source."""
    with database.transaction() as session:
        user_id = add_user(session, f"analyst-{name}")
        collection = Collection(
            user_id=user_id, name=name, collector_type=collector_type, config={}
        )
        source = Source(
            name=f"{name}-feed",
            source_type="rss",
            reliability_score=None if reliability is None else Decimal(reliability),
        )
        session.add_all([collection, source])
        session.flush()
        return Investigation(database, user_id, collection.id, source.id)


def post(text: str, *, key: str | None = None, **fields: Any) -> Collected:
    """A social-media post with this text (its own record unless ``key`` says otherwise)."""
    return Collected(
        item_type="post", raw={"text": text, **fields}, text=text, hash_basis=key or text
    )
