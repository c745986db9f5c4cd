"""STIX bundle import on both engines, checked against counts read from the sample bundles."""

from __future__ import annotations

import copy
import json
from collections import Counter
from functools import cache
from typing import Any

import pytest
from sqlalchemy import func, select

from krsn.db import Database
from krsn.errors import Invalid, PayloadTooLarge
from krsn.feeds.formats.stix_format import simple_comparisons
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.models import (
    ActorIndicator,
    CampaignIndicator,
    IndicatorTechnique,
    MitreTechnique,
    ThreatActor,
    ThreatCampaign,
    ThreatReport,
)
from krsn.sharing.stix.models import StixObject
from krsn.sharing.stix.schemas import StixImportSummary
from krsn.sharing.stix.service import import_bundle
from support import shared_data

APT1 = ("oasis-docs", "apt1.json")
CAMPAIGNS = ("oasis-docs", "defining-campaigns-threat-actors-intrusion-sets.json")
APPENDIX_G = ("stix-elevator", "Appendix_G_IOCs_Full.json")
COMPOSITE = ("stix-elevator", "composite.json")
SIGHTING = ("oasis-docs", "sighting-of-an-indicator.json")
MARKINGS = ("oasis-docs", "using-marking-definitions.json")
CUSTOM = ("common-objects", "paid_ransom.json")


@cache
def _read(folder: str, name: str) -> dict[str, Any]:
    return json.loads(shared_data("stix", folder, name).read_bytes())


def bundle(sample: tuple[str, str]) -> dict[str, Any]:
    """A sample bundle as published; each test gets its own copy to change."""
    return copy.deepcopy(_read(*sample))


def run(db: Database, data: Any, *, source: str = "stix test", **options: Any) -> StixImportSummary:
    with db.transaction() as session:
        found = ensure_source(session, actor=Actor.system(), name=source)
        return import_bundle(session, bundle=data, source=found, actor=Actor.system(), **options)


def count(db: Database, model: type, *where: Any) -> int:
    with db.transaction(readonly=True) as session:
        statement = select(func.count()).select_from(model)
        for condition in where:
            statement = statement.where(condition)
        return int(session.scalar(statement) or 0)


def stored(db: Database, stix_id: str) -> StixObject | None:
    with db.transaction(readonly=True) as session:
        return session.get(StixObject, stix_id)


def of_type(data: dict[str, Any], *types: str) -> list[dict[str, Any]]:
    return [o for o in data["objects"] if o["type"] in types]


def simple(obj: dict[str, Any]) -> bool:
    return obj.get("pattern_type", "stix") == "stix" and bool(simple_comparisons(obj["pattern"]))


# --- What goes where ------------------------------------------------------------------------


def test_every_object_is_stored_once_and_known_types_become_rows(db: Database) -> None:
    data = bundle(APT1)
    types = Counter(o["type"] for o in data["objects"])
    actors = {o["name"].lower() for o in of_type(data, "threat-actor", "intrusion-set")}

    summary = run(db, data)

    assert summary.objects == len(data["objects"]) == count(db, StixObject)
    assert {t: c.created + c.kept for t, c in summary.types.items()} == dict(types)
    assert summary.total.rejected == 0 and summary.errors == []
    assert count(db, ThreatActor) == len(actors)
    assert summary.types["threat-actor"].created == types["threat-actor"]
    simple_ones = [o for o in of_type(data, "indicator") if simple(o)]
    assert summary.types["indicator"].created == len(simple_ones)
    assert summary.types["indicator"].kept == types["indicator"] - len(simple_ones)
    assert count(db, ThreatIndicator) == summary.indicators.new > 0
    for kind in ("malware", "tool", "identity", "relationship"):
        assert summary.types[kind].kept == types[kind]
        assert count(db, StixObject, StixObject.stix_type == kind) == types[kind]
    # attack-patterns without an ATT&CK id have no table: kept.
    assert count(db, MitreTechnique) == 0
    assert summary.types["attack-pattern"].kept == types["attack-pattern"]


def test_a_stored_object_names_its_row_and_keeps_the_json_whole(db: Database) -> None:
    data = bundle(APT1)
    run(db, data)
    actor = of_type(data, "threat-actor")[0]

    row = stored(db, actor["id"])

    assert row is not None and row.object == actor
    assert row.stix_type == "threat-actor" and row.spec_version == data["objects"][0].get(
        "spec_version", row.spec_version
    )
    assert row.local_table == "threat_actors"
    with db.transaction(readonly=True) as session:
        held = session.scalar(select(ThreatActor).where(ThreatActor.actor_name == actor["name"]))
    assert held is not None and str(held.id) == row.local_id
    assert held.attribution_data["stix"]["id"] == actor["id"]


def test_indicators_get_their_malware_family_through_indicates(db: Database) -> None:
    data = bundle(("oasis-docs", "indicator-for-malicious-url.json"))
    malware = of_type(data, "malware")[0]["name"]

    run(db, data)

    with db.transaction(readonly=True) as session:
        indicator = session.scalars(select(ThreatIndicator)).one()
    assert indicator.metadata_ is not None
    assert malware in indicator.metadata_["malware_families"]
    assert indicator.indicator_type.value == "url"


