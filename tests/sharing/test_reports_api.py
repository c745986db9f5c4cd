"""Threat reports over HTTP: drafts, publishing, filters and paging, permissions, audit."""

from __future__ import annotations

REPORTS = "/api/v1/threat-reports"
SHA = "a" * 64


def test_a_report_is_drafted_published_edited_and_deleted_with_audit(
    api, seed_indicators, audit_actions, make
):
    indicator_ids = list(seed_indicators("198.51.100.7", "evil.example.org").values())
    api.login_as("ana", "analyst")
    me = api.get("/api/v1/auth/me").json()["user"]["id"]
    draft = make.report(
        "Qakbot returns",
        executive_summary="Loader back after takedown",
        detailed_analysis="Long text",
        report_type="campaign",
        classification="confidential",
        indicators_referenced=indicator_ids,
        attachments=[
            {"name": "iocs.csv", "media_type": "text/csv", "size_bytes": 120, "sha256": SHA}
        ],
    )
    assert draft["author_id"] == me
    assert draft["published_at"] is None
    assert sorted(draft["indicators_referenced"]) == sorted(indicator_ids)
    assert draft["attachments"][0]["name"] == "iocs.csv"
    report_id = draft["id"]

    published = api.post(f"{REPORTS}/{report_id}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["published_at"] is not None
    assert api.post(f"{REPORTS}/{report_id}/publish").status_code == 409

    edited = api.patch(f"{REPORTS}/{report_id}", json={"classification": "public"})
    assert edited.json()["classification"] == "public"
    assert edited.json()["published_at"] == published.json()["published_at"]

    assert api.delete(f"{REPORTS}/{report_id}").status_code == 204
    assert api.get(f"{REPORTS}/{report_id}").status_code == 404
    assert sorted(audit_actions("threat_report")) == [
        "threat_report.create",
        "threat_report.delete",
        "threat_report.publish",
        "threat_report.update",
    ]


def test_reports_filter_by_type_classification_publication_and_text_and_page(api, make):
    api.login_as("ana", "analyst")
    first = make.report("Alpha trends", report_type="trend", classification="public")
    make.report("Bravo incident", report_type="incident")
    third = make.report("Charlie actor", report_type="threat_actor", executive_summary="APT-1 gone")
    api.post(f"{REPORTS}/{first['id']}/publish")
    api.post(f"{REPORTS}/{third['id']}/publish")
    api.login_as("vic", "viewer")

    newest = api.get(REPORTS, params={"limit": 2}).json()
    assert [r["title"] for r in newest["items"]] == ["Charlie actor", "Bravo incident"]
    assert newest["total"] == 3
    rest = api.get(REPORTS, params={"limit": 2, "cursor": newest["next_cursor"]}).json()
    assert [r["title"] for r in rest["items"]] == ["Alpha trends"]
    by_title = api.get(REPORTS, params={"sort": "title"}).json()
    assert [r["title"] for r in by_title["items"]] == [
        "Alpha trends",
        "Bravo incident",
        "Charlie actor",
    ]

    def titles(**params) -> list[str]:
        response = api.get(REPORTS, params={"sort": "title", **params})
        assert response.status_code == 200, response.text
        return [r["title"] for r in response.json()["items"]]

    assert titles(published="true") == ["Alpha trends", "Charlie actor"]
    assert titles(published="false") == ["Bravo incident"]
    assert titles(type="incident") == ["Bravo incident"]
    assert titles(classification="public") == ["Alpha trends"]
    assert titles(classification="internal") == ["Bravo incident", "Charlie actor"]
    assert titles(q="apt-1") == ["Charlie actor"]
    assert titles(q="TREND") == ["Alpha trends"]
    assert titles(published_after="2000-01-01T00:00:00Z") == ["Alpha trends", "Charlie actor"]
    assert titles(published_before="2000-01-01T00:00:00Z") == []
    assert api.get(REPORTS, params={"type": "novel"}).status_code == 422


def test_report_mistakes_are_clear_problems_and_viewers_cannot_write(api, make):
    api.login_as("ana", "analyst")
    unknown = api.post(
        REPORTS,
        json={"title": "x", "indicators_referenced": ["00000000-0000-0000-0000-000000000001"]},
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "indicators_referenced"
    bad_sha = api.post(REPORTS, json={"title": "x", "attachments": [{"name": "a", "sha256": "1"}]})
    assert bad_sha.status_code == 422
    assert bad_sha.json()["errors"][0]["field"].startswith("attachments")
    assert api.post(REPORTS, json={"title": ""}).status_code == 422
    assert api.post(REPORTS, json={"title": "x", "classification": "secret"}).status_code == 422
    report_id = make.report("Kept")["id"]
    assert api.patch(f"{REPORTS}/{report_id}", json={"title": None}).status_code == 422

    api.login_as("vic", "viewer")
    assert api.get(f"{REPORTS}/{report_id}").json()["title"] == "Kept"
    assert api.post(REPORTS, json={"title": "y"}).status_code == 403
    assert api.post(f"{REPORTS}/{report_id}/publish").status_code == 403
    assert api.delete(f"{REPORTS}/{report_id}").status_code == 403
