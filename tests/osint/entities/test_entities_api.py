"""Entities over HTTP: list with filters, show with everything known, merge and split by
analysts only, risk history, rescoring, and the enrichment store."""

from __future__ import annotations

from entity_support import start_investigation
from sqlalchemy import select

from detection_support import seed_indicators
from krsn.identity.models import AuditLog
from krsn.osint.collectors.base import Collected, Observed
from krsn.osint.models import EntityType

ENTITIES = "/api/v1/entities"


def seed(api) -> dict[str, str]:
    """Three domains and an organisation stored through the item store; their ids by name."""
    seed_indicators(api.database, ["c2.evil.example.com"])
    investigation = start_investigation(api.database)
    investigation.store(
        Collected(
            item_type="dns_record",
            raw={"n": 1},
            entities=[
                Observed(EntityType.DOMAIN, "c2.evil.example.com"),
                Observed(EntityType.DOMAIN, "cdn.evil.example.com"),
                Observed(EntityType.DOMAIN, "good.example.org"),
                Observed(EntityType.ORGANIZATION, "Evil Corp", properties={"sanctioned": True}),
            ],
        )
    )
    return {e.normalized_name: str(e.id) for e in investigation.entities()}


def test_a_viewer_reads_entities_but_cannot_merge_split_or_rescore(api) -> None:
    ids = seed(api)
    api.login_as("vera", "viewer")

    listed = api.get(ENTITIES, params={"type": "domain", "q": "c2.evil"})
    assert listed.status_code == 200, listed.text
    assert [row["name"] for row in listed.json()["items"]] == ["c2.evil.example.com"]
    shown = api.get(f"{ENTITIES}/{ids['c2.evil.example.com']}").json()
    assert shown["indicator"]["value"] == "c2.evil.example.com"
    assert shown["source_count"] == 1 and shown["sources"][0]["source_name"] == "acme-feed"
    assert shown["risk_history"][0]["factors"]

    merge = {"survivor": ids["c2.evil.example.com"], "merged": [ids["cdn.evil.example.com"]]}
    assert api.post(f"{ENTITIES}/merge", json=merge).status_code == 403
    split = {"sources": [shown["sources"][0]["id"]]}
    assert api.post(f"{ENTITIES}/{ids['c2.evil.example.com']}/split", json=split).status_code == 403
    assert api.post(f"{ENTITIES}/rescore", json={"all": True}).status_code == 403


def test_filters_sort_and_page_the_entity_list(api) -> None:
    ids = seed(api)
    api.login_as("ana", "analyst")

    risky = api.get(ENTITIES, params={"min_risk": 51}).json()
    assert {row["name"] for row in risky["items"]} == {"c2.evil.example.com", "Evil Corp"}
    assert all(row["risk_level"] in {"high", "critical"} for row in risky["items"])
    first = api.get(ENTITIES, params={"limit": 2, "sort": "name"}).json()
    assert first["total"] == 4 and len(first["items"]) == 2
    rest = api.get(ENTITIES, params={"limit": 2, "sort": "name", "cursor": first["next_cursor"]})
    names = [r["normalized_name"] for r in first["items"] + rest.json()["items"]]
    assert names == sorted(ids)
    assert api.get(ENTITIES, params={"q": "evil corp"}).json()["items"][0]["name"] == "Evil Corp"


def test_an_analyst_merges_and_the_merge_is_audited(api) -> None:
    ids = seed(api)
    api.login_as("ana", "analyst")
    body = {"survivor": ids["c2.evil.example.com"], "merged": [ids["cdn.evil.example.com"]]}

    merged = api.post(f"{ENTITIES}/merge", json=body)

    assert merged.status_code == 200, merged.text
    assert merged.json()["merged"] == [ids["cdn.evil.example.com"]]
    assert api.get(f"{ENTITIES}/{ids['cdn.evil.example.com']}").status_code == 404
    with api.database.transaction(readonly=True) as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.resource_id == ids["c2.evil.example.com"])
        ).all()
    assert "entity.merge" in actions
    bad = api.post(f"{ENTITIES}/merge", json={**body, "merged": [body["survivor"]]})
    assert bad.status_code == 422