def test_complex_patterns_are_kept_whole_as_stix_indicators(db: Database) -> None:
    data = bundle(COMPOSITE)
    complex_ones = [o for o in of_type(data, "indicator") if not simple(o)]
    assert complex_ones  # the sample holds AND patterns

    summary = run(db, data)

    assert summary.indicators.patterns == len(complex_ones)
    for indicator in complex_ones:
        row = stored(db, indicator["id"])
        assert row is not None and row.local_table is None
        assert row.object["pattern"] == indicator["pattern"]
    assert count(db, StixObject, StixObject.stix_type == "indicator") == len(
        of_type(data, "indicator")
    )


def test_custom_and_extension_objects_are_kept_with_their_extensions(db: Database) -> None:
    data = bundle(CUSTOM)

    summary = run(db, data)

    assert summary.total.kept == len(data["objects"])
    for obj in data["objects"]:
        row = stored(db, obj["id"])
        assert row is not None and row.object == obj and row.object.get("extensions")


def test_sightings_and_marking_definitions_are_kept(db: Database) -> None:
    sighting, markings = bundle(SIGHTING), bundle(MARKINGS)

    run(db, sighting)
    run(db, markings)

    assert count(db, StixObject, StixObject.stix_type == "sighting") == len(
        of_type(sighting, "sighting")
    )
    assert count(db, StixObject, StixObject.stix_type == "marking-definition") == len(
        of_type(markings, "marking-definition")
    )


def test_report_object_refs_become_referenced_indicators(db: Database) -> None:
    data = bundle(APPENDIX_G)
    report = of_type(data, "report")[0]

    run(db, data)

    with db.transaction(readonly=True) as session:
        row = session.scalars(select(ThreatReport)).one()
        indicator_ids = {str(i) for i in session.scalars(select(ThreatIndicator.id))}
    assert row.title == report["name"]
    assert row.metadata_ is not None and row.metadata_["stix"]["id"] == report["id"]
    # Every indicator of the bundle is one the report refers to.
    assert indicator_ids and set(row.indicators_referenced) == indicator_ids


# --- Relationships --------------------------------------------------------------------------


def test_indicator_indicates_actor_becomes_actor_indicators(db: Database) -> None:
    data = bundle(APT1)
    by_id = {o["id"]: o for o in data["objects"]}
    expected = sum(
        len(simple_comparisons(by_id[r["source_ref"]]["pattern"]) or ())
        for r in of_type(data, "relationship")
        if r["relationship_type"] == "indicates"
        and by_id[r["source_ref"]]["type"] == "indicator"
        and by_id[r["target_ref"]]["type"] in ("threat-actor", "intrusion-set")
        and simple(by_id[r["source_ref"]])
    )
    assert expected > 0

    summary = run(db, data)

    assert summary.links.actor_indicators == expected == count(db, ActorIndicator)
    assert run(db, data).links.actor_indicators == 0
    assert count(db, ActorIndicator) == expected


def test_campaign_attributed_to_actor_fills_attributed_actors(db: Database) -> None:
    data = bundle(CAMPAIGNS)
    by_id = {o["id"]: o for o in data["objects"]}
    attributions = [
        r
        for r in of_type(data, "relationship")
        if r["relationship_type"] == "attributed-to"
        and by_id[r["source_ref"]]["type"] == "campaign"
    ]

    summary = run(db, data)

    assert summary.links.campaign_actors == len(attributions)
    with db.transaction(readonly=True) as session:
        campaigns = session.scalars(select(ThreatCampaign)).all()
    assert len(campaigns) == len(of_type(data, "campaign"))
    held = {(c.campaign_name, a["name"]) for c in campaigns for a in c.attributed_actors}
    assert held == {
        (by_id[r["source_ref"]]["name"], by_id[r["target_ref"]]["name"]) for r in attributions
    }
    run(db, data)
    with db.transaction(readonly=True) as session:
        again = session.scalars(select(ThreatCampaign)).all()
    assert sum(len(c.attributed_actors) for c in again) == len(attributions)


def _linked_bundle() -> dict[str, Any]:
    stamp = "2026-01-01T00:00:00.000Z"

    def sdo(kind: str, number: int, **fields: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "spec_version": "2.1",
            "id": f"{kind}--00000000-0000-4000-8000-{number:012d}",
            "created": stamp,
            "modified": stamp,
            **fields,
        }

    indicator = sdo(
        "indicator",
        1,
        pattern="[domain-name:value = 'c2.example.org']",
        pattern_type="stix",
        valid_from=stamp,
    )
    campaign = sdo("campaign", 2, name="Operation Test")
    technique = sdo(
        "attack-pattern",
        3,
        name="Phishing",
        external_references=[{"source_name": "mitre-attack", "external_id": "T1566"}],
        kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}],
    )
    relations = [
        sdo(
            "relationship",
            10 + n,
            relationship_type="indicates",
            source_ref=indicator["id"],
            target_ref=target["id"],
        )
        for n, target in enumerate((campaign, technique))
    ]
    return {
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000099",
        "objects": [indicator, campaign, technique, *relations],
    }


