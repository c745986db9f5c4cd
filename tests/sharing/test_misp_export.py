"""A selection as a MISP event and as a MISP feed: loaded by PyMISP, shaped like the CIRCL
OSINT feed's events, indexed as PyMISP's feed generator indexes it, and read back by our own
``misp`` feed format."""

from __future__ import annotations

import json
import shutil
import uuid
from typing import Any

from pymisp import MISPEvent
from pymisp.tools.feed import feed_meta_generator
from sqlalchemy import select
from test_misp_samples import CIRCL_EVENT, document, event_of

from krsn.db import Database
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.formats.misp_format import parse_feed_directory
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import Indicator, Kind, normalise
from krsn.sharing import selection as selecting
from krsn.sharing.misp.events import import_events
from krsn.sharing.misp.export import ATTRIBUTE_TYPES, NAMESPACE, event_uuid, export_event
from krsn.sharing.misp.feed import publish_feed
from krsn.sharing.models import IndicatorTechnique, MitreTechnique
from krsn.sharing.selection import Selection

SYSTEM = Actor.system()


def load(db: Database, *names: str) -> None:
    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name="MISP")
        docs = [document("pymisp", name) for name in names]
        import_events(session, documents=docs, source=ref, actor=SYSTEM)


def hand_made(session: Any, title: str, **parts: Any) -> Selection:
    """A selection built directly, as a caller outside the selection module may build one."""
    return Selection(
        title=title,
        indicators=parts.get("indicators", []),
        actors=parts.get("actors", []),
        campaigns=[],
        reports=[],
        techniques=parts.get("techniques", []),
    )


def loaded(event: dict[str, Any]) -> MISPEvent:
    misp = MISPEvent()
    misp.load(json.loads(json.dumps(event)))  # as read from a file: plain JSON types only
    return misp


def test_an_actors_selection_exports_as_an_event_pymisp_loads(db: Database):
    load(db, "existing_event.json")
    with db.transaction() as session:
        session.add(
            MitreTechnique(
                technique_id="T1566",
                technique_name="Phishing",
                data_sources=[],
                platforms=[],
                defenses_bypassed=[],
            )
        )
        first = session.scalars(select(ThreatIndicator).order_by(ThreatIndicator.id)).first()
        assert first is not None
        session.add(IndicatorTechnique(indicator_id=first.id, technique_id="T1566"))
    with db.transaction(readonly=True) as session:
        chosen = selecting.select(session, actor="Sofacy")
        indicators = {i.indicator_value: i for i in chosen.indicators}
        event = export_event(session, selection=chosen)
    body = event["Event"]
    misp = loaded(event)
    assert str(misp.uuid) == body["uuid"] == event_uuid(chosen.title)
    assert len(misp.attributes) == len(indicators) > 0
    for attribute in misp.attributes:
        indicator = indicators[attribute.value]
        expected = ATTRIBUTE_TYPES[Kind(indicator.metadata_["kind"])]
        assert (attribute.type, attribute.category) == expected
        assert attribute.to_ids is indicator.is_active
        tags = {t.name for t in attribute.tags}
        assert 'misp-galaxy:threat-actor="Sofacy"' in tags
        assert ('misp-galaxy:mitre-attack-pattern="Phishing - T1566"' in tags) is (
            indicator.id == first.id
        )
    event_tags = {t.name for t in misp.tags}
    assert {"tlp:clear", 'misp-galaxy:threat-actor="Sofacy"'} <= event_tags
    assert 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"' in event_tags


def test_each_kind_maps_to_its_misp_type(db: Database):
    load(db, "long_event.json")
    with db.transaction(readonly=True) as session:
        rows = list(session.scalars(select(ThreatIndicator)))
        event = export_event(session, selection=hand_made(session, "all", indicators=rows))
    by_value = {a["value"]: a for a in event["Event"]["Attribute"]}
    kinds = set()
    for row in rows:
        kind = Indicator.__annotations__ and row.metadata_["kind"]
        misp_type, category = next(v for k, v in ATTRIBUTE_TYPES.items() if k.value == kind)
        assert (
            by_value[row.indicator_value]["type"],
            by_value[row.indicator_value]["category"],
        ) == (
            misp_type,
            category,
        )
        kinds.add(kind)
    assert {"md5", "sha1", "sha256", "domain", "url", "ipv4", "email"} <= kinds
    loaded(event)


