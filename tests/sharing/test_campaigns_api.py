"""Threat campaigns over HTTP: CRUD, attribution to actors, filters and paging, permissions."""

from __future__ import annotations

CAMPAIGNS = "/api/v1/threat-campaigns"
ACTORS = "/api/v1/threat-actors"


def test_a_campaign_round_trips_with_its_attributed_actors_and_indicator_count(
    api, seed_indicators, audit_actions, make
):
    ids = seed_indicators("203.0.113.9", "bad.example.net", "http://bad.example.net/x")
    api.login_as("ana", "analyst")
    me = api.get("/api/v1/auth/me").json()["user"]["id"]
    apt = make.actor("APT-29")["id"]
    created = make.campaign(
        "SolarWinds",
        description="Supply chain",
        status="dormant",
        tactics=["initial-access"],
        procedures=["trojanised update"],
        attributed_actors=[apt],
        first_observed="2019-09-01T00:00:00Z",
        last_observed="2020-12-13T00:00:00Z",
    )
    assert created["attributed_actors"] == [{"actor_id": apt, "name": "APT-29", "attack_id": None}]
    assert created["analyst_id"] == me
    assert created["tactics"] == ["initial-access"]
    assert created["procedures"] == ["trojanised update"]
    campaign_id = created["id"]
    for value in ids:
        linked = api.post(
            f"{CAMPAIGNS}/{campaign_id}/indicators",
            json={"indicator": value, "relationship_type": "infrastructure"},
        )
        assert linked.status_code == 201, linked.text
    shown = api.get(f"{CAMPAIGNS}/{campaign_id}").json()
    assert shown["indicator_count"] == 3
    assert shown["status"] == "dormant"

    # The actor's new name shows in the campaign: attribution is by id.
    api.patch(f"{ACTORS}/{apt}", json={"actor_name": "Cozy Bear"})
    assert api.get(f"{CAMPAIGNS}/{campaign_id}").json()["attributed_actors"][0]["name"] == (
        "Cozy Bear"
    )
    changed = api.patch(f"{CAMPAIGNS}/{campaign_id}", json={"status": "completed"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "completed"
    assert changed.json()["attributed_actors"][0]["actor_id"] == apt

    assert api.delete(f"{CAMPAIGNS}/{campaign_id}").status_code == 204
    assert api.get(f"{CAMPAIGNS}/{campaign_id}").status_code == 404
    assert audit_actions("threat_campaign") == [
        "threat_campaign.create",
        "threat_campaign.update",
        "threat_campaign.delete",
    ]


def test_deleting_an_actor_removes_it_from_the_campaigns_it_was_behind(api, make):
    api.login_as("ana", "analyst")
    first, second = make.actor("one")["id"], make.actor("two")["id"]
    campaign_id = make.campaign("Op", attributed_actors=[first, second])["id"]
    assert api.delete(f"{ACTORS}/{first}").status_code == 204
    shown = api.get(f"{CAMPAIGNS}/{campaign_id}").json()
    assert [a["actor_id"] for a in shown["attributed_actors"]] == [second]


def test_campaigns_filter_by_status_actor_text_and_dates_and_page(api, make):
    api.login_as("ana", "analyst")
    apt = make.actor("APT-1")["id"]
    make.campaign("gamma", status="dormant", attributed_actors=[apt])
    make.campaign("alpha", first_observed="2021-05-01T00:00:00Z")
    make.campaign("beta", status="completed", attributed_actors=[apt])
    page = api.get(CAMPAIGNS, params={"limit": 2}).json()
    assert [c["campaign_name"] for c in page["items"]] == ["alpha", "beta"]
    assert page["total"] == 3
    rest = api.get(CAMPAIGNS, params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [c["campaign_name"] for c in rest["items"]] == ["gamma"]
    newest = api.get(CAMPAIGNS, params={"sort": "-created", "limit": 1}).json()
    assert newest["items"][0]["campaign_name"] == "beta"
    by_actor = api.get(CAMPAIGNS, params={"actor_id": apt}).json()
    assert [c["campaign_name"] for c in by_actor["items"]] == ["beta", "gamma"]
    dormant = api.get(CAMPAIGNS, params={"status": "dormant"}).json()
    assert [c["campaign_name"] for c in dormant["items"]] == ["gamma"]
    text = api.get(CAMPAIGNS, params={"q": "ALP"}).json()
    assert [c["campaign_name"] for c in text["items"]] == ["alpha"]
    dated = api.get(CAMPAIGNS, params={"observed_before": "2022-01-01T00:00:00Z"}).json()
    assert [c["campaign_name"] for c in dated["items"]] == ["alpha"]


def test_campaign_mistakes_are_clear_problems(api, make):
    api.login_as("ana", "analyst")
    make.campaign("Taken")
    assert api.post(CAMPAIGNS, json={"campaign_name": "TAKEN"}).status_code == 409
    unknown_actor = api.post(
        CAMPAIGNS,
        json={"campaign_name": "A", "attributed_actors": ["00000000-0000-0000-0000-000000000001"]},
    )
    assert unknown_actor.status_code == 422
    assert unknown_actor.json()["field"] == "attributed_actors"
    bad_status = api.post(CAMPAIGNS, json={"campaign_name": "B", "status": "sleeping"})
    assert bad_status.status_code == 422
    assert bad_status.json()["errors"][0]["field"] == "status"
    unknown_technique = api.post(CAMPAIGNS, json={"campaign_name": "C", "techniques": ["T0000"]})
    assert unknown_technique.status_code == 422
    assert (
        api.patch(
            f"{CAMPAIGNS}/00000000-0000-0000-0000-000000000001", json={"status": "active"}
        ).status_code
        == 404
    )


def test_a_viewer_cannot_write_campaigns(api, make):
    writer = api.fresh()
    writer.login_as("ana", "analyst")
    campaign_id = make.campaign("Op Aurora", client=writer)["id"]
    api.login_as("vic", "viewer")
    assert api.get(CAMPAIGNS).json()["total"] == 1
    assert api.post(CAMPAIGNS, json={"campaign_name": "x"}).status_code == 403
    assert api.patch(f"{CAMPAIGNS}/{campaign_id}", json={"status": "dormant"}).status_code == 403
    assert api.delete(f"{CAMPAIGNS}/{campaign_id}").status_code == 403
