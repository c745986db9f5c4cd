"""domain_intel against a DNS server and an RDAP/crt.sh server on 127.0.0.1, and the replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from collector_support import RECORDINGS, local_client, run

import krsn.osint.collectors as package
from krsn.osint.collectors.base import Cancelled, Collected, CollectorContext
from krsn.osint.collectors.dns import ReplayResolver
from krsn.osint.collectors.domain_intel import DomainIntelCollector
from krsn.osint.collectors.http import CollectorError, ReplayTransport
from krsn.osint.models import EntityType, RelationshipType

DEMO = Path(package.__file__).parent / "recordings" / "domain_intel"


def _serve(site) -> None:
    site.serve_file("/domain/example.org", "rdap_example_org.json", kind="application/rdap+json")
    site.serve_file("/crtsh/", "crtsh_example_org.json")


def _context(dns_server) -> CollectorContext:
    return CollectorContext(
        client=local_client(), nameservers=["127.0.0.1"], dns_port=dns_server.port
    )


def _config(site, **extra) -> dict:
    return {
        "domain": "example.org",
        "rdap_url": site.base,
        "crtsh_url": f"{site.base}/crtsh/",
        **extra,
    }


def _relations(records: list[Collected]) -> set[tuple[str, str, str]]:
    return {(r.source[1], r.type.value, r.target[1]) for c in records for r in c.relations}


def test_dns_rdap_and_certificates_become_items_entities_and_relations(site, dns_server) -> None:
    _serve(site)
    result = run(DomainIntelCollector(), _config(site), _context(dns_server))
    kinds = [r.item_type for r in result.records]
    assert kinds.count("rdap") == 1
    # crt.sh lists a precertificate and its certificate: one serial, one item.
    assert kinds.count("certificate") == 2
    records = {
        (r.raw["name"], r.raw["type"]): r for r in result.records if r.item_type == "dns_record"
    }
    assert records["example.org", "A"].raw["values"] == ["192.0.2.10"]
    assert records["example.org", "AAAA"].raw["values"] == ["2001:db8::a"]
    assert ("example.org", "TXT") in records and ("example.org", "SOA") in records
    relations = _relations(result.records)
    assert ("example.org", "RESOLVES_TO", "192.0.2.10") in relations
    assert ("mail.example.org", "ASSOCIATED_WITH", "example.org") in relations
    assert ("api.example.org", "PART_OF", "example.org") in relations
    assert ("api.example.org", "RESOLVES_TO", "192.0.2.30") in relations
    assert ("owner@example.org", "PART_OF", "example.org") in relations
    assert ("Example Org Foundation", "OWNS", "example.org") in relations
    mx = next(
        r
        for r in records["example.org", "MX"].relations
        if r.type is RelationshipType.ASSOCIATED_WITH
    )
    assert mx.properties == {"record": "MX", "preference": 10}
    # A name outside the domain on a shared certificate is not a subdomain.
    assert "unrelated.example.net" not in {e.value for r in result.records for e in r.entities}
    asked = {name for name, _ in dns_server.questions}
    assert {"api.example.org.", "www.example.org.", "staging.example.org."} <= asked
    assert result.progress[-1][0] == result.progress[-1][1]
    entity_types = {e.entity_type for r in result.records for e in r.entities}
    assert {EntityType.DOMAIN, EntityType.IP_ADDRESS, EntityType.EMAIL} <= entity_types


def test_subdomain_lookups_are_bounded(site, dns_server) -> None:
    _serve(site)
    run(DomainIntelCollector(), _config(site, max_subdomains=1), _context(dns_server))
    subdomains = {name for name, _ in dns_server.questions if name != "example.org."}
    assert subdomains == {"api.example.org."}


def test_the_same_records_asked_twice_hash_alike(site, dns_server) -> None:
    _serve(site)
    first = run(DomainIntelCollector(), _config(site), _context(dns_server)).records
    second = run(DomainIntelCollector(), _config(site), _context(dns_server)).records
    assert [r.hash_basis for r in first if r.hash_basis] == [
        r.hash_basis for r in second if r.hash_basis
    ]


def test_a_failing_part_ends_the_run_with_its_reason_after_the_rest(site, dns_server) -> None:
    site.serve_file("/domain/example.org", "rdap_example_org.json")
    site.serve("/crtsh/", "<html>502 Bad Gateway</html>", status=502, kind="text/html")
    collected: list[Collected] = []
    with pytest.raises(CollectorError, match=r"crt.sh: .*HTTP 502") as failed:
        for record in DomainIntelCollector().collect(
            DomainIntelCollector.Config.model_validate(_config(site)), _context(dns_server)
        ):
            collected.append(record)
    assert "example.org" in failed.value.detail
    assert {r.item_type for r in collected} == {"dns_record", "rdap"}


def test_a_certificate_search_that_is_not_json_is_a_clear_error(site, dns_server) -> None:
    site.serve("/crtsh/", "<html>busy</html>", kind="text/html")
    config = _config(site, rdap=False)
    with pytest.raises(CollectorError, match="did not answer JSON"):
        run(DomainIntelCollector(), config, _context(dns_server))


def test_a_cancelled_run_stops_at_its_next_check(site, dns_server) -> None:
    _serve(site)
    context = _context(dns_server)
    collector = DomainIntelCollector()
    records = collector.collect(collector.Config.model_validate(_config(site)), context)
    first = next(records)
    assert first.item_type == "dns_record"
    context.cancel.set()
    with pytest.raises(Cancelled):
        next(records)
    assert len(dns_server.questions) == 1
    assert site.requests == []


def test_the_shipped_recordings_replay_a_whole_run_offline() -> None:
    transport = ReplayTransport(DEMO)
    resolver = ReplayResolver(DEMO)
    context = CollectorContext(
        client=local_client(transport=transport, allow_private=False), resolver=resolver
    )
    result = run(DomainIntelCollector(), {"domain": "example.com"}, context)
    relations = _relations(result.records)
    assert ("example.com", "RESOLVES_TO", "198.51.100.10") in relations
    assert ("vpn.example.com", "RESOLVES_TO", "203.0.113.7") in relations
    assert ("vpn.example.com", "PART_OF", "example.com") in relations
    assert ("security@example.com", "PART_OF", "example.com") in relations
    assert ("Example Holdings Ltd", "OWNS", "example.com") in relations
    assert ("Jane Example", "WORKS_FOR", "Example Holdings Ltd") in relations
    # The technical contact's name is redacted: no entity is made of "REDACTED FOR PRIVACY".
    values = {e.value for r in result.records for e in r.entities}
    assert not any("REDACTED" in v for v in values)
    assert ("dev.example.com", "A") in resolver.questions
    assert len(transport.requests) == 2


def test_replay_dns_follows_cnames_and_knows_missing_names() -> None:
    resolver = ReplayResolver(RECORDINGS / "dns")
    answer = resolver.query("www.example.org", "A")
    assert answer is not None and answer.values == ["192.0.2.10"]
    cname = resolver.query("www.example.org", "CNAME")
    assert cname is not None and cname.values == ["example.org"]
    assert resolver.query("nope.example.org", "A") is None
    assert resolver.query("example.net", "A") is None


def test_a_dns_server_that_does_not_answer_is_reported(site) -> None:
    site.serve("/crtsh/", "[]")
    context = CollectorContext(client=local_client(), nameservers=["127.0.0.1"], dns_port=9)
    config = _config(site, rdap=False, record_types=["A"], dns_timeout=0.3)
    with pytest.raises(CollectorError, match="DNS A"):
        run(DomainIntelCollector(), config, context)
