"""Threat sources over HTTP: CRUD, permissions, a write-only encrypted authentication config."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text

from krsn.feeds.models import ThreatFeed, ThreatIntelligence
from krsn.identity.models import AuditLog

SOURCES = "/api/v1/threat-sources"
SECRET = "s3cr3t-token-that-must-never-leak"


def audit_rows(api, action: str) -> list[AuditLog]:
    with api.database.transaction(readonly=True) as session:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.action == action)))
        session.expunge_all()
    return rows


def create(api, name: str = "Acme Intel", **extra) -> dict:
    body = {
        "name": name,
        "source_type": "commercial",
        "reliability_score": 80,
        "refresh_interval_minutes": 60,
        "api_endpoint": "https://intel.example.com/api",
        "authentication_config": {"type": "header", "name": "X-Key", "value": SECRET},
        **extra,
    }
    response = api.post(SOURCES, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_source_round_trips_through_create_read_update_and_delete(api):
    api.login_as("ana", "analyst")
    created = create(api)
    assert created["name"] == "Acme Intel"
    assert created["reliability_score"] == 80
    assert created["authentication_config_keys"] == ["name", "type", "value"]
    assert created["authentication"] == {
        "type": "header",
        "name": "X-Key",
        "username": None,
        "value": "********",
        "token": None,
        "password": None,
    }

    listed = api.get(SOURCES).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == created["id"]
    assert api.get(f"{SOURCES}/{created['id']}").json()["source_type"] == "commercial"

    changed = api.patch(
        f"{SOURCES}/{created['id']}",
        json={"reliability_score": 55.5, "is_active": False, "description": "trial"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["reliability_score"] == 55.5
    assert changed.json()["is_active"] is False
    assert changed.json()["authentication_config_keys"] == ["name", "type", "value"]

    assert api.delete(f"{SOURCES}/{created['id']}").status_code == 204
    assert api.get(f"{SOURCES}/{created['id']}").status_code == 404
    assert api.get(SOURCES).json()["total"] == 0


def test_sources_page_by_name_with_a_cursor(api):
    api.login_as("ana", "analyst")
    for name in ("charlie", "alpha", "bravo"):
        create(api, name)
    first = api.get(SOURCES, params={"limit": 2}).json()
    assert [s["name"] for s in first["items"]] == ["alpha", "bravo"]
    assert first["total"] == 3
    rest = api.get(SOURCES, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [s["name"] for s in rest["items"]] == ["charlie"]
    assert rest["next_cursor"] is None
    assert api.get(SOURCES, params={"q": "rav"}).json()["total"] == 1


def test_the_authentication_config_is_never_returned_and_is_encrypted_at_rest(api):
    api.login_as("ana", "analyst")
    created = create(api)
    source_id = created["id"]
    replaced = api.patch(
        f"{SOURCES}/{source_id}",
        json={"authentication_config": {"type": "bearer", "token": SECRET + "-2"}},
    )
    assert replaced.json()["authentication_config_keys"] == ["token", "type"]
    assert replaced.json()["authentication"]["token"] == "********"
    api.login_as("root", "admin")
    answers = [
        api.get(SOURCES),
        api.get(f"{SOURCES}/{source_id}"),
        api.get("/api/v1/audit-logs", params={"resource_type": "threat_source"}),
    ]
    for response in [*answers, replaced]:
        assert response.status_code == 200
        assert SECRET not in response.text
        assert '"authentication_config"' not in response.text
    with api.database.engine.connect() as connection:
        raw = connection.execute(
            text("SELECT CAST(authentication_config AS TEXT) FROM threat_sources")
        ).scalar_one()
    assert "$enc" in raw and SECRET not in raw and "token" not in raw


def test_clearing_the_authentication_config_leaves_no_keys(api):
    api.login_as("ana", "analyst")
    created = create(api)
    cleared = api.patch(f"{SOURCES}/{created['id']}", json={"authentication_config": None})
    assert cleared.json()["authentication_config_keys"] == []
    assert cleared.json()["authentication"] is None


def test_a_viewer_reads_sources_but_cannot_change_them(api):
    writer = api.fresh()
    writer.login_as("ana", "analyst")
    created = create(writer)
    writer.close()
    api.login_as("vera", "viewer")
    assert api.get(SOURCES).status_code == 200
    assert api.get(f"{SOURCES}/{created['id']}").status_code == 200
    assert api.post(SOURCES, json={"name": "Mine"}).status_code == 403
    assert api.patch(f"{SOURCES}/{created['id']}", json={"name": "x"}).status_code == 403
    assert api.delete(f"{SOURCES}/{created['id']}").status_code == 403


def test_a_duplicate_source_name_is_a_conflict_in_any_case(api):
    api.login_as("ana", "analyst")
    first = create(api, "Acme")
    duplicate = api.post(SOURCES, json={"name": "ACME"})
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "name"
    other = create(api, "Other")
    renamed = api.patch(f"{SOURCES}/{other['id']}", json={"name": "acme"})
    assert renamed.status_code == 409
    assert api.patch(f"{SOURCES}/{first['id']}", json={"name": "Acme"}).status_code == 200


def test_out_of_range_and_unknown_values_are_422_naming_the_field(api):
    api.login_as("ana", "analyst")
    cases = [
        ({"name": "x", "reliability_score": 101}, "reliability_score"),
        ({"name": "x", "source_type": "friends"}, "source_type"),
        ({"name": "x", "refresh_interval_minutes": 1}, "refresh_interval_minutes"),
        ({"name": "x", "api_endpoint": "ftp://example.com"}, "api_endpoint"),
        ({"name": "   "}, "name"),
        ({"name": "x", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = api.post(SOURCES, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.text, (body, response.text)
    created = create(api)
    response = api.patch(f"{SOURCES}/{created['id']}", json={"name": None})
    assert response.status_code == 422


def test_unknown_source_ids_are_404(api):
    api.login_as("ana", "analyst")
    missing = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"{SOURCES}/{missing}").status_code == 404
    assert api.patch(f"{SOURCES}/{missing}", json={"description": "x"}).status_code == 404
    assert api.delete(f"{SOURCES}/{missing}").status_code == 404


def test_every_source_change_is_audited_with_old_and_new_values(api):
    api.login_as("ana", "analyst")
    created = create(api)
    api.patch(f"{SOURCES}/{created['id']}", json={"reliability_score": 40})
    api.patch(
        f"{SOURCES}/{created['id']}",
        json={"authentication_config": {"type": "bearer", "token": SECRET + "-2"}},
    )
    api.delete(f"{SOURCES}/{created['id']}")

    [made] = audit_rows(api, "threat_source.create")
    assert made.new_values["name"] == "Acme Intel"
    assert made.details == {
        "authentication_config_keys": ["name", "type", "value"],
        "authentication_type": "header",
    }
    updates = audit_rows(api, "threat_source.update")
    assert len(updates) == 2
    score = next(u for u in updates if u.new_values)
    assert score.old_values == {"reliability_score": 80.0}
    assert score.new_values == {"reliability_score": 40.0}
    secret = next(u for u in updates if not u.new_values)
    assert secret.details["authentication_config_changed"] is True
    assert secret.details["authentication_type"] == "bearer"
    [deleted] = audit_rows(api, "threat_source.delete")
    assert deleted.old_values["name"] == "Acme Intel"
    for row in [made, *updates, deleted]:
        assert SECRET not in str((row.old_values, row.new_values, row.details)), row.action


def test_deleting_a_source_deletes_its_feeds_but_keeps_their_intelligence(api):
    api.login_as("ana", "analyst")
    feed = api.post(
        "/api/v1/feeds",
        json={
            "name": "local list",
            "url": "https://feeds.example.com/list.txt",
            "format": "text",
            "parsing_rules": {},
            "source": "Local Provider",
        },
    ).json()
    with api.database.transaction() as session:
        session.add(
            ThreatIntelligence(
                source_id=uuid.UUID(feed["source_id"]),
                feed_id=uuid.UUID(feed["id"]),
                raw_data={"v": "198.51.100.1"},
                processed_data={"kind": "ipv4", "value": "198.51.100.1"},
            )
        )
    assert api.delete(f"{SOURCES}/{feed['source_id']}").status_code == 204
    assert api.get(f"/api/v1/feeds/{feed['id']}").status_code == 404
    with api.database.transaction(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(ThreatFeed)) == 0
        record = session.scalars(select(ThreatIntelligence)).one()
        assert record.source_id is None and record.feed_id is None
    [deleted] = audit_rows(api, "threat_source.delete")
    assert deleted.details["deleted_feeds"] == [{"id": feed["id"], "name": "local list"}]
