"""Resolving what an export shares: a collection, an actor, a campaign, a report or a query,
on both engines. ``seed`` builds the small world the STIX export tests share too."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select as sql_select

from krsn.db import Database
from krsn.errors import Invalid, NotFound
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.models import (
    ActorIndicator,
    CampaignIndicator,
    Classification,
    CollectionIndicator,
    IndicatorTechnique,
    IocCollection,
    MitreTechnique,
    ReportType,
    ThreatActor,
    ThreatCampaign,
    ThreatReport,
)
from krsn.sharing.selection import (
    Selection,
    parse_query,
    readable_by,
    resolve,
    select,
)

SEEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# One value of every kind the store holds, as a feed would send it.
VALUES = {
    "ipv4": "198.51.100.7",
    "ipv6": "2001:db8::1",
    "cidr4": "203.0.113.0/24",
    "cidr6": "2001:db8:abcd::/48",
    "domain": "c2.evil-example.com",
    "url": "http://c2.evil-example.com/gate.php?id=1",
    "email": "phisher@evil-example.com",
    "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "sha512": "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
}


@dataclass
class World:
    """The rows ``seed`` made, by what the tests call them."""

    indicators: dict[str, uuid.UUID]
    actor: uuid.UUID
    campaign: uuid.UUID
    collection: uuid.UUID
    private: uuid.UUID
    report: uuid.UUID
    owner: uuid.UUID | None = None


def ids_of(db: Database, values: list[str]) -> dict[str, uuid.UUID]:
    with db.transaction(readonly=True) as session:
        rows = session.execute(
            sql_select(ThreatIndicator.indicator_value, ThreatIndicator.id).where(
                ThreatIndicator.indicator_value.in_(values)
            )
        )
        return {value: row_id for value, row_id in rows}


def technique(technique_id: str, name: str, **columns: Any) -> MitreTechnique:
    empty: dict[str, Any] = {"data_sources": [], "platforms": [], "defenses_bypassed": []}
    return MitreTechnique(technique_id=technique_id, technique_name=name, **empty | columns)


def actor_row(name: str, **columns: Any) -> ThreatActor:
    empty: dict[str, Any] = {
        key: [] for key in ("motivations", "target_industries", "target_countries")
    }
    empty |= {"known_tools": [], "attribution_data": {}}
    return ThreatActor(actor_name=name, **empty | columns)


def campaign_row(name: str, **columns: Any) -> ThreatCampaign:
    empty: dict[str, Any] = {
        key: [] for key in ("tactics", "techniques", "procedures", "attributed_actors")
    }
    return ThreatCampaign(campaign_name=name, **empty | columns)


def report_row(title: str, **columns: Any) -> ThreatReport:
    return ThreatReport(title=title, **{"indicators_referenced": [], "attachments": []} | columns)


def seed(db: Database, *, owner: uuid.UUID | None = None) -> World:
    """Indicators of every kind through the feed pipeline, and by hand an actor, a campaign
    attributed to it, a public and a private collection, a report and technique links."""
    with db.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="feed-a", reliability=80)
    rows = [
        ParsedRow(
            line=number,
            value=value,
            first_seen=SEEN,
            tags=("malicious-activity", "emotet") if name in ("domain", "url") else ("c2",),
            malware_family="Emotet" if name == "domain" else None,
            confidence=70,
        )
        for number, (name, value) in enumerate(VALUES.items(), start=1)
    ]
    ingest(db, rows=rows, source=source)
    by_value = ids_of(db, list(VALUES.values()))
    indicators = {name: by_value[value] for name, value in VALUES.items()}
    with db.transaction() as session:
        for made in (
            technique(
                "T1071",
                "Application Layer Protocol",
                description="Adversaries may communicate using application layer protocols.",
                tactic="command-and-control",
            ),
            technique("T1566.001", "Spearphishing Attachment", tactic="initial-access"),
            technique("T1059", "Command and Scripting"),
        ):
            # An ATT&CK import may have brought them already.
            if session.get(MitreTechnique, made.technique_id) is None:
                session.add(made)
        actor = actor_row(
            "Mummy Spider",
            aliases=["TA542", "Mummy Spider", "Gold Crestwood"],
            description="Operators of Emotet.",
            motivations=["Personal gain", "not a vocabulary word"],
            attribution_data={"techniques": ["T1566.001"]},
            first_observed=datetime(2014, 6, 1, tzinfo=UTC),
            last_observed=datetime(2025, 1, 1, tzinfo=UTC),
        )
        session.add(actor)
        session.flush()
        campaign = campaign_row(
            "Emotet Epoch 5",
            description="The 2022 return.",
            attributed_actors=[{"actor_id": str(actor.id), "name": actor.actor_name}],
            techniques=[{"attack_id": "T1071"}, "T1059"],
            first_observed=datetime(2022, 1, 1, tzinfo=UTC),
        )
        public = IocCollection(name="Emotet C2", is_public=True, created_by=owner)
        private = IocCollection(
            name="Private Hunt", is_public=False, created_by=owner, metadata_={"tlp": "amber"}
        )
        session.add_all([campaign, public, private])
        session.flush()
        report = report_row(
            "Emotet returns",
            executive_summary="Emotet is back with new C2 servers.",
            report_type=ReportType.CAMPAIGN,
            classification=Classification.INTERNAL,
            metadata_={"tlp": "TLP:RED"},
            indicators_referenced=[
                str(indicators["ipv4"]),
                "hxxp://c2[.]evil-example[.]com/gate.php?id=1",
                {"value": VALUES["sha256"]},
                "never-seen.example.net",
            ],
            published_at=datetime(2025, 3, 2, tzinfo=UTC),
        )
        session.add(report)
        session.add_all(
            [
                ActorIndicator(
                    actor_id=actor.id,
                    indicator_id=indicators[name],
                    confidence_score=Decimal(80),
                )
                for name in ("domain", "url", "md5")
            ]
            + [
                CampaignIndicator(campaign_id=campaign.id, indicator_id=indicators[name])
                for name in ("domain", "ipv4")
            ]
            + [
                CollectionIndicator(collection_id=public.id, indicator_id=indicators[name])
                for name in ("domain", "url", "ipv4", "cidr6")
            ]
            + [CollectionIndicator(collection_id=private.id, indicator_id=indicators["email"])]
            + [
                IndicatorTechnique(indicator_id=indicators["url"], technique_id="T1071"),
                IndicatorTechnique(indicator_id=indicators["md5"], technique_id="T1566.001"),
            ]
        )
        session.flush()
        return World(
            indicators=indicators,
            actor=actor.id,
            campaign=campaign.id,
            collection=public.id,
            private=private.id,
            report=report.id,
            owner=owner,
        )


def chosen(db: Database, **selector: Any) -> Selection:
    with db.transaction(readonly=True) as session:
        return select(session, **selector)


def values(selection: Selection) -> set[str]:
    return {indicator.indicator_value for indicator in selection.indicators}


def test_exactly_one_selector_is_needed(db: Database):
    seed(db)
    with pytest.raises(Invalid) as none:
        chosen(db)
    assert none.value.field == "selection"
    with pytest.raises(Invalid):
        chosen(db, collection="Emotet C2", actor="Mummy Spider")


def test_names_match_in_any_case_ids_too_and_unknown_names_are_not_found(db: Database):
    world = seed(db)
    assert chosen(db, collection="emotet c2").title == "IOC collection: Emotet C2"
    assert chosen(db, actor="MUMMY SPIDER").actors[0].id == world.actor
    assert chosen(db, campaign=str(world.campaign)).campaigns[0].campaign_name == "Emotet Epoch 5"
    assert chosen(db, report="EMOTET RETURNS").reports[0].id == world.report
    for selector in ("collection", "actor", "campaign", "report"):
        with pytest.raises(NotFound):
            chosen(db, **{selector: "nothing by this name"})


def test_an_actor_brings_its_indicators_campaigns_and_techniques(db: Database):
    world = seed(db)
    selection = chosen(db, actor="mummy spider")
    assert selection.kind == "actor"
    assert values(selection) == {VALUES["domain"], VALUES["url"], VALUES["md5"]}
    assert [c.id for c in selection.campaigns] == [world.campaign]
    # Its own (T1566.001), its campaign's (T1071, T1059) and its indicators' (T1071).
    assert [t.technique_id for t in selection.techniques] == ["T1059", "T1071", "T1566.001"]


def test_a_campaign_brings_its_indicators_actors_and_techniques(db: Database):
    world = seed(db)
    selection = chosen(db, campaign="emotet epoch 5")
    assert values(selection) == {VALUES["domain"], VALUES["ipv4"]}
    assert [a.id for a in selection.actors] == [world.actor]
    assert [t.technique_id for t in selection.techniques] == ["T1059", "T1071"]


def test_a_campaign_attributed_by_name_finds_the_actor(db: Database):
    world = seed(db)
    with db.transaction() as session:
        campaign = session.get(ThreatCampaign, world.campaign)
        assert campaign is not None
        campaign.attributed_actors = ["mummy spider"]
    assert [a.id for a in chosen(db, campaign="Emotet Epoch 5").actors] == [world.actor]
    assert [c.id for c in chosen(db, actor="Mummy Spider").campaigns] == [world.campaign]


def test_a_collection_brings_its_indicators_and_their_techniques(db: Database):
    seed(db)
    selection = chosen(db, collection="Emotet C2")
    assert values(selection) == {VALUES[n] for n in ("domain", "url", "ipv4", "cidr6")}
    assert selection.actors == selection.campaigns == selection.reports == []
    assert [t.technique_id for t in selection.techniques] == ["T1071"]
    assert selection.indicator_total == 4


def test_a_report_brings_the_indicators_it_cites_by_id_or_by_any_spelling(db: Database):
    seed(db)
    selection = chosen(db, report="Emotet returns")
    assert values(selection) == {VALUES["ipv4"], VALUES["url"], VALUES["sha256"]}
    assert selection.tlp == "red"


def test_a_query_uses_the_indicator_search_filters(db: Database):
    seed(db)
    assert values(chosen(db, query=parse_query("type=ip"))) == {
        VALUES[n] for n in ("ipv4", "ipv6", "cidr4", "cidr6")
    }
    assert values(chosen(db, query=parse_query("tag=emotet,tag=malicious-activity"))) == {
        VALUES["domain"],
        VALUES["url"],
    }
    assert values(chosen(db, query=parse_query("type=domain, malware_family=Emotet"))) == {
        VALUES["domain"]
    }
    assert values(chosen(db, query=parse_query("q=hxxp://c2[.]evil-example"))) == {VALUES["url"]}
    assert len(chosen(db, query={}).indicators) == len(VALUES)
    assert chosen(db, query=parse_query("type=hash,first_seen_after=2026-01-01")).indicators == []
    for wrong in (
        {"type": "socket"},
        {"active": "maybe"},
        {"last_seen_before": "9999-12-31T23:00-05:00"},
    ):
        with pytest.raises(Invalid):
            chosen(db, query=wrong)
    with pytest.raises(Invalid):
        chosen(db, query={"source": "no such source"})


def test_a_limit_keeps_the_most_recently_changed(db: Database):
    seed(db)
    selection = chosen(db, query={}, limit=3)
    assert len(selection.indicators) == 3 and selection.indicator_total == 3
    with pytest.raises(Invalid):
        chosen(db, query={}, limit=0)


def test_a_lazy_resolve_leaves_a_statement_to_stream(db: Database):
    seed(db)
    with db.transaction(readonly=True) as session:
        lazy = resolve(session, collection="Emotet C2", load_indicators=False)
        assert lazy.indicators == [] and lazy.indicator_query is not None
        streamed = set(session.scalars(lazy.indicator_query))
    assert {i.indicator_value for i in streamed} == values(chosen(db, collection="Emotet C2"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type=ip,severity=high,tag=emotet", {"type": "ip", "severity": "high", "tag": "emotet"}),
        (" tag = a , tag=b ,", {"tag": "a,b"}),
        ("", {}),
        ("Q=evil.", {"q": "evil."}),
    ],
)
def test_parse_query_reads_key_value_pairs(text: str, expected: dict[str, str]):
    assert parse_query(text) == expected


@pytest.mark.parametrize("text", ["type", "colour=red", "type=ip,type=url", "=ip", "type="])
def test_parse_query_refuses_what_it_cannot_read(text: str):
    with pytest.raises(Invalid):
        parse_query(text)


def test_a_private_collection_is_readable_by_its_owner_and_admins_only(db: Database):
    owner = uuid.uuid4()
    seed(db)
    with db.transaction(readonly=True) as session:
        selection = select(session, collection="private hunt")
        public = select(session, collection="emotet c2")
    assert selection.collection is not None
    # Stands in for the owner's user row, which readable_by never reads.
    selection.collection.created_by = owner
    assert selection.tlp == "amber"
    assert readable_by(selection, user_id=owner, role=Role.VIEWER)
    assert not readable_by(selection, user_id=uuid.uuid4(), role=Role.USER)
    assert not readable_by(selection, user_id=uuid.uuid4(), role=Role.ANALYST)
    assert readable_by(selection, user_id=uuid.uuid4(), role=Role.ADMIN)
    assert readable_by(public, user_id=uuid.uuid4(), role=Role.VIEWER)
