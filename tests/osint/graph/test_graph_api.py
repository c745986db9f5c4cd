"""The graph's REST routes against the real app: viewers read, analysts link, all audited.

``api`` is the suite's client against the live server (tests/conftest.py).
"""

from __future__ import annotations

from typing import Any

from graph_factories import link_all, make_entities
from sqlalchemy import select

from krsn.identity.models import AuditLog
from krsn.osint.models import EntityType, RelationshipType


def test_a_viewer_reads_the_neighbourhood_by_type_and_value(api: Any):
    (domain,) = make_entities(api.database, ["evil.example.com"], entity_type=EntityType.DOMAIN)
    (ip,) = make_entities(api.database, ["203.0.113.7"], entity_type=EntityType.IP_ADDRESS)
    link_all(api.database, [(domain, ip)], RelationshipType.RESOLVES_TO)
    api.login_as("vera", "viewer")
    response = api.get("/api/v1/graph/neighbours", params={"node": "domain:evil.example.com"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {n["node"] for n in body["nodes"]} == {str(domain), str(ip)}
    assert body["edges"][0]["type"] == "RESOLVES_TO"
    assert body["truncated"] is False and body["reason"] is None
    path = api.get("/api/v1/graph/path", params={"source": str(domain), "target": str(ip)})
    assert path.status_code == 200 and path.json()["length"] == 1
    rank = api.get("/api/v1/graph/rank", params={"algorithm": "degree"})
    assert rank.status_code == 200 and len(rank.json()["items"]) == 2
    assert api.get("/api/v1/graph/components").json()["count"] == 1


def test_a_viewer_cannot_link(api: Any):
    a, b = make_entities(api.database, ["A", "B"])
    api.login_as("vera", "viewer")
    response = api.post(
        "/api/v1/graph/links", json={"source": str(a), "target": str(b), "type": "OWNS"}
    )
    assert response.status_code == 403


def test_an_analyst_links_and_unlinks_and_both_are_audited(api: Any):
    a, b = make_entities(api.database, ["Acme", "Globex"])
    api.login_as("ana", "analyst")
    body = {"source": str(a), "target": str(b), "type": "OWNS", "confidence": 0.7}
    created = api.post("/api/v1/graph/links", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["asserted_by"] == "ana"
    assert api.post("/api/v1/graph/links", json=body).status_code == 409
    around = api.get("/api/v1/graph/neighbours", params={"node": str(a), "depth": 1}).json()
    assert [e["confidence"] for e in around["edges"]] == [0.7]
    removed = api.delete(
        "/api/v1/graph/links", params={"source": str(b), "target": str(a), "type": "OWNS"}
    )
    assert removed.status_code == 200 and removed.json()["removed"] == 1
    again = api.delete(
        "/api/v1/graph/links", params={"source": str(b), "target": str(a), "type": "OWNS"}
    )
    assert again.status_code == 404
    with api.database.transaction(readonly=True) as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.action.like("graph.%"))
        ).all()
    assert sorted(actions) == ["graph.link", "graph.unlink"]


def test_bad_nodes_and_depths_are_clear_errors(api: Any):
    api.login_as("vera", "viewer")
    unknown = api.get("/api/v1/graph/neighbours", params={"node": "planet:mars"})
    assert unknown.status_code == 422 and "unknown kind" in unknown.text
    missing = api.get("/api/v1/graph/neighbours", params={"node": "domain:nowhere.example.com"})
    assert missing.status_code == 404
    deep = api.get("/api/v1/graph/neighbours", params={"node": "domain:x.example.com", "depth": 4})
    assert deep.status_code == 422


def test_signed_out_callers_are_refused(api: Any):
    assert api.get("/api/v1/graph/components").status_code == 401
