"""Risk scores: each documented factor moves the score, and the history says why."""

from __future__ import annotations

from risk_support import Investigation
from sqlalchemy import select

from detection_support import seed_indicators
from krsn.db import Database
from krsn.detection.models import WatchlistType
from krsn.detection.watchlists import service as watchlists
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.osint.collectors.base import Collected, Observed, ObservedRelation
from krsn.osint.models import EntityType, RelationshipType, RiskLevel, RiskScore
from krsn.osint.risk.service import WEIGHTS, level_of, rescore, rescore_all

# The sources factor of one source of unknown reliability: 10 × 0.5 / 3, rounded.
ONE_SOURCE = round(WEIGHTS["sources"] * 0.5 / 3)


def history(database: Database, entity_id: object) -> list[RiskScore]:
    with database.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(RiskScore)
                .where(RiskScore.entity_id == entity_id)
                .order_by(RiskScore.calculated_at, RiskScore.score)
            )
        )


def factor(row: RiskScore, name: str) -> dict:
    (found,) = [f for f in row.factors if f["factor"] == name]
    return found


def record(
    key: str, *entities: Observed, relations: list[ObservedRelation] | None = None
) -> Collected:
    return Collected(
        item_type="record", raw={"k": key}, entities=list(entities), relations=relations or []
    )


def test_levels_follow_the_documented_bands() -> None:
    assert [level_of(s) for s in (0, 25, 26, 50, 51, 75, 76, 100)] == [
        RiskLevel.LOW,
        RiskLevel.LOW,
        RiskLevel.MEDIUM,
        RiskLevel.MEDIUM,
        RiskLevel.HIGH,
        RiskLevel.HIGH,
        RiskLevel.CRITICAL,
        RiskLevel.CRITICAL,
    ]


def test_a_plain_entity_is_low_and_its_first_score_is_recorded(
    investigation: Investigation,
) -> None:
    investigation.store(record("a", Observed(EntityType.DOMAIN, "quiet.example.org")))
    entity = investigation.entity(EntityType.DOMAIN, "quiet.example.org")
    (row,) = history(investigation.database, entity.id)
    # One source of unknown reliability is the only thing said about it.
    assert [f["factor"] for f in row.factors if f["contribution"]] == ["sources"]
    assert (entity.risk_score, row.score, row.level) == (ONE_SOURCE, ONE_SOURCE, RiskLevel.LOW)
    assert {f["factor"] for f in row.factors} == set(WEIGHTS)
    assert row.calculation_method == "krsn-risk-v1"


def test_a_linked_indicator_raises_the_score_by_its_threat_score(
    db: Database, investigation: Investigation
) -> None:
    seed_indicators(db, ["bad.example.net"], malware_family="Emotet")
    investigation.store(record("a", Observed(EntityType.DOMAIN, "bad.example.net")))

    entity = investigation.entity(EntityType.DOMAIN, "bad.example.net")
    with db.transaction(readonly=True) as session:
        threat = float(session.scalars(select(ThreatIndicator.threat_score)).one())
    latest = history(db, entity.id)[-1]
    evidence = factor(latest, "indicator")
    assert evidence["contribution"] == round(WEIGHTS["indicator"] * threat / 100, 2)
    assert evidence["evidence"]["value"] == "bad.example.net"
    expected = WEIGHTS["indicator"] * threat / 100 + WEIGHTS["sources"] * 0.5 / 3
    assert entity.risk_score == latest.score == round(expected)


def test_a_sanctions_match_makes_an_organisation_high_risk(investigation: Investigation) -> None:
    investigation.store(
        record(
            "s",
            Observed(
                EntityType.ORGANIZATION,
                "Rosoboronexport JSC",
                properties={"sanctioned": True, "sanctions": ["EU", "OFAC"]},
            ),
        )
    )
    entity = investigation.entity(EntityType.ORGANIZATION, "Rosoboronexport")
    latest = history(investigation.database, entity.id)[-1]
    assert factor(latest, "sanctions")["contribution"] == WEIGHTS["sanctions"]
    assert factor(latest, "sanctions")["evidence"]["sanctions"] == ["EU", "OFAC"]
    assert latest.level == RiskLevel.HIGH


def test_a_watchlist_hit_counts_after_a_rescore_and_history_shows_the_change(
    db: Database, investigation: Investigation
) -> None:
    investigation.store(record("w", Observed(EntityType.DOMAIN, "cdn.tracked.example.com")))
    entity = investigation.entity(EntityType.DOMAIN, "cdn.tracked.example.com")
    with db.transaction() as session:
        listed = watchlists.create_watchlist(
            session,
            actor=Actor.system(),
            values={"name": "tracked", "list_type": WatchlistType.DOMAIN_BLACKLIST},
        )
        watchlists.add_items(
            session, actor=Actor.system(), watchlist_id=listed.id, items=["tracked.example.com"]
        )
    with db.transaction() as session:
        rescore(session, entity_ids=[entity.id])

    before, after = history(db, entity.id)
    assert before.score == ONE_SOURCE
    assert after.score == ONE_SOURCE + WEIGHTS["watchlist"]
    hit = factor(after, "watchlist")
    assert hit["evidence"][0]["watchlist"] == "tracked"
    assert hit["evidence"][0]["item"] == "tracked.example.com"


