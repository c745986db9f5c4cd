"""Indicators over HTTP: search, one indicator with its sources and score, lookup."""

from __future__ import annotations

from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor


def seed(api) -> None:
    with api.database.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="seed", reliability=90)
    values = [
        "203.0.113.0/24",
        "198.51.100.7",
        "evil.example.org",
        "http://evil.example.org/gate.php",
        "d41d8cd98f00b204e9800998ecf8427e",
    ]
    ingest(
        api.database,
        source=source,
        default_confidence=80,
        rows=[
            ParsedRow(line=i + 1, value=v, malware_family="Qakbot" if i == 1 else None)
            for i, v in enumerate(values)
        ],
    )


def test_search_filters_and_pages(api):
    seed(api)
    api.login_as("vic", "viewer")
    everything = api.get("/api/v1/indicators").json()
    assert everything["total"] == 5
    ips = api.get("/api/v1/indicators", params={"type": "ip"}).json()
    assert {i["indicator_value"] for i in ips["items"]} == {"203.0.113.0/24", "198.51.100.7"}
    prefixed = api.get("/api/v1/indicators", params={"q": "EVIL."}).json()
    assert [i["indicator_value"] for i in prefixed["items"]] == ["evil.example.org"]
    page = api.get("/api/v1/indicators", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]


def test_one_indicator_shows_why_it_scores_what_it_does(api):
    seed(api)
    api.login_as("ann", "analyst")
    shown = api.get("/api/v1/indicators/198[.]51[.]100[.]7")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    score = body["indicator"]["metadata"]["score"]
    assert score["factors"]["source_confidences"] == {"seed": 72.0}
    assert score["factors"]["malware_family_bonus"] == 10.0
    assert body["indicator"]["threat_score"] == score["threat_score"]
    assert [r["source"] for r in body["intelligence"]] == ["seed"]
    url = api.get("/api/v1/indicators/hxxp://evil[.]example[.]org/gate.php")
    assert url.status_code == 200
    assert api.get("/api/v1/indicators/unknown.example.net").status_code == 404
    assert api.get("/api/v1/indicators/not a value").status_code == 422


def test_lookup_matches_exact_values_and_ips_inside_ranges(api):
    seed(api)
    api.login_as("sam", "viewer")
    answer = api.post(
        "/api/v1/indicators/lookup",
        json={"values": ["203.0.113.77", "198.51.100.7", "EVIL.example.org", "192.0.2.1", "???"]},
    )
    assert answer.status_code == 200
    matches = {(m["value"], m["matched"]) for m in answer.json()["matches"]}
    assert matches == {
        ("203.0.113.77", "203.0.113.0/24"),
        ("198.51.100.7", "198.51.100.7"),
        ("EVIL.example.org", "evil.example.org"),
    }
    assert answer.json()["unreadable"] == ["???"]
    too_many = api.post("/api/v1/indicators/lookup", json={"values": ["1.1.1.1"] * 10_001})
    assert too_many.status_code in (413, 422)