def test_indicator_links_to_campaigns_and_attack_techniques(db: Database) -> None:
    summary = run(db, _linked_bundle())

    assert summary.links.campaign_indicators == 1 == count(db, CampaignIndicator)
    assert summary.links.indicator_techniques == 1 == count(db, IndicatorTechnique)
    assert count(db, MitreTechnique, MitreTechnique.technique_id == "T1566") == 1
    assert stored(db, "attack-pattern--00000000-0000-4000-8000-000000000003").local_id == "T1566"  # type: ignore[union-attr]


# --- Versions -------------------------------------------------------------------------------


def test_reimport_changes_nothing_and_duplicates_nothing(db: Database) -> None:
    data = bundle(APT1)
    run(db, data)
    before = {m: count(db, m) for m in (StixObject, ThreatIndicator, ThreatActor, ThreatReport)}

    again = run(db, data)

    assert again.total.unchanged == len(data["objects"])
    assert again.total.created == again.total.updated == again.total.kept == 0
    assert {m: count(db, m) for m in before} == before


def test_newer_version_updates_and_older_one_is_ignored(db: Database) -> None:
    data = bundle(APT1)
    run(db, data)
    actor = copy.deepcopy(of_type(data, "threat-actor")[0])
    newer = {**actor, "modified": "2030-01-01T00:00:00.000Z", "description": "Rewritten."}
    older = {**actor, "modified": "2000-01-01T00:00:00.000Z", "description": "Stale."}

    first = run(db, {"type": "bundle", "id": data["id"], "objects": [newer]})
    second = run(db, {"type": "bundle", "id": data["id"], "objects": [older]})

    assert first.types["threat-actor"].updated == 1
    assert second.types["threat-actor"].unchanged == 1
    with db.transaction(readonly=True) as session:
        row = session.scalar(select(ThreatActor).where(ThreatActor.actor_name == actor["name"]))
    assert row is not None and row.description == "Rewritten."
    held = stored(db, actor["id"])
    assert held is not None and held.object["description"] == "Rewritten."
    assert count(db, ThreatActor) == len(
        {o["name"].lower() for o in of_type(data, "threat-actor", "intrusion-set")}
    )


def test_two_versions_in_one_bundle_keep_the_newest(db: Database) -> None:
    data = _linked_bundle()
    campaign = data["objects"][1]
    newer = {**campaign, "modified": "2027-01-01T00:00:00.000Z", "description": "v2"}
    data["objects"].append(newer)

    summary = run(db, data)

    assert summary.types["campaign"].created == 1 and summary.types["campaign"].unchanged == 1
    held = stored(db, campaign["id"])
    assert held is not None and held.object["description"] == "v2"


# --- Bad input ------------------------------------------------------------------------------


def test_bad_objects_are_reported_by_position_and_the_rest_imported(db: Database) -> None:
    data = _linked_bundle()
    good = len(data["objects"])
    data["objects"] += [
        "not an object",
        {"id": "indicator--00000000-0000-4000-8000-000000000050"},
        {"type": "malware", "name": "no id"},
        {"type": "malware", "id": "tool--00000000-0000-4000-8000-000000000051"},
        {
            "type": "malware",
            "id": "malware--00000000-0000-4000-8000-000000000052",
            "modified": "yesterday",
        },
        {"type": "indicator", "id": "indicator--00000000-0000-4000-8000-000000000053"},
        {"type": "note", "id": "note--00000000-0000-4000-8000-000000000054", "content": "a\x00b"},
    ]

    summary = run(db, data)

    reasons = {e.position: e.reason for e in summary.errors}
    assert sorted(reasons) == list(range(good + 1, good + 8))
    assert reasons[good + 1] == "not a JSON object"
    assert reasons[good + 2] == "no type"
    assert reasons[good + 3] == "no id"
    assert "is not of type 'malware'" in reasons[good + 4]
    assert "modified" in reasons[good + 5]
    assert "without a pattern" in reasons[good + 6]
    assert "NUL" in reasons[good + 7]
    assert summary.total.rejected == 7
    assert count(db, StixObject) == good


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"hello": "world"}', "not STIX 2"),
        (b'{"type": "bundle", "id": "bundle--x", "objects": {}}', "must be a list"),
    ],
)
def test_unreadable_documents_are_refused_with_a_reason(
    db: Database, body: bytes, reason: str
) -> None:
    with pytest.raises(Invalid) as caught:
        run(db, body)

    assert reason in caught.value.detail
    assert count(db, StixObject) == 0


def test_bundles_over_the_caps_are_refused(db: Database) -> None:
    data = _linked_bundle()

    with pytest.raises(PayloadTooLarge):
        run(db, data, max_objects=2)
    with pytest.raises(PayloadTooLarge):
        run(db, json.dumps(data).encode(), max_bytes=100)
    assert count(db, StixObject) == 0


def test_an_import_is_audited(db: Database) -> None:
    data = bundle(APT1)

    run(db, data)

    with db.transaction(readonly=True) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "stix.import")).one()
    assert entry.resource_id == data["id"]