def test_listing_and_unlisting_an_entity_value_rescores_it_at_once(
    db: Database, investigation: Investigation
) -> None:
    investigation.store(record("l", Observed(EntityType.DOMAIN, "listed.example.com")))
    entity = investigation.entity(EntityType.DOMAIN, "listed.example.com")
    with db.transaction() as session:
        listed = watchlists.create_watchlist(
            session,
            actor=Actor.system(),
            values={"name": "listed", "list_type": WatchlistType.DOMAIN_BLACKLIST},
        )
        watchlists.add_items(
            session, actor=Actor.system(), watchlist_id=listed.id, items=["listed[.]example.com"]
        )
    on_list = investigation.entity(EntityType.DOMAIN, "listed.example.com").risk_score

    with db.transaction() as session:
        watchlists.remove_values(
            session, actor=Actor.system(), watchlist_id=listed.id, values=["listed.example.com"]
        )

    assert on_list == ONE_SOURCE + WEIGHTS["watchlist"]
    assert investigation.entity(EntityType.DOMAIN, "listed.example.com").risk_score == ONE_SOURCE
    assert [h.score for h in history(db, entity.id)] == [
        ONE_SOURCE,
        ONE_SOURCE + WEIGHTS["watchlist"],
        ONE_SOURCE,
    ]


def test_a_high_risk_neighbour_raises_the_score_by_proximity(
    investigation: Investigation,
) -> None:
    investigation.store(
        record(
            "p",
            Observed(EntityType.ORGANIZATION, "Shady Holdings", properties={"sanctioned": True}),
            Observed(EntityType.DOMAIN, "shady-holdings.example.com"),
            relations=[
                ObservedRelation(
                    (EntityType.ORGANIZATION, "Shady Holdings"),
                    (EntityType.DOMAIN, "shady-holdings.example.com"),
                    RelationshipType.OWNS,
                )
            ],
        )
    )
    owner = investigation.entity(EntityType.ORGANIZATION, "Shady Holdings")
    domain = investigation.entity(EntityType.DOMAIN, "shady-holdings.example.com")
    with investigation.database.transaction() as session:
        rescore(session, entity_ids=[domain.id])

    latest = history(investigation.database, domain.id)[-1]
    near = factor(latest, "proximity")
    assert near["evidence"][0] == {"kind": "entity", "id": str(owner.id), "score": owner.risk_score}
    assert near["contribution"] == round(WEIGHTS["proximity"] * owner.risk_score / 100, 2)
    assert latest.score > 0


def test_a_neighbour_turning_high_risk_rescores_its_neighbours_without_being_asked(
    investigation: Investigation,
) -> None:
    investigation.store(record("d", Observed(EntityType.DOMAIN, "owned.example.com")))
    domain = investigation.entity(EntityType.DOMAIN, "owned.example.com")
    assert factor(history(investigation.database, domain.id)[-1], "proximity")["value"] == 0

    # A later record says a sanctioned company owns it: both are touched in one batch.
    investigation.store(
        record(
            "o",
            Observed(EntityType.ORGANIZATION, "Owner Holdings", properties={"sanctioned": True}),
            Observed(EntityType.DOMAIN, "owned.example.com"),
            relations=[
                ObservedRelation(
                    (EntityType.ORGANIZATION, "Owner Holdings"),
                    (EntityType.DOMAIN, "owned.example.com"),
                    RelationshipType.OWNS,
                )
            ],
        )
    )

    owner = investigation.entity(EntityType.ORGANIZATION, "Owner Holdings")
    latest = history(investigation.database, domain.id)[-1]
    near = factor(latest, "proximity")
    assert owner.risk_score >= 51
    assert near["evidence"][0]["id"] == str(owner.id)
    assert investigation.entity(EntityType.DOMAIN, "owned.example.com").risk_score == latest.score


def test_reliable_sources_corroborate(investigation: Investigation) -> None:
    reliable = [investigation.add_source(f"wire-{n}", "0.90") for n in range(3)]
    for n, source_id in enumerate(reliable):
        investigation.store(
            record(f"r{n}", Observed(EntityType.DOMAIN, "widely-reported.example.com")),
            source_id=source_id,
        )
    investigation.store(record("u", Observed(EntityType.DOMAIN, "once.example.com")))

    wide = history(
        investigation.database,
        investigation.entity(EntityType.DOMAIN, "widely-reported.example.com").id,
    )[-1]
    once = history(
        investigation.database, investigation.entity(EntityType.DOMAIN, "once.example.com").id
    )[-1]
    assert factor(wide, "sources")["value"] == 0.9
    assert factor(once, "sources")["value"] == round(0.5 / 3, 4)  # unknown reliability
    assert wide.score > once.score


def test_an_unchanged_score_adds_no_history_but_rescore_all_covers_everyone(
    investigation: Investigation,
) -> None:
    investigation.store(record("a", Observed(EntityType.DOMAIN, "one.example.org")))
    investigation.store(record("b", Observed(EntityType.DOMAIN, "one.example.org")))
    entity = investigation.entity(EntityType.DOMAIN, "one.example.org")
    assert len(history(investigation.database, entity.id)) == 1

    with investigation.database.transaction() as session:
        assert rescore_all(session) == 1
        rescore(session, entity_ids=[entity.id], force=True)
    assert len(history(investigation.database, entity.id)) == 2
