"""The indices exist at head on each engine, in step with their tables."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from detection_support import seed_indicators
from krsn.db import Database
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.normalise import hash_signature
from krsn.osint.search import schema
from krsn.osint.search.schemas import SearchIndex
from krsn.osint.search.service import search


def test_every_searched_table_has_its_triggers_at_head(db: Database) -> None:
    # A later migration that rebuilds a table on SQLite would drop them silently.
    with db.transaction(readonly=True) as session:
        if db.dialect == "sqlite":
            names = set(
                session.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
                .scalars()
                .all()
            )
            expected = {
                f"{spec.fts}_{event}"
                for spec in schema.INDEXED
                for event in ("insert", "update", "delete")
                if not (event == "insert" and spec in schema.DEFERRED)
            }
        else:
            names = set(
                session.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
                .scalars()
                .all()
            )
            expected = {
                f"krsn_{spec.fts}_{event}"
                for spec in schema.INDEXED
                for event in ("insert", "update")
            }
    assert expected <= names


def test_rebuild_gives_the_same_answers(db: Database) -> None:
    from search_support import add_entity

    from krsn.osint.search import service

    with db.transaction() as session:
        add_entity(session, "rebuilt.example.com")
    with db.transaction() as session:
        schema.rebuild(session.connection())
    with db.transaction(readonly=True) as session:
        hits = service.search(session, q="rebuilt").items
    assert [hit.title for hit in hits] == ["rebuilt.example.com"]


def test_ingested_indicators_are_indexed_in_bulk(db: Database) -> None:
    seed_indicators(db, ["relay.bulk-load.example.net", "203.0.113.201", "https://x.example.org/a"])

    with db.transaction(readonly=True) as session:
        found = search(session, q="bulk", indices=[SearchIndex.INDICATORS])
        titles = [hit.title for hit in found.items]
        whole_ip = search(session, q="203.0.113.201", indices=[SearchIndex.INDICATORS])
        stored = session.scalar(select(func.count()).select_from(ThreatIndicator))
        if db.dialect == "sqlite":
            indexed = session.execute(text(f"SELECT count(*) FROM {schema.INDICATORS.fts}"))
            assert indexed.scalar() == stored
            trigger = session.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name = :n"),
                {"n": f"{schema.INDICATORS.fts}_insert"},
            ).scalar()
            assert trigger == 0  # the store indexes its batches itself
    assert titles == ["relay.bulk-load.example.net"]
    assert [hit.title for hit in whole_ip.items] == ["203.0.113.201"]


def test_a_row_written_one_by_one_is_still_indexed_by_its_trigger(db: Database) -> None:
    seed_indicators(db, ["first.example.net"])
    with db.transaction() as session:
        session.add(
            ThreatIndicator(
                indicator_type=IndicatorType.DOMAIN,
                indicator_value="second.trigger-path.example.net",
                hash_signature=hash_signature(
                    IndicatorType.DOMAIN, "second.trigger-path.example.net"
                ),
            )
        )
    with db.transaction(readonly=True) as session:
        found = search(session, q="trigger", indices=[SearchIndex.INDICATORS])
    assert [hit.title for hit in found.items] == ["second.trigger-path.example.net"]


def test_only_a_table_without_an_insert_trigger_is_indexed_in_bulk(sqlite_db: Database) -> None:
    with (
        sqlite_db.engine.begin() as connection,
        pytest.raises(ValueError),
        schema.bulk_indexed(connection, schema.ENTITIES),
    ):
        pass
