"""One adapter per engine behind the search service: SQLite FTS5 and PostgreSQL tsvector.

Each answers three questions on a searched table ``t``, always with a bound on the rows it
reads: which rows match the parsed words (with the engine's rank), which entity names hold
a substring, and roughly how many rows match. Filters arrive as SQL over ``t`` with bound
parameters; only the tag test differs between the engines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from krsn.osint.search.query import Query
from krsn.osint.search.schema import ENTITIES, TRIGRAM, Indexed

# bm25 weights per indexed column (see schema): a hit in the name outweighs one in the tags.
_BM25_WEIGHTS = {
    "entities": "10.0, 5.0, 1.0",
    "raw_documents": "1.0, 2.0",
    "audit_logs": "3.0, 2.0, 2.0, 1.0, 2.0",
    "threat_indicators": "1.0",
}


def _where(filters: str) -> str:
    return f" AND {filters}" if filters else ""


class Backend(Protocol):
    def words(
        self,
        session: Session,
        spec: Indexed,
        query: Query,
        *,
        filters: str,
        params: Mapping[str, Any],
        limit: int,
    ) -> list[tuple[Any, float]]:
        """(id, rank) of at most ``limit`` matching rows; higher rank is better."""
        ...

    def substring(
        self,
        session: Session,
        needle: str,
        *,
        filters: str,
        params: Mapping[str, Any],
        limit: int,
    ) -> list[Any]:
        """Ids of at most ``limit`` entities whose name holds ``needle`` (3+ characters)."""
        ...

    def estimate(self, session: Session, spec: Indexed, query: Query) -> int:
        """About how many rows of ``spec`` match the query's words, from the index alone."""
        ...

    def tag_condition(self, spec: Indexed, param: str) -> str:
        """SQL that holds when row ``t`` carries the tag bound as ``:param``."""
        ...


class SqliteBackend:
    """FTS5 over external content: ``MATCH`` without ``ORDER BY`` reads doclists in rowid
    order and stops at the limit, and ``bm25()`` is computed only for the rows read."""

    def words(
        self,
        session: Session,
        spec: Indexed,
        query: Query,
        *,
        filters: str,
        params: Mapping[str, Any],
        limit: int,
    ) -> list[tuple[Any, float]]:
        sql = (
            f"SELECT t.id, bm25({spec.fts}, {_BM25_WEIGHTS[spec.table]}) "  # noqa: S608
            f"FROM {spec.fts} JOIN {spec.table} t ON t.rowid = {spec.fts}.rowid "
            f"WHERE {spec.fts} MATCH :match{_where(filters)} LIMIT :limit"
        )
        rows = session.execute(text(sql), {**params, "match": query.fts5(), "limit": limit})
        # bm25 is negative, more negative for better matches.
        return [(row[0], -float(row[1])) for row in rows]

    def substring(
        self,
        session: Session,
        needle: str,
        *,
        filters: str,
        params: Mapping[str, Any],
        limit: int,
    ) -> list[Any]:
        # A quoted string is one trigram phrase: the needle anywhere in the name.
        match = '"' + needle.replace('"', '""') + '"'
        sql = (
            f"SELECT t.id FROM {TRIGRAM} JOIN {ENTITIES.table} t "  # noqa: S608
            f"ON t.rowid = {TRIGRAM}.rowid WHERE {TRIGRAM} MATCH :match{_where(filters)} "
            "LIMIT :limit"
        )
        rows = session.execute(text(sql), {**params, "match": match, "limit": limit})
        return [row[0] for row in rows]

    def estimate(self, session: Session, spec: Indexed, query: Query) -> int:
        vocab = f"{spec.fts}_vocab"
        best: int | None = None
        for term in query.required:
            counts: list[int] = []
            exact = term.tokens[:-1] if term.prefix else term.tokens
            for token in exact:
                found = session.execute(
                    text(f"SELECT doc FROM {vocab} WHERE term = :term"),  # noqa: S608
                    {"term": token},
                ).scalar()
                counts.append(int(found or 0))
            if term.prefix:
                last = term.tokens[-1]
                found = session.execute(
                    text(
                        f"SELECT sum(doc) FROM {vocab} "  # noqa: S608
                        "WHERE term >= :low AND term < :high"
                    ),
                    {"low": last, "high": last + "\U0010ffff"},
                ).scalar()
                counts.append(int(found or 0))
            if counts:
                best = min(counts) if best is None else min(best, min(counts))
        return best or 0

    def tag_condition(self, spec: Indexed, param: str) -> str:
        source = "t.tags" if spec is ENTITIES else "t.metadata, '$.tags'"
        return f"EXISTS (SELECT 1 FROM json_each({source}) WHERE json_each.value = :{param})"  # noqa: S608


