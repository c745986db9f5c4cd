"""What a search answers, for the API and the command line's ``--json``."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class SearchIndex(enum.StrEnum):
    """The searchable indices: the OSINT design's three plus threat indicators."""

    ENTITIES = "entities"
    DOCUMENTS = "documents"
    AUDIT_LOGS = "audit_logs"
    INDICATORS = "indicators"


class MatchKind(enum.StrEnum):
    """How a hit matched, best first; hits are ordered by kind, then by rank within it."""

    EXACT = "exact"  # the whole name or value, or its canonical form
    WORDS = "words"  # the query's words, phrases and prefixes (ranked by bm25 / ts_rank)
    SUBSTRING = "substring"  # part of an entity's name
    FUZZY = "fuzzy"  # an entity name close to a mistyped query


class Fragment(BaseModel):
    """A run of the hit's text; ``match`` marks what the query found."""

    text: str
    match: bool


class SearchHit(BaseModel):
    index: SearchIndex
    id: uuid.UUID
    title: str = Field(description="Entity name, indicator value, document source, audit action.")
    type: str | None = Field(
        None, description="Entity type, document type, indicator type or audited resource type."
    )
    match: MatchKind
    score: float = Field(description="Higher is better; comparable within one answer only.")
    field: str = Field(description="The field the highlight comes from.")
    snippet: str = Field(description="The highlight as HTML: text escaped, matches in <mark>.")
    fragments: list[Fragment] = Field(description="The same highlight as plain runs of text.")
    risk: float | None = Field(None, description="Entity risk score or indicator threat score.")
    tags: list[str] = []
    seen_at: datetime | None = Field(
        None, description="Last seen (entities, indicators) or created (documents, audit)."
    )


class SearchResult(BaseModel):
    query: str = Field(description="The query as parsed: what was searched for.")
    indices: list[SearchIndex]
    items: list[SearchHit]
    ranked_of: int = Field(description="How many candidates were ranked to choose these hits.")
    total_estimate: int = Field(
        description="How many records match the words (exact when not approximate, else an "
        "estimate from the index: an upper bound on SQLite, the planner's on PostgreSQL)."
    )
    approximate: bool = Field(
        description="True when more records matched than were ranked: the hits are the best "
        "of a bounded candidate set, not of every match."
    )
    truncated: bool = Field(False, description="The query was cut to its first terms.")
