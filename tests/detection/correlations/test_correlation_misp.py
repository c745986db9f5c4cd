"""ip_domain and hash_ip pairs from real MISP events, imported the way ``krsn misp import``
imports them, on both engines."""

from __future__ import annotations

import copy
import json
import uuid
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.correlations.discovery import DiscoveryReport, discover
from krsn.detection.models import CorrelationType, ThreatCorrelation
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.misp.events import MispImportSummary, import_document, record_import
from support import shared_data

SYSTEM = Actor.system()
SEDNIT = ("pymisp", "existing_event.json")
SIGNSIGHT = ("eset", "signsight-misp-event.json")
HASH_TYPES = ("md5", "sha1", "sha256", "sha512")


@cache
def _read(*parts: str) -> Any:
    return json.loads(shared_data("misp", *parts).read_text(encoding="utf-8"))


def event(*parts: str) -> dict[str, Any]:
    """A sample's event body, a copy of its own for the caller."""
    doc = copy.deepcopy(_read(*parts))
    if "response" in doc:
        doc = doc["response"][0]
    return doc.get("Event", doc)  # type: ignore[no-any-return]


def attributes(body: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(body.get("Attribute") or ())
    for obj in body.get("Object") or ():
        found += obj.get("Attribute") or ()
    return found


def values(body: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """The domains, addresses and file hashes the event states."""
    domains, addresses, hashes = set(), set(), set()
    for attribute in attributes(body):
        kind, value = attribute["type"], attribute["value"].strip()
        if kind in ("domain", "hostname"):
            domains.add(value.lower().rstrip("."))
        elif kind in ("ip-dst", "ip-src"):
            addresses.add(value)
        elif kind in HASH_TYPES:
            hashes.add(value.lower())
        elif kind.startswith("filename|") and kind[9:] in HASH_TYPES:
            hashes.add(value.split("|", 1)[1].strip().lower())
        elif kind == "domain|ip":
            domain, address = value.split("|", 1)
            domains.add(domain.lower())
            addresses.add(address)
    return domains, addresses, hashes


def object_pairs(body: dict[str, Any]) -> set[tuple[str, str]]:
    """(domain, address) of each domain-ip object."""
    found = set()
    for obj in body.get("Object") or ():
        if obj.get("name") != "domain-ip":
            continue
        parts = {a["object_relation"]: a["value"].strip() for a in obj["Attribute"]}
        found.add((parts["domain"].lower(), parts["ip"]))
    return found


def import_misp(db: Database, body: dict[str, Any], *, source: str = "MISP") -> set[uuid.UUID]:
    """Import one event as ``krsn misp import`` does; the ids of the indicators it holds."""
    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name=source, reliability=80)
        summary = MispImportSummary(source=ref.name)
        import_document(
            session, document={"Event": body}, source=ref, actor=SYSTEM, summary=summary
        )
        record_import(session, actor=SYSTEM, summary=summary, target="sample")
    domains, addresses, hashes = values(body)
    with db.transaction(readonly=True) as session:
        return set(
            session.scalars(
                select(ThreatIndicator.id).where(
                    ThreatIndicator.indicator_value.in_(domains | addresses | hashes)
                )
            )
        )


def run(db: Database, **scope: Any) -> DiscoveryReport:
    with db.transaction() as session:
        return discover(session, now=utcnow(), **scope)


def stored_pairs(db: Database, kind: CorrelationType) -> dict[tuple[str, str], dict[str, Any]]:
    """Each stored pair of a type by (primary value, related value): score and evidence."""
    primary, related = aliased(ThreatIndicator), aliased(ThreatIndicator)
    statement = (
        select(ThreatCorrelation, primary.indicator_value, related.indicator_value)
        .join(primary, primary.id == ThreatCorrelation.primary_indicator_id)
        .join(related, related.id == ThreatCorrelation.related_indicator_id)
        .where(ThreatCorrelation.correlation_type == kind)
    )
    with db.transaction(readonly=True) as session:
        return {
            (first, second): {
                "score": float(row.correlation_score),
                "kinds": {e["kind"] for e in row.correlation_data["evidence"]},
                "evidence": row.correlation_data["evidence"],
                "verified": row.is_verified,
            }
            for row, first, second in session.execute(statement)
        }


def test_an_events_domains_and_addresses_pair_up_with_their_objects_strongest(db: Database):
    body = event(*SEDNIT)
    domains, addresses, hashes = values(body)
    assert domains and addresses and hashes
    ids = import_misp(db, body)

    report = run(db, indicator_ids=ids)

    found = stored_pairs(db, CorrelationType.IP_DOMAIN)
    assert set(found) == {(d, a) for d in domains for a in addresses}
    assert report.found["ip_domain"] == report.created["ip_domain"] == len(found)
    objects = object_pairs(body)
    assert objects
    for pair, facts in found.items():
        assert "event" in facts["kinds"]
        assert all(e.get("event_uuid") == body["uuid"] for e in facts["evidence"])
        assert ("object" in facts["kinds"]) == (pair in objects)
    in_object = min(found[p]["score"] for p in objects)
    only_event = max(facts["score"] for p, facts in found.items() if p not in objects)
    assert in_object > only_event > 0


def test_hashes_pair_with_the_addresses_of_their_event(db: Database):
    body = event(*SEDNIT)
    _, addresses, hashes = values(body)
    ids = import_misp(db, body)

    run(db, indicator_ids=ids)

    found = stored_pairs(db, CorrelationType.HASH_IP)
    assert set(found) == {(h, a) for h in hashes for a in addresses}
    # A file object holds no address: every pair rests on the event alone.
    assert all(facts["kinds"] == {"event"} for facts in found.values())


def test_a_domain_ip_attribute_is_one_record_and_the_strongest_evidence(db: Database):
    body = event(*SIGNSIGHT)
    domains, addresses, hashes = values(body)
    assert domains and hashes and not addresses
    body["Attribute"].append(
        {
            "type": "domain|ip",
            "category": "Network activity",
            "value": "update-relay.example.com|198.51.100.23",
            "uuid": str(uuid.uuid4()),
            "to_ids": True,
            "timestamp": body["Attribute"][0]["timestamp"],
        }
    )
    ids = import_misp(db, body)

    run(db, indicator_ids=ids)

    found = stored_pairs(db, CorrelationType.IP_DOMAIN)
    assert set(found) == {(d, "198.51.100.23") for d in domains | {"update-relay.example.com"}}
    record = found[("update-relay.example.com", "198.51.100.23")]
    assert "record" in record["kinds"]
    others = [facts["score"] for pair, facts in found.items() if pair[0] in domains]
    assert others and record["score"] > max(others)
    assert set(stored_pairs(db, CorrelationType.HASH_IP)) == {(h, "198.51.100.23") for h in hashes}


def test_a_full_run_finds_what_the_imports_run_found(db: Database):
    body = event(*SEDNIT)
    ids = import_misp(db, body)
    run(db, indicator_ids=ids)
    scoped = {k: stored_pairs(db, k) for k in (CorrelationType.IP_DOMAIN, CorrelationType.HASH_IP)}

    report = run(db)

    assert report.scope == "all"
    for kind, pairs in scoped.items():
        assert report.unchanged[kind.value] == len(pairs) > 0
        assert report.created[kind.value] == report.updated[kind.value] == 0
        assert stored_pairs(db, kind) == pairs


def test_one_indicator_in_scope_still_sees_its_whole_event(db: Database):
    body = event(*SEDNIT)
    domains, addresses, _ = values(body)
    import_misp(db, body)
    address = sorted(addresses)[0]
    with db.transaction(readonly=True) as session:
        one = session.scalar(
            select(ThreatIndicator.id).where(ThreatIndicator.indicator_value == address)
        )

    report = run(db, indicator_ids=[one])

    assert report.indicators == 1
    found = stored_pairs(db, CorrelationType.IP_DOMAIN)
    # Only the pairs of that address, but all of them: its event is read whole.
    assert set(found) == {(d, address) for d in domains}
