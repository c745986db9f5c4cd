"""behavioral pairs: a shared malware family, campaign, actor or distinctive tag; a value too
many indicators share is no evidence."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.correlations.discovery import (
    DiscoveryReport,
    Limits,
    behavioural_tag,
    discover,
)
from krsn.detection.models import CorrelationType, ThreatCorrelation
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.sharing import campaigns, knowledge, links

SYSTEM = Actor.system()


def seed(
    db: Database, rows: list[ParsedRow], source: str = "behaviour feed"
) -> dict[str, uuid.UUID]:
    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name=source, reliability=50)
    ingest(db, source=ref, rows=rows)
    with db.transaction(readonly=True) as session:
        found = session.execute(select(ThreatIndicator.indicator_value, ThreatIndicator.id))
        return {value: indicator_id for value, indicator_id in found}


def row(
    line: int, value: str, *, tags: tuple[str, ...] = (), family: str | None = None
) -> ParsedRow:
    return ParsedRow(line=line, value=value, tags=tags, malware_family=family)


def run(db: Database, **scope: Any) -> DiscoveryReport:
    with db.transaction() as session:
        return discover(session, now=utcnow(), **scope)


def behavioral(db: Database) -> dict[frozenset[str], list[dict[str, Any]]]:
    primary, related = aliased(ThreatIndicator), aliased(ThreatIndicator)
    statement = (
        select(ThreatCorrelation, primary.indicator_value, related.indicator_value)
        .join(primary, primary.id == ThreatCorrelation.primary_indicator_id)
        .join(related, related.id == ThreatCorrelation.related_indicator_id)
        .where(ThreatCorrelation.correlation_type == CorrelationType.BEHAVIORAL)
    )
    with db.transaction(readonly=True) as session:
        return {
            frozenset((a, b)): found.correlation_data["evidence"]
            for found, a, b in session.execute(statement)
        }


def test_handling_and_galaxy_tags_are_not_behaviour():
    assert behavioural_tag("c2-infrastructure")
    assert behavioural_tag('misp-galaxy:tool="X-Agent"')
    assert not behavioural_tag("tlp:amber")
    assert not behavioural_tag('workflow:state="incomplete"')
    assert not behavioural_tag('misp-galaxy:malpedia="Emotet"')  # the family carries it
    assert not behavioural_tag('misp-galaxy:threat-actor="Sofacy"')  # the actor link does
    assert not behavioural_tag("  ")


def test_a_shared_family_and_a_distinctive_tag_pair_indicators(db: Database):
    ids = seed(
        db,
        [
            row(1, "pika-one.example.com", family="Pikabot"),
            row(2, "198.51.100.40", family="Pikabot"),
            row(3, "infra-a.example.net", tags=("c2-cluster-17",)),
            row(4, "infra-b.example.net", tags=("c2-cluster-17",)),
            row(5, "marked-a.example.org", tags=("tlp:amber",)),
            row(6, "marked-b.example.org", tags=("tlp:amber",)),
        ],
    )

    run(db, indicator_ids=set(ids.values()))

    found = behavioral(db)
    assert set(found) == {
        frozenset({"pika-one.example.com", "198.51.100.40"}),
        frozenset({"infra-a.example.net", "infra-b.example.net"}),
    }
    (family,) = found[frozenset({"pika-one.example.com", "198.51.100.40"})]
    assert (family["kind"], family["value"], family["shared_by"]) == (
        "malware_family",
        "Pikabot",
        2,
    )
    (tag,) = found[frozenset({"infra-a.example.net", "infra-b.example.net"})]
    assert (tag["kind"], tag["value"]) == ("tag", "c2-cluster-17")
    # A family says more than a tag shared as rarely.
    assert family["strength"] > tag["strength"]


def test_a_tag_on_too_many_indicators_is_skipped(db: Database):
    limits = Limits(max_shared=5)
    common = [row(i, f"common-{i}.example.com", tags=("malware",)) for i in range(1, 7)]
    rare = [row(10 + i, f"rare-{i}.example.com", tags=("malware", "loader-x")) for i in range(2)]
    ids = seed(db, common + rare)

    result = run(db, indicator_ids=set(ids.values()), limits=limits)

    assert set(behavioral(db)) == {frozenset({"rare-0.example.com", "rare-1.example.com"})}
    skipped = [
        (g.kind, g.key, g.size) for g in result.skipped if g.correlation_type == "behavioral"
    ]
    assert skipped == [("tag", "malware", 8)]


def test_a_shared_campaign_pairs_its_indicators(db: Database):
    ids = seed(db, [row(1, "203.0.113.50"), row(2, "spear.example.com"), row(3, "203.0.113.51")])
    with db.transaction() as session:
        campaign = knowledge.create(
            session, campaigns.KIND, actor=SYSTEM, values={"campaign_name": "Operation Drizzle"}
        )
        for value in ("203.0.113.50", "spear.example.com"):
            links.add_link(
                session,
                actor=SYSTEM,
                kind=links.CAMPAIGN_LINKS,
                owner_id=campaign.id,
                indicator=value,
                values={},
            )
        campaign_id = campaign.id

    result = run(db, indicator_ids=[ids["203.0.113.50"]])

    found = behavioral(db)
    assert set(found) == {frozenset({"203.0.113.50", "spear.example.com"})}
    (evidence,) = found[frozenset({"203.0.113.50", "spear.example.com"})]
    assert evidence["kind"] == "campaign"
    assert evidence["campaign_id"] == str(campaign_id)
    assert evidence["name"] == "Operation Drizzle"
    assert result.created["behavioral"] == 1
