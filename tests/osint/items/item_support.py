"""An investigation to store items into: a user, a collection and an OSINT source."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from detection_support import add_user
from krsn.db import Database
from krsn.osint.extract.text import extract_text
from krsn.osint.models import Collection, CollectorType, Source

# The real extractor without the named-entity model: the tests here are about storage.
IOC_ONLY = partial(extract_text, ner=False)


@dataclass(frozen=True)
class Investigation:
    user_id: uuid.UUID
    collection_id: uuid.UUID
    source_id: uuid.UUID


def start_investigation(
    database: Database, *, name: str = "acme", reliability: str | None = "0.80"
) -> Investigation:
    """A user with a news collection and its source."""
    with database.transaction() as session:
        user_id = add_user(session, f"analyst-{name}")
        collection = Collection(
            user_id=user_id, name=name, collector_type=CollectorType.NEWS, config={}
        )
        source = Source(
            name=f"{name}-feed",
            source_type="rss",
            reliability_score=None if reliability is None else Decimal(reliability),
        )
        session.add_all([collection, source])
        session.flush()
        return Investigation(user_id, collection.id, source.id)
