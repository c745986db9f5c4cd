"""The indices exist at head on each engine, in step with their tables."""

from __future__ import annotations

from sqlalchemy import text

from krsn.db import Database
from krsn.osint.search import schema


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
