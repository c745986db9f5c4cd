"""Rows the detection tests start from, made through the real ingestion path."""

from __future__ import annotations

from collections.abc import Sequence

from krsn.db import Database
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import SourceRef, ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor


def seed_indicators(
    database: Database,
    values: Sequence[str],
    *,
    source: str = "feed",
    severity_tags: tuple[str, ...] = (),
    malware_family: str | None = None,
) -> SourceRef:
    """Ingest ``values`` as one feed's report (confidence 80) and return the source."""
    with database.transaction() as session:
        ref = ensure_source(session, actor=Actor.system(), name=source, reliability=90)
    rows = [
        ParsedRow(line=i + 1, value=v, tags=severity_tags, malware_family=malware_family)
        for i, v in enumerate(values)
    ]
    ingest(database, rows=rows, source=ref, default_confidence=80)
    return ref