def test_risk_history_and_rescore_say_why(api) -> None:
    ids = seed(api)
    api.login_as("ana", "analyst")
    corp = ids["evil"]

    rescored = api.post(f"{ENTITIES}/{corp}/rescore")
    assert rescored.status_code == 200, rescored.text
    history = api.get(f"{ENTITIES}/{corp}/risk").json()
    assert len(history) == 2
    reasons = {f["factor"]: f["contribution"] for f in history[0]["factors"]}
    assert reasons["sanctions"] == 60
    assert history[0]["level"] == "high"
    assert api.post(f"{ENTITIES}/rescore", json={}).status_code == 422
    assert api.post(f"{ENTITIES}/rescore", json={"all": True}).json()["rescored"] == 4


def test_enrichments_and_analyses_attach_to_entities_and_indicators(api) -> None:
    ids = seed(api)
    api.login_as("ana", "analyst")
    domain = ids["c2.evil.example.com"]
    indicator_id = api.get(f"{ENTITIES}/{domain}").json()["indicator"]["id"]

    added = api.post(
        "/api/v1/enrichments",
        json={
            "entity_id": domain,
            "enrichment_type": "whois",
            "enricher": "rdap",
            "version": "1.2",
            "confidence": 0.8,
            "data": {"registrar": "Example Registrar"},
        },
    )
    assert added.status_code == 201, added.text
    on_indicator = api.post(
        "/api/v1/enrichments",
        json={
            "indicator_id": indicator_id,
            "enrichment_type": "reputation",
            "enricher": "vt",
            "data": {"malicious": 12},
            "expires_at": "2000-01-01T00:00:00Z",
        },
    )
    assert on_indicator.status_code == 201
    both = api.post(
        "/api/v1/enrichments",
        json={"entity_id": domain, "indicator_id": indicator_id, "enrichment_type": "whois",
              "enricher": "x", "data": {}},
    )  # fmt: skip
    assert both.status_code == 422

    listed = api.get("/api/v1/enrichments", params={"entity_id": domain}).json()
    assert [(e["enricher"], e["version"], e["confidence"]) for e in listed["items"]] == [
        ("rdap", "1.2", 0.8)
    ]
    assert (
        api.get("/api/v1/enrichments", params={"indicator_id": indicator_id}).json()["total"] == 0
    )
    expired = api.get(
        "/api/v1/enrichments", params={"indicator_id": indicator_id, "include_expired": True}
    ).json()
    assert expired["items"][0]["expired"] is True
    shown = api.get(f"/api/v1/enrichments/{added.json()['id']}").json()
    assert shown["data"] == {"registrar": "Example Registrar"}
    assert api.get(f"{ENTITIES}/{domain}").json()["enrichments"][0]["enricher"] == "rdap"

    analysis = api.post(
        "/api/v1/analyses",
        json={
            "analysis_type": "infrastructure_overlap",
            "input_entities": [domain, ids["evil"]],
            "results": {"shared": ["registrar"]},
            "metrics": {"jaccard": 0.42},
            "insights": ["Same registrar as Evil Corp's other domains"],
        },
    )
    assert analysis.status_code == 201, analysis.text
    mine = api.get("/api/v1/analyses", params={"entity_id": ids["evil"]}).json()
    assert [a["analysis_type"] for a in mine["items"]] == ["infrastructure_overlap"]
    assert (
        api.get("/api/v1/analyses", params={"entity_id": ids["good.example.org"]}).json()["items"]
        == []
    )
    one = api.get(f"/api/v1/analyses/{analysis.json()['analysis_id']}").json()
    assert one["metrics"] == {"jaccard": 0.42}
    ghost = api.post(
        "/api/v1/analyses",
        json={"analysis_type": "x", "input_entities": ["00000000-0000-4000-8000-000000000000"]},
    )
    assert ghost.status_code == 422