class PostgresBackend:
    """tsvector side tables: the GIN index finds the rows, ``LIMIT`` without ``ORDER BY``
    stops reading at the bound, and ``ts_rank`` runs on the stored vectors read."""

    def words(
        self,
        session: Session,
        spec: Indexed,
        query: Query,
        *,
        filters: str,
        params: Mapping[str, Any],
        limit: int,
    ) -> list[tuple[Any, float]]:
        # Normalisation 1 divides by 1 + log(length): a short name that is the query wins.
        sql = (
            "SELECT t.id, ts_rank(f.vector, to_tsquery('simple', :tsquery), 1) "  # noqa: S608
            f"FROM {spec.fts} f JOIN {spec.table} t ON t.id = f.id "
            f"WHERE f.vector @@ to_tsquery('simple', :tsquery){_where(filters)} LIMIT :limit"
        )
        # The vectors live in TOAST, so the side table's heap looks small and a sequential
        # scan cheap to the planner, which then detoasts row after row hunting for a rare
        # word (0.3-0.9 s on 200,000 documents); the GIN index is always the right start.
        # SET LOCAL semantics (is_local): a failed query rolls the transaction back, and
        # the setting with it.
        previous = session.execute(
            text(
                "SELECT current_setting('enable_seqscan'), "
                "set_config('enable_seqscan', 'off', true)"
            )
        ).scalar()
        rows = session.execute(
            text(sql), {**params, "tsquery": query.tsquery(), "limit": limit}
        ).all()
        session.execute(
            text("SELECT set_config('enable_seqscan', :previous, true)"), {"previous": previous}
        )
        return [(row[0], float(row[1])) for row in rows]

    def substring(
        self,
        session: Session,
        needle: str,
        *,
        filters: str,
        params: Mapping[str, Any],
        limit: int,
    ) -> list[Any]:
        escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql = (
            f"SELECT t.id FROM {ENTITIES.fts} f JOIN {ENTITIES.table} t "  # noqa: S608
            f"ON t.id = f.id WHERE f.name LIKE :pattern{_where(filters)} LIMIT :limit"
        )
        rows = session.execute(text(sql), {**params, "pattern": f"%{escaped}%", "limit": limit})
        return [row[0] for row in rows]

    def estimate(self, session: Session, spec: Indexed, query: Query) -> int:
        # The planner's row estimate (from the tsvector statistics ANALYZE keeps) costs a
        # plan, where counting a common word's matches costs a scan of all of them.
        literal = "'" + query.tsquery().replace("'", "''") + "'"
        plan = session.execute(
            text(
                "EXPLAIN (FORMAT JSON) SELECT 1 FROM "  # noqa: S608 - tokens only, quoted
                f"{spec.fts} f WHERE f.vector @@ to_tsquery('simple', {literal})"
            )
        ).scalar()
        document: Any = json.loads(plan) if isinstance(plan, str) else plan
        return int(document[0]["Plan"]["Plan Rows"])

    def tag_condition(self, spec: Indexed, param: str) -> str:
        if spec is ENTITIES:
            return f"CAST(:{param} AS text) = ANY(t.tags)"
        return f"(t.metadata -> 'tags') @> jsonb_build_array(CAST(:{param} AS text))"


def backend_for(session: Session) -> Backend:
    """The adapter for the engine ``session`` is bound to."""
    if session.get_bind().dialect.name == "postgresql":
        return PostgresBackend()
    return SqliteBackend()
