"""Storing collected records: content-hash deduplication, raw documents, processing."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from item_support import IOC_ONLY, Investigation, start_investigation
from sqlalchemy import func, select

from krsn.db import Database
from krsn.osint.collectors.base import Collected, Observed
from krsn.osint.items.store import StoredBatch, content_hash, store_collected
from krsn.osint.models import CollectionItem, Entity, EntitySource, EntityType, RawDocument

PUBLISHED = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def article(body: str, **extra: object) -> Collected:
    return Collected(
        item_type="article",
        raw={"link": "https://news.example.org/a/1", "body": body, **extra},
        text=body,
        url="https://news.example.org/a/1",
        title="Breach at Acme",
        published_at=PUBLISHED,
    )


def test_the_same_record_stored_twice_is_one_item(
    db: Database, investigation: Investigation
) -> None:
    record = article("Acme was breached.")
    with db.transaction() as session:
        first = store_collected(
            session,
            collection_id=investigation.collection_id,
            source_id=investigation.source_id,
            records=[record],
            extractor=IOC_ONLY,
        )
    with db.transaction() as session:
        again = store_collected(
            session,
            collection_id=investigation.collection_id,
            source_id=investigation.source_id,
            records=[record, article("Acme was breached.")],
            extractor=IOC_ONLY,
        )
        items = session.execute(select(func.count()).select_from(CollectionItem)).scalar()
    assert len(first.new_item_ids) == 1 and first.duplicates == 0
    assert again.new_item_ids == [] and again.duplicates == 2
    assert items == 1


def test_a_record_seen_by_another_collection_is_a_duplicate(db: Database) -> None:
    one = start_investigation(db, name="one")
    two = start_investigation(db, name="two")
    record = Collected(item_type="post", raw={"id": 7}, hash_basis="mastodon:7")
    with db.transaction() as session:
        store_collected(
            session,
            collection_id=one.collection_id,
            source_id=None,
            records=[record],
            extractor=IOC_ONLY,
        )
    other = Collected(item_type="post", raw={"id": 7, "edited": True}, hash_basis="mastodon:7")
    with db.transaction() as session:
        result = store_collected(
            session,
            collection_id=two.collection_id,
            source_id=two.source_id,
            records=[other],
            extractor=IOC_ONLY,
        )
    assert result.duplicates == 1 and result.new_item_ids == []


def test_the_hash_is_of_the_basis_or_of_canonical_json() -> None:
    assert content_hash(Collected("post", raw={"b": 1, "a": 2})) == content_hash(
        Collected("post", raw={"a": 2, "b": 1})
    )
    assert content_hash(Collected("post", raw={"a": 1}, hash_basis="x")) == content_hash(
        Collected("post", raw={"a": 2}, hash_basis="x")
    )
    assert content_hash(Collected("post", raw={"a": 1})) != content_hash(
        Collected("post", raw={"a": 2})
    )


def test_each_new_record_keeps_a_raw_document(db: Database, investigation: Investigation) -> None:
    record = article("Acme was breached.")
    record.file_info = {"filename": "a.html", "size": 18, "mime_type": "text/html"}
    with db.transaction() as session:
        result = store_collected(
            session,
            collection_id=investigation.collection_id,
            source_id=investigation.source_id,
            records=[record],
            extractor=IOC_ONLY,
        )
        document = session.scalars(select(RawDocument)).one()
        item = session.get(CollectionItem, result.new_item_ids[0])
    assert result.documents == 1
    assert document.content == "Acme was breached."
    assert document.document_type == "article"
    assert document.source == "acme-feed"
    assert document.hash == item.hash == content_hash(record)
    assert document.metadata_["url"] == "https://news.example.org/a/1"
    assert document.metadata_["title"] == "Breach at Acme"
    assert document.metadata_["published_at"] == PUBLISHED.isoformat()
    assert document.metadata_["item_id"] == str(item.id)
    assert document.file_info == {"filename": "a.html", "size": 18, "mime_type": "text/html"}


def test_new_items_are_processed_into_entities(db: Database, investigation: Investigation) -> None:
    record = Collected(
        item_type="dns_record",
        raw={"name": "evil.example.com", "a": "203.0.113.7"},
        entities=[
            Observed(EntityType.DOMAIN, "evil.example.com"),
            Observed(EntityType.IP_ADDRESS, "203.0.113.7"),
        ],
    )
    with db.transaction() as session:
        result = store_collected(
            session,
            collection_id=investigation.collection_id,
            source_id=investigation.source_id,
            records=[record],
            extractor=IOC_ONLY,
        )
        item = session.get(CollectionItem, result.new_item_ids[0])
    assert result.entities == 2
    assert item.is_processed is True


def test_two_runs_storing_the_same_record_at_once_store_it_once(
    db: Database, investigation: Investigation
) -> None:
    record = article("203.0.113.200 hosts the panel of race-panel.example.com")
    stored = threading.Event()
    release = threading.Event()
    results: dict[str, StoredBatch] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with db.transaction() as session:
                results["first"] = store_collected(
                    session,
                    collection_id=investigation.collection_id,
                    source_id=investigation.source_id,
                    records=[record],
                    extractor=IOC_ONLY,
                )
                stored.set()
                release.wait(10)
        except BaseException as error:  # handed to the test thread
            errors.append(error)
            stored.set()

    def second() -> None:
        try:
            with db.transaction() as session:
                # Blocks on the first run's uncommitted rows (PostgreSQL) or write lock (SQLite).
                results["second"] = store_collected(
                    session,
                    collection_id=investigation.collection_id,
                    source_id=investigation.source_id,
                    records=[record],
                    extractor=IOC_ONLY,
                )
        except BaseException as error:
            errors.append(error)

    one = threading.Thread(target=first)
    one.start()
    assert stored.wait(10)
    two = threading.Thread(target=second)
    two.start()
    time.sleep(0.3)
    release.set()
    one.join(10)
    two.join(10)

    assert errors == []
    assert len(results["first"].new_item_ids) == 1
    assert results["second"].new_item_ids == [] and results["second"].duplicates == 1
    with db.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(CollectionItem)) == 1
        assert session.scalar(select(func.count()).select_from(RawDocument)) == 1


def test_the_platform_extractor_finds_names_and_indicators_by_default(
    db: Database, investigation: Investigation
) -> None:
    with db.transaction() as session:
        store_collected(
            session,
            collection_id=investigation.collection_id,
            source_id=investigation.source_id,
            records=[article("Acme Corp hired John Smith after evil-login.example.com leaked.")],
        )
    with db.transaction(readonly=True) as session:
        found = {
            (row.entity_type, row.normalized_name): method
            for row, method in session.execute(
                select(Entity, EntitySource.extraction_method).join(
                    EntitySource, EntitySource.entity_id == Entity.id
                )
            )
        }
    assert found[(EntityType.DOMAIN, "evil-login.example.com")] == "regex"
    assert found[(EntityType.ORGANIZATION, "acme")].startswith("ner:")
