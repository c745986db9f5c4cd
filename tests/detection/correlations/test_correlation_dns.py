"""ip_domain pairs from DNS data: an enrichment's resolutions and a STIX domain's
``resolves_to_refs``; re-discovery refreshes evidence and keeps the analyst's verdict."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.correlations import service
from krsn.detection.correlations.discovery import DiscoveryReport, discover, resolutions
from krsn.detection.models import CorrelationType, ThreatCorrelation
from krsn.enrichment.models import EnrichmentData, EnrichmentType
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.sharing.stix.service import import_bundle
from support import shared_data

SYSTEM = Actor.system()
DOMAIN, ADDRESS = "c2.example.net", "203.0.113.7"
OTHER_DOMAIN, OTHER_ADDRESS = "other.example.org", "203.0.113.99"


def seed(db: Database, *values: str, source: str = "dns test feed") -> dict[str, uuid.UUID]:
    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name=source, reliability=60)
    ingest(db, source=ref, rows=[ParsedRow(line=i + 1, value=v) for i, v in enumerate(values)])
    with db.transaction(readonly=True) as session:
        rows = session.execute(select(ThreatIndicator.indicator_value, ThreatIndicator.id))
        return {value: indicator_id for value, indicator_id in rows}


def enrich(db: Database, indicator_id: uuid.UUID, data: Any, confidence: float = 0.9) -> str:
    with db.transaction() as session:
        row = EnrichmentData(
            indicator_id=indicator_id,
            enrichment_type=EnrichmentType.REPUTATION,
            enrichment_data=data,
            enricher="dns",
            confidence=confidence,
        )
        session.add(row)
        session.flush()
        return str(row.id)


def run(db: Database, **scope: Any) -> DiscoveryReport:
    with db.transaction() as session:
        return discover(session, now=utcnow(), **scope)


def ip_domain(db: Database) -> dict[tuple[str, str], ThreatCorrelation]:
    primary, related = aliased(ThreatIndicator), aliased(ThreatIndicator)
    statement = (
        select(ThreatCorrelation, primary.indicator_value, related.indicator_value)
        .join(primary, primary.id == ThreatCorrelation.primary_indicator_id)
        .join(related, related.id == ThreatCorrelation.related_indicator_id)
        .where(ThreatCorrelation.correlation_type == CorrelationType.IP_DOMAIN)
    )
    with db.transaction(readonly=True) as session:
        return {(a, b): row for row, a, b in session.execute(statement)}


def test_resolutions_are_read_from_the_usual_shapes():
    assert resolutions(
        {"dns": {"A": ["192.0.2.1"], "AAAA": "2001:db8::1"}}, IndicatorType.DOMAIN
    ) == [
        "192.0.2.1",
        "2001:db8::1",
    ]
    passive = {"resolutions": [{"ip_address": "192.0.2.2"}, "192.0.2.3", {"hostname": "x.org"}]}
    assert resolutions(passive, IndicatorType.DOMAIN) == ["192.0.2.2", "192.0.2.3"]
    assert resolutions(passive, IndicatorType.IP) == ["192.0.2.3", "x.org"]
    assert resolutions({"PTR": ["host.example.com"]}, IndicatorType.IP) == ["host.example.com"]
    assert resolutions(["192.0.2.1"], IndicatorType.DOMAIN) == []


def test_a_dns_resolution_links_a_domain_and_an_address(db: Database):
    ids = seed(db, DOMAIN, ADDRESS, OTHER_DOMAIN, OTHER_ADDRESS)
    forward = enrich(db, ids[DOMAIN], {"dns": {"A": [ADDRESS, "198.51.100.250"]}})
    backward = enrich(db, ids[OTHER_ADDRESS], {"resolutions": [{"hostname": OTHER_DOMAIN}]})

    report = run(db, indicator_ids=[ids[DOMAIN], ids[OTHER_ADDRESS]])

    found = ip_domain(db)
    # The unknown address links nothing: correlations are between indicators.
    assert set(found) == {(DOMAIN, ADDRESS), (OTHER_DOMAIN, OTHER_ADDRESS)}
    assert report.created["ip_domain"] == 2
    first = found[(DOMAIN, ADDRESS)].correlation_data["evidence"]
    assert [(e["kind"], e["enrichment_id"], e["resolved"]) for e in first] == [
        ("dns", forward, "domain to address")
    ]
    second = found[(OTHER_DOMAIN, OTHER_ADDRESS)].correlation_data["evidence"]
    assert [(e["kind"], e["enrichment_id"]) for e in second] == [("dns", backward)]
    assert float(found[(DOMAIN, ADDRESS)].correlation_score) > 50


def test_inactive_indicators_are_no_evidence(db: Database):
    ids = seed(db, DOMAIN, ADDRESS)
    enrich(db, ids[DOMAIN], {"dns": {"A": [ADDRESS]}})
    with db.transaction() as session:
        session.execute(
            update(ThreatIndicator)
            .where(ThreatIndicator.id == ids[ADDRESS])
            .values(is_active=False)
        )

    report = run(db)

    assert ip_domain(db) == {}
    assert report.found["ip_domain"] == 0


def test_enrichment_since_a_time_is_in_scope(db: Database):
    ids = seed(db, DOMAIN, ADDRESS)
    before = utcnow() - timedelta(seconds=1)
    enrich(db, ids[DOMAIN], {"dns": {"A": [ADDRESS]}})

    report = run(db, since=before)

    assert report.scope == "since" and report.indicators
    assert set(ip_domain(db)) == {(DOMAIN, ADDRESS)}


def test_rediscovery_refreshes_the_evidence_and_keeps_the_verdict(db: Database):
    ids = seed(db, DOMAIN, ADDRESS)
    enrich(db, ids[DOMAIN], {"dns": {"A": [ADDRESS]}}, confidence=0.5)
    run(db, indicator_ids=[ids[DOMAIN]])
    pair = ip_domain(db)[(DOMAIN, ADDRESS)]
    with db.transaction() as session:
        service.update_correlation(
            session,
            actor=SYSTEM,
            correlation_id=pair.id,
            changes={"is_verified": True, "analyst_notes": "seen in our proxy logs"},
        )
    enrich(db, ids[ADDRESS], {"PTR": [DOMAIN]}, confidence=0.9)

    report = run(db, indicator_ids=[ids[ADDRESS]])

    after = ip_domain(db)[(DOMAIN, ADDRESS)]
    assert report.updated["ip_domain"] == 1 and report.created["ip_domain"] == 0
    assert after.id == pair.id
    assert float(after.correlation_score) > float(pair.correlation_score)
    assert len(after.correlation_data["evidence"]) == 2
    assert after.is_verified is True
    assert after.analyst_notes == "seen in our proxy logs"
    assert after.discovered_at == pair.discovered_at

    again = run(db, indicator_ids=[ids[ADDRESS]])

    assert again.unchanged["ip_domain"] == 1 and again.updated["ip_domain"] == 0
    with db.transaction(readonly=True) as session:
        actions = list(
            session.scalars(select(AuditLog.action).where(AuditLog.resource_id == str(pair.id)))
        )
    assert actions == ["threat_correlation.update"]


def test_a_stix_domain_states_what_it_resolves_to(db: Database):
    path = shared_data("stix", "stix-elevator", "resolve_to_observable.json")
    with db.transaction() as session:
        ref = ensure_source(session, actor=SYSTEM, name="stix sample", reliability=70)
        import_bundle(session, bundle=path, source=ref, actor=SYSTEM)

    run(db)

    found = ip_domain(db)
    assert set(found) == {
        ("www.dhcpserver.ns01.us", "219.90.112.203"),
        ("www.dhcpserver.ns01.us", "202.65.220.64"),
    }
    for row in found.values():
        (evidence,) = row.correlation_data["evidence"]
        assert evidence["kind"] == "dns"
        assert evidence["stix_id"] == "domain-name--3fa3b1c7-15bb-58a8-80ed-5c50c5c7baee"
