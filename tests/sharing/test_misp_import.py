"""MISP events into the store on both engines, checked against what the sample events say."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from test_misp_samples import (
    CIRCL_EVENT,
    addresses,
    attributes,
    document,
    domains,
    event_of,
    hashes,
)

from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds.models import ThreatIntelligence
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.sharing.misp.events import MispImportSummary, import_document, import_events
from krsn.sharing.models import (
    ActorIndicator,
    IndicatorTechnique,
    MitreTechnique,
    ThreatActor,
)

SYSTEM = Actor.system()


def run(db: Database, *documents: Any, source: str = "MISP") -> MispImportSummary:
    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name=source)
        return import_events(session, documents=list(documents), source=ref, actor=SYSTEM)


def technique(technique_id: str, name: str) -> MitreTechnique:
    """A technique row as the ATT&CK import writes one (lists empty, not NULL)."""
    return MitreTechnique(
        technique_id=technique_id,
        technique_name=name,
        data_sources=[],
        platforms=[],
        defenses_bypassed=[],
    )


def stored(db: Database, kind: IndicatorType | None = None) -> dict[str, ThreatIndicator]:
    statement = select(ThreatIndicator)
    if kind is not None:
        statement = statement.where(ThreatIndicator.indicator_type == kind)
    with db.transaction(readonly=True) as session:
        return {i.indicator_value: i for i in session.scalars(statement)}


def test_every_indicator_attribute_of_an_event_is_stored_once(db: Database):
    doc = document("pymisp", "long_event.json")
    event = event_of(doc)
    summary = run(db, doc)
    assert (summary.events, summary.attributes) == (1, len(attributes(event)))
    rejected = {e["value"].lower() for e in summary.indicators.errors}
    assert set(stored(db, IndicatorType.HASH)) == hashes(event)
    assert set(stored(db, IndicatorType.DOMAIN)) == domains(event) - rejected
    assert set(stored(db, IndicatorType.IP)) == addresses(event) - rejected
    assert summary.indicators.new == len(stored(db))
    # A link is a reference, a filename or a comment no indicator: none of them was read.
    links = {a["value"] for a in attributes(event) if a["type"] == "link"}
    assert links and not links & set(stored(db))


def test_rest_answers_bare_events_and_object_attributes_are_all_read(db: Database):
    rest = document("eset", "misp-ramsay.json")
    bare = document("pymisp", "existing_event.json")
    summary = run(db, rest, bare)
    assert summary.events == 2
    assert summary.attributes == len(attributes(event_of(rest))) + len(attributes(bare))
    in_objects = {a["value"].lower() for o in bare["Object"] for a in o["Attribute"]}
    assert hashes(bare) & in_objects  # the bare event's hashes live in its objects
    assert hashes(event_of(rest)) | hashes(bare) <= set(stored(db, IndicatorType.HASH))


def test_the_tlp_marking_is_recorded_on_the_indicator(db: Database):
    doc = document("pymisp", CIRCL_EVENT)
    event = event_of(doc)
    assert "tlp:white" in [t["name"] for t in event["Tag"]]
    flagged = next(a for a in event["Attribute"] if a["type"] == "sha256")
    flagged["Tag"] = [{"name": "tlp:amber"}]  # the attribute's own marking wins
    run(db, doc)
    found = stored(db, IndicatorType.HASH)
    assert found.pop(flagged["value"].lower()).metadata_["tlp"] == "amber"
    assert found and {i.metadata_["tlp"] for i in found.values()} == {"clear"}
    assert all("tlp:white" in i.metadata_["tags"] for i in found.values())


def test_a_threat_actor_galaxy_creates_the_actor_and_links_its_indicators(db: Database):
    bare = document("pymisp", "existing_event.json")
    assert 'misp-galaxy:threat-actor="Sofacy"' in [t["name"] for t in bare["Tag"]]
    summary = run(db, bare)
    with db.transaction(readonly=True) as session:
        actor = session.scalars(select(ThreatActor)).one()
        links = session.scalar(select(func.count()).select_from(ActorIndicator))
    cluster = next(
        c for g in bare["Galaxy"] if g["type"] == "threat-actor" for c in g["GalaxyCluster"]
    )
    assert actor.actor_name == "Sofacy"
    assert set(actor.aliases) == set(cluster["meta"]["synonyms"]) - {"Sofacy"}
    assert actor.description == cluster["description"]
    assert summary.actors_created == ["Sofacy"]
    assert links == summary.actor_links == len(stored(db))


def test_an_intrusion_set_reuses_the_actor_known_by_an_alias(db: Database):
    doc = document("pymisp", "galaxy_1.json")
    event = event_of(doc)
    tags = [t["name"] for t in event["Tag"] if "intrusion-set" in t["name"]]
    assert tags == [
        'misp-galaxy:mitre-intrusion-set="APT1 - G0006"',
        'misp-galaxy:mitre-intrusion-set="APT12 - G0005"',
    ]
    with db.transaction() as session:
        session.add(
            ThreatActor(
                actor_name="Comment Crew",
                aliases=["Comment Panda"],
                motivations=[],
                target_industries=[],
                target_countries=[],
                known_tools=[],
                attribution_data={},
            )
        )
    summary = run(db, doc)
    assert summary.actors_created == ["APT12"]
    with db.transaction(readonly=True) as session:
        pairs = set(
            session.execute(
                select(ThreatActor.actor_name, ThreatIndicator.indicator_value)
                .join(ActorIndicator, ActorIndicator.actor_id == ThreatActor.id)
                .join(ThreatIndicator, ThreatIndicator.id == ActorIndicator.indicator_id)
            )
        )
        created = session.scalars(
            select(ThreatActor).where(ThreatActor.actor_name == "APT12")
        ).one()
    values = set(stored(db))
    assert pairs == {(name, v) for name in ("Comment Crew", "APT12") for v in values}
    assert created.attribution_data["misp_galaxy"]["attack_id"] == "G0005"


def test_attack_pattern_tags_link_only_techniques_that_were_imported(db: Database):
    doc = document("pymisp", CIRCL_EVENT)
    event = event_of(doc)
    event["Tag"] += [
        {"name": 'misp-galaxy:mitre-attack-pattern="Data Encrypted for Impact - T1486"'},
        {"name": 'misp-galaxy:mitre-attack-pattern="Not Imported - T1999"'},
    ]
    with db.transaction() as session:
        session.add(technique("T1486", "Data Encrypted for Impact"))
    summary = run(db, doc)
    with db.transaction(readonly=True) as session:
        linked = set(session.scalars(select(IndicatorTechnique.technique_id)))
        count = session.scalar(select(func.count()).select_from(IndicatorTechnique))
    assert linked == {"T1486"}
    assert count == summary.technique_links == len(stored(db)) > 0
    assert summary.unknown_techniques == {"T1999"}


def test_malware_galaxies_name_the_family(db: Database):
    doc = document("pymisp", "mainly_objects_1.json")
    assert 'misp-galaxy:malpedia="SamSam"' in [t["name"] for t in event_of(doc)["Tag"]]
    run(db, doc)
    families = {tuple(i.metadata_["malware_families"]) for i in stored(db).values()}
    assert families == {("SamSam",)}


def test_sightings_are_counted_and_kept_on_the_intelligence_record(db: Database):
    doc = document("pymisp", "sighting_1.json")
    sighted = [a for a in event_of(doc)["Attribute"] if a.get("Sighting")]
    summary = run(db, doc)
    assert summary.sighted_attributes == len(sighted)
    assert summary.sightings == sum(len(a["Sighting"]) for a in sighted)
    with db.transaction(readonly=True) as session:
        records = {
            value: data
            for value, data in session.execute(
                select(ThreatIndicator.indicator_value, ThreatIntelligence.processed_data).join(
                    ThreatIntelligence, ThreatIntelligence.indicator_id == ThreatIndicator.id
                )
            )
        }
    names = {"0": "sighting", "1": "false_positive", "2": "expiration"}
    for attribute in sighted:
        kept = records[attribute["value"].lower()]["extra"]["sightings"]
        assert kept["total"] == len(attribute["Sighting"])
        for code, name in names.items():
            assert kept[name] == sum(s["type"] == code for s in attribute["Sighting"])


def test_importing_again_changes_nothing_and_links_once(db: Database):
    first = run(db, document("pymisp", "existing_event.json"))
    again = run(db, document("pymisp", "existing_event.json"))
    assert first.indicators.new > 0 and first.actor_links > 0
    assert again.indicators.new == 0
    assert again.indicators.unchanged == again.indicators.updated == first.indicators.new
    assert (again.actors_created, again.actor_links) == ([], 0)


def test_a_warninglisted_value_is_stored_inactive_and_linked_to_no_actor(db: Database):
    bare = document("pymisp", "existing_event.json")
    values = sorted(domains(bare))

    class OneList:
        def match(self, kind: Any, value: str) -> str | None:
            return "test-list" if value == values[0] else None

    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name="MISP")
        summary = MispImportSummary(source="MISP")
        import_document(
            session, document=bare, source=ref, actor=SYSTEM, summary=summary, suppressor=OneList()
        )
    found = stored(db)
    assert summary.indicators.suppressed == 1
    assert found[values[0]].is_active is False
    assert summary.actor_links == len(found) - 1


def test_a_document_that_is_no_event_is_refused(db: Database):
    with pytest.raises(Invalid, match="not MISP event JSON"):
        run(db, {"type": "bundle", "objects": []})