def test_an_event_is_shaped_like_the_circl_feeds_events(db: Database):
    circl = event_of(document("pymisp", CIRCL_EVENT))
    load(db, CIRCL_EVENT)
    with db.transaction(readonly=True) as session:
        rows = list(session.scalars(select(ThreatIndicator)))
        body = export_event(session, selection=hand_made(session, "circl", indicators=rows))[
            "Event"
        ]
    assert set(body) == set(circl)
    for key, value in circl.items():
        assert type(body[key]) is type(value), key
    assert set(body["Orgc"]) == set(circl["Orgc"])
    circl_attribute = circl["Attribute"][0]
    optional = {"Tag", "first_seen", "last_seen", "disable_correlation"}
    for attribute in body["Attribute"]:
        assert set(circl_attribute) <= set(attribute) <= set(circl_attribute) | optional
        for key, value in circl_attribute.items():
            assert type(attribute[key]) is type(value), key
    # The CIRCL event's marking comes back as its TLP 2.0 name.
    assert [t["name"] for t in body["Tag"]] == ["tlp:clear"]


def test_a_published_feed_is_what_misp_subscribes_to_and_stays_stable(db: Database, tmp_path):
    load(db, "existing_event.json", "galaxy_1.json")
    feed = tmp_path / "feed"
    with db.transaction(readonly=True) as session:
        first = publish_feed(
            session, selection=selecting.select(session, actor="Sofacy"), directory=feed
        )
        second = publish_feed(
            session, selection=selecting.select(session, actor="APT1"), directory=feed
        )
    files = {p.name: p.read_bytes() for p in feed.iterdir()}
    assert set(files) == {
        "manifest.json",
        "hashes.csv",
        f"{first.event_uuid}.json",
        f"{second.event_uuid}.json",
    }
    assert first.changed and second.feed_events == 2

    # PyMISP's own feed generator, run over our event files, writes the same indexes.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    for name in (f"{first.event_uuid}.json", f"{second.event_uuid}.json"):
        shutil.copy(feed / name, theirs / name)
    feed_meta_generator(theirs)
    ours, expected = (
        json.loads(text)
        for text in (files["manifest.json"], (theirs / "manifest.json").read_text())
    )
    for entries in (ours, expected):  # PyMISP adds display defaults (colour …) to each tag
        for entry in entries.values():
            entry["Tag"] = [tag["name"] for tag in entry["Tag"]]
    assert ours == expected
    assert sorted(files["hashes.csv"].decode().splitlines()) == sorted(
        (theirs / "hashes.csv").read_text().splitlines()
    )
    for name in (f"{first.event_uuid}.json", f"{second.event_uuid}.json"):
        loaded(json.loads(files[name]))

    # Publishing again changes nothing, byte for byte.
    with db.transaction(readonly=True) as session:
        again = publish_feed(
            session, selection=selecting.select(session, actor="Sofacy"), directory=feed
        )
    assert not again.changed and again.event_uuid == first.event_uuid
    assert {p.name: p.read_bytes() for p in feed.iterdir()} == files


def test_attribute_uuids_survive_a_change_to_the_selection(db: Database, tmp_path):
    load(db, "existing_event.json")
    feed = tmp_path / "feed"
    with db.transaction(readonly=True) as session:
        rows = list(
            session.scalars(select(ThreatIndicator).order_by(ThreatIndicator.indicator_value))
        )
        before = publish_feed(
            session,
            selection=hand_made(session, "part", indicators=rows[:-1]),
            directory=feed,
            key="collection:part",
        )
        old = json.loads((feed / f"{before.event_uuid}.json").read_text())["Event"]
        after = publish_feed(
            session,
            selection=hand_made(session, "part", indicators=rows),
            directory=feed,
            key="collection:part",
        )
    new = json.loads((feed / f"{after.event_uuid}.json").read_text())["Event"]
    assert after.event_uuid == before.event_uuid
    assert before.event_uuid == str(uuid.uuid5(NAMESPACE, "event:collection:part"))
    old_ids = {a["value"]: a["uuid"] for a in old["Attribute"]}
    new_ids = {a["value"]: a["uuid"] for a in new["Attribute"]}
    assert {v: new_ids[v] for v in old_ids} == old_ids
    assert len(new_ids) == len(old_ids) + 1
    assert after.changed and after.feed_events == 1


def test_our_misp_feed_format_reads_a_published_feed_back(db: Database, tmp_path):
    load(db, "long_event.json")
    feed = tmp_path / "feed"
    with db.transaction(readonly=True) as session:
        rows = list(session.scalars(select(ThreatIndicator)))
        publish_feed(
            session, selection=hand_made(session, "round trip", indicators=rows), directory=feed
        )
    parsed = [r for r in parse_feed_directory(feed) if isinstance(r, ParsedRow)]
    assert len(parsed) == len(rows)
    back = set()
    for row in parsed:
        result = normalise(row.value)
        assert isinstance(result, Indicator)
        back.add((result.kind.value, result.value))
    assert back == {(r.metadata_["kind"], r.indicator_value) for r in rows}
    assert {r.extra["tlp"] for r in parsed} == {"tlp:clear"}
