"""Migration 0010 on a database that already holds entities: each name gets its key, the
extended types are accepted, and the full-text index still finds the rebuilt rows."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text

from krsn.db import migrate
from krsn.db.database import Database
from krsn.osint.entities.models import EntityAlias
from krsn.osint.models import EntityType
from krsn.osint.search.schemas import SearchIndex
from krsn.osint.search.service import search


@pytest.fixture(params=["sqlite", "postgresql"])
def before_0010(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of this test's own, migrated up to the revision before 0010."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'krsn.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    migrate.upgrade(url, "0009_osint_graph")
    return url


def test_existing_entities_get_keys_and_stay_searchable(before_0010: str) -> None:
    database = Database(before_0010)
    ids = {}
    try:
        with database.engine.begin() as connection:
            # The second "bravo" is younger: the first one keeps the name.
            names = ["bravo.example.com", "charlie.example.com", "bravo.example.com"]
            for day, name in enumerate(names, start=1):
                entity_id = uuid.uuid4()
                ids.setdefault(name, entity_id)
                value = entity_id.hex if database.dialect == "sqlite" else str(entity_id)
                connection.execute(
                    text(
                        "INSERT INTO entities (id, entity_type, name, normalized_name, created_at)"
                        " VALUES (:id, 'domain', :name, :name, :at)"
                    ),
                    {"id": value, "name": name, "at": f"2026-01-0{day} 00:00:00"},
                )
        migrate.upgrade(before_0010)

        with database.transaction() as session:
            keys = {a.normalized_name: a.entity_id for a in session.scalars(select(EntityAlias))}
            assert set(keys) == {"bravo.example.com", "charlie.example.com"}
            assert keys == ids
            found = search(session, q="charlie", indices=[SearchIndex.ENTITIES])
            assert [hit.title for hit in found.items] == ["charlie.example.com"]
            session.execute(
                text(
                    "INSERT INTO entities (id, entity_type, name, normalized_name) "
                    "VALUES (:id, 'cve', 'CVE-2024-3094', 'CVE-2024-3094')"
                ),
                {"id": uuid.uuid4().hex if database.dialect == "sqlite" else str(uuid.uuid4())},
            )
        with database.transaction(readonly=True) as session:
            found = search(session, q="CVE-2024-3094", indices=[SearchIndex.ENTITIES])
            assert [hit.type for hit in found.items] == [EntityType.CVE.value]
    finally:
        database.dispose()
