"""An investigation whose records are stored and processed through the real item store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from krsn.db import Database
from krsn.osint.collectors.base import Collected
from krsn.osint.entities.models import EntityAlias
from krsn.osint.entities.names import resolution_key
from krsn.osint.extract.text import extract_text
from krsn.osint.items.store import store_collected
from krsn.osint.models import Entity, EntityType, Source

IOC_ONLY = partial(extract_text, ner=False)


@dataclass(frozen=True)
class Investigation:
    database: Database
    user_id: uuid.UUID
    collection_id: uuid.UUID
    source_id: uuid.UUID

    def store(self, *records: Collected, source_id: uuid.UUID | None = None) -> None:
        with self.database.transaction() as session:
            store_collected(
                session,
                collection_id=self.collection_id,
                source_id=source_id or self.source_id,
                records=list(records),
                extractor=IOC_ONLY,
            )

    def entity(self, entity_type: EntityType, value: str) -> Entity:
        key = resolution_key(entity_type, value)
        assert key is not None
        with self.database.transaction(readonly=True) as session:
            alias = session.get(EntityAlias, (entity_type, key.key))
            assert alias is not None
            row = session.get(Entity, alias.entity_id)
            assert row is not None
            return row

    def add_source(self, name: str, reliability: str | None) -> uuid.UUID:
        with self.database.transaction() as session:
            source = Source(
                name=name,
                source_type="rss",
                reliability_score=None if reliability is None else Decimal(reliability),
            )
            session.add(source)
            session.flush()
            return source.id
