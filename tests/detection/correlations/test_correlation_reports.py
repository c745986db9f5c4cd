"""ip_domain and hash_ip pairs from threat reports that reference both indicators."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.correlations.discovery import DiscoveryReport, Limits, discover
from krsn.detection.models import CorrelationType, ThreatCorrelation
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.sharing import knowledge, reports

SYSTEM = Actor.system()
HASH = "44d88612fea8a8f36de82e1278abb02f"


def seed(db: Database, *values: str) -> dict[str, uuid.UUID]:
    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name="report feed")
    ingest(db, source=ref, rows=[ParsedRow(line=i + 1, value=v) for i, v in enumerate(values)])
    with db.transaction(readonly=True) as session:
        found = session.execute(select(ThreatIndicator.indicator_value, ThreatIndicator.id))
        return {value: indicator_id for value, indicator_id in found}


def write_report(db: Database, title: str, ids: list[uuid.UUID]) -> uuid.UUID:
    with db.transaction() as session:
        row = knowledge.create(
            session,
            reports.KIND,
            actor=SYSTEM,
            values={"title": title, "indicators_referenced": ids},
        )
        return row.id


def run(db: Database, **scope: Any) -> DiscoveryReport:
    with db.transaction() as session:
        return discover(session, now=utcnow(), **scope)


def pairs(db: Database) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    primary, related = aliased(ThreatIndicator), aliased(ThreatIndicator)
    statement = (
        select(ThreatCorrelation, primary.indicator_value, related.indicator_value)
        .join(primary, primary.id == ThreatCorrelation.primary_indicator_id)
        .join(related, related.id == ThreatCorrelation.related_indicator_id)
        .where(
            ThreatCorrelation.correlation_type.in_(
                [CorrelationType.IP_DOMAIN, CorrelationType.HASH_IP]
            )
        )
    )
    with db.transaction(readonly=True) as session:
        return {
            (found.correlation_type.value, a, b): found.correlation_data["evidence"]
            for found, a, b in session.execute(statement)
        }


def test_a_report_links_what_it_references(db: Database):
    ids = seed(db, "lure.example.com", "192.0.2.80", HASH, "unrelated.example.com")
    report_id = write_report(
        db, "Loader wave", [ids["lure.example.com"], ids["192.0.2.80"], ids[HASH]]
    )

    run(db, indicator_ids=[ids["192.0.2.80"]])

    found = pairs(db)
    assert set(found) == {
        ("ip_domain", "lure.example.com", "192.0.2.80"),
        ("hash_ip", HASH, "192.0.2.80"),
    }
    for evidence in found.values():
        assert [(e["kind"], e["report_id"], e["title"], e["size"]) for e in evidence] == [
            ("report", str(report_id), "Loader wave", 3)
        ]


def test_a_report_too_large_is_skipped(db: Database):
    values = [f"host{i}.example.com" for i in range(4)] + ["192.0.2.81"]
    ids = seed(db, *values)
    report_id = write_report(db, "Everything", [ids[v] for v in values])

    result = run(db, limits=Limits(max_group=4))

    assert pairs(db) == {}
    assert [(g.kind, g.key, g.size) for g in result.skipped] == [("report", str(report_id), 5)]
