"""An analyst's edits of indicators: false positives, tags, confidence, record status.

Each edit is audited, and a later ingest of the same value keeps it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from krsn.db import Database
from krsn.errors import Conflict, Invalid, NotFound
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.models import IntelligenceStatus, ThreatIntelligence
from krsn.feeds.pipeline import SourceRef, ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog, Role, User
from krsn.indicators import scoring
from krsn.indicators.models import Severity, ThreatIndicator
from krsn.indicators.normalise import Kind
from krsn.indicators.service import get_indicator, update_indicator

ANALYST = Actor(user_id=uuid.UUID(int=7), via="session", ip_address="192.0.2.10")


@pytest.fixture(autouse=True)
def _analyst(request: pytest.FixtureRequest) -> None:
    """The user behind ``ANALYST`` (audit rows point at a real user)."""
    if "db" not in request.fixturenames:
        return
    db: Database = request.getfixturevalue("db")
    with db.transaction() as session:
        session.add(
            User(
                id=ANALYST.user_id,
                username="ann",
                email="ann@example.org",
                password_hash="!",
                role=Role.ANALYST,
            )
        )


def source(db: Database, name: str = "feed-a", reliability: float = 80) -> SourceRef:
    with db.transaction() as session:
        return ensure_source(session, actor=Actor.system(), name=name, reliability=reliability)


def feed(db: Database, ref: SourceRef, values: list[str], **fields: Any) -> None:
    rows = [ParsedRow(line=i + 1, value=v, **fields) for i, v in enumerate(values)]
    ingest(db, rows=rows, source=ref, default_confidence=60)


def edit(db: Database, key: str, **changes: Any) -> ThreatIndicator:
    with db.transaction() as session:
        indicator = update_indicator(session, actor=ANALYST, key=key, changes=changes)
        session.expunge(indicator)
    return indicator


def stored(db: Database, key: str) -> tuple[ThreatIndicator, list[IntelligenceStatus]]:
    with db.transaction(readonly=True) as session:
        indicator = get_indicator(session, key)
        statuses = list(
            session.scalars(
                select(ThreatIntelligence.status).where(
                    ThreatIntelligence.indicator_id == indicator.id
                )
            )
        )
        session.expunge(indicator)
    return indicator, statuses


def audit_rows(db: Database) -> list[AuditLog]:
    with db.transaction(readonly=True) as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.action == "indicator.update")
            .order_by(AuditLog.created_at)
        ).all()
        for row in rows:
            session.expunge(row)
    return list(rows)


def test_a_false_positive_goes_inactive_with_its_records_and_can_be_undone(db: Database):
    ref = source(db)
    feed(db, ref, ["45.9.148.9", "evil.example.org"])
    marked = edit(db, "45[.]9[.]148[.]9", false_positive=True)
    assert marked.is_active is False
    verdict = marked.metadata_["analyst"]["false_positive"]
    assert verdict["by"] == str(ANALYST.user_id) and verdict["via"] == "session"
    assert datetime.fromisoformat(verdict["at"]) <= datetime.now(UTC)
    assert stored(db, "45.9.148.9")[1] == [IntelligenceStatus.FALSE_POSITIVE]
    assert stored(db, "evil.example.org")[0].is_active  # the others are untouched

    (row,) = audit_rows(db)
    assert row.resource_id == str(marked.id) and row.user_id == ANALYST.user_id
    assert row.old_values["is_active"] is True and row.new_values["is_active"] is False
    assert row.old_values["analyst"] == {}
    assert row.new_values["analyst"]["false_positive"]["at"] == verdict["at"]
    assert list(row.new_values["intelligence_status"].values()) == ["false_positive"]

    undone = edit(db, "45.9.148.9", false_positive=False)
    assert undone.is_active is True and "analyst" not in undone.metadata_
    assert stored(db, "45.9.148.9")[1] == [IntelligenceStatus.PROCESSED]
    assert len(audit_rows(db)) == 2


def test_a_later_ingest_keeps_a_false_positive_inactive_and_the_analysts_edits(db: Database):
    ref, other = source(db), source(db, "feed-b", 90)
    feed(db, ref, ["evil.example.org"], tags=("phishing",))
    edit(db, "evil.example.org", false_positive=True, tags_add=["reviewed"])
    edit(db, "evil.example.org", confidence_override=10)
    later = datetime.now(UTC) + timedelta(days=2)
    feed(db, ref, ["evil.example.org"], tags=("botnet",), last_seen=later)
    feed(db, other, ["evil.example.org"], malware_family="Qakbot", last_seen=later)

    indicator, statuses = stored(db, "evil.example.org")
    meta = indicator.metadata_
    assert indicator.is_active is False
    # feed-b's first record of it is born a false positive too, and says why.
    assert statuses == [IntelligenceStatus.FALSE_POSITIVE] * 2
    with db.transaction(readonly=True) as session:
        latest = session.scalars(
            select(ThreatIntelligence).where(ThreatIntelligence.source_id == other.id)
        ).one()
        assert latest.processed_data["false_positive"] == "analyst"
    assert indicator.last_seen_at == later  # the report itself is still recorded
    assert set(meta["sources"]) == {"feed-a", "feed-b"}
    assert meta["analyst"]["tags"] == ["reviewed"]
    assert meta["analyst"]["false_positive"]
    assert meta["tags"] == ["botnet", "phishing", "reviewed"]
    # The override still replaces the sources' confidence after the merge.
    assert meta["score"]["confidence"] == 10.0
    assert float(indicator.threat_score) == scoring.threat_score(
        Kind.DOMAIN, 10.0, has_malware_family=True
    )
    assert meta["score"]["factors"]["computed_confidence"] == scoring.combined_confidence(
        meta["sources"].values()
    )


def test_a_confidence_override_drives_score_and_severity_until_cleared(db: Database):
    ref = source(db, reliability=100)
    feed(db, ref, ["d41d8cd98f00b204e9800998ecf8427e"])
    key = "d41d8cd98f00b204e9800998ecf8427e"
    before, _ = stored(db, key)
    assert float(before.confidence_score) == 60.0 and before.severity is Severity.MEDIUM

    raised = edit(db, key, confidence_override=95)
    assert float(raised.confidence_score) == 95.0
    assert float(raised.threat_score) == 95.0 and raised.severity is Severity.CRITICAL
    assert raised.metadata_["analyst"] == {"confidence_override": 95.0}
    row = audit_rows(db)[-1]
    assert (row.old_values["threat_score"], row.new_values["threat_score"]) == (60.0, 95.0)
    assert row.old_values["severity"] == "medium" and row.new_values["severity"] == "critical"

    cleared = edit(db, key, confidence_override=None)
    assert float(cleared.threat_score) == 60.0 and cleared.severity is Severity.MEDIUM
    assert "analyst" not in cleared.metadata_
    assert "confidence_override" not in cleared.metadata_["score"]["factors"]

    for wrong in (-1, 100.5, float("nan"), True, "high"):
        with pytest.raises(Invalid, match="confidence_override"):
            edit(db, key, confidence_override=wrong)


def test_analyst_tags_stay_apart_from_feed_tags_and_only_they_can_be_removed(db: Database):
    ref = source(db)
    feed(db, ref, ["http://evil.example.org/gate.php"], tags=("phishing",))
    key = "hxxp://evil[.]example[.]org/gate.php"
    tagged = edit(db, key, tags_add=[" reviewed ", "apt-x", "phishing"])
    assert tagged.metadata_["analyst"]["tags"] == ["apt-x", "phishing", "reviewed"]
    assert tagged.metadata_["tags"] == ["apt-x", "phishing", "reviewed"]

    # An analyst tag the feed also gave leaves the analyst's list but stays a tag.
    untagged = edit(db, key, tags_remove=["apt-x", "phishing", "never-there"])
    assert untagged.metadata_["analyst"]["tags"] == ["reviewed"]
    assert untagged.metadata_["tags"] == ["phishing", "reviewed"]
    with pytest.raises(Invalid, match="reported by a feed"):
        edit(db, key, tags_remove=["phishing"])
    for wrong in ([""], ["x" * 101], ["bad\x00tag"], "reviewed"):
        with pytest.raises(Invalid, match="tags_add"):
            edit(db, key, tags_add=wrong)
    with pytest.raises(Invalid, match="also in tags_add"):
        edit(db, key, tags_add=["a"], tags_remove=["a"])


def test_record_status_is_set_for_every_record_but_not_on_a_false_positive(db: Database):
    a, b = source(db, "a"), source(db, "b")
    feed(db, a, ["evil.example.org"])
    feed(db, b, ["evil.example.org"])
    edit(db, "evil.example.org", status="verified")
    assert stored(db, "evil.example.org")[1] == [IntelligenceStatus.VERIFIED] * 2

    with pytest.raises(Conflict, match="false positive"):
        edit(db, "evil.example.org", false_positive=True, status="verified")
    edit(db, "evil.example.org", false_positive=True)
    with pytest.raises(Conflict):
        edit(db, "evil.example.org", status="processed")
    # Unmarking and setting the status in one edit is fine.
    back = edit(db, "evil.example.org", false_positive=False, status="verified")
    assert back.is_active
    assert stored(db, "evil.example.org")[1] == [IntelligenceStatus.VERIFIED] * 2
    for wrong in ("false_positive", "new", "bogus"):
        with pytest.raises(Invalid, match="status"):
            edit(db, "evil.example.org", status=wrong)


def test_an_edit_that_changes_nothing_writes_no_audit_row(db: Database):
    feed(db, source(db), ["evil.example.org"])
    edit(db, "evil.example.org", false_positive=False, tags_remove=["absent"])
    edit(db, "evil.example.org", confidence_override=None)
    assert audit_rows(db) == []
    with pytest.raises(Invalid, match="is_active"):
        edit(db, "evil.example.org", is_active=False)
    with pytest.raises(NotFound):
        edit(db, "unknown.example.net", false_positive=True)


def test_unmarking_a_false_positive_unseen_past_its_lifetime_leaves_it_inactive(db: Database):
    feed(db, source(db), ["45.9.148.9"], last_seen=datetime.now(UTC) - timedelta(days=45))
    edit(db, "45.9.148.9", false_positive=True)
    assert edit(db, "45.9.148.9", false_positive=False).is_active is False


# --- over HTTP --------------------------------------------------------------------------------


def test_an_analyst_edits_an_indicator_over_http_and_a_viewer_cannot(api):
    with api.database.transaction() as session:
        ref = ensure_source(session, actor=Actor.system(), name="seed", reliability=90)
    ingest(api.database, rows=[ParsedRow(line=1, value="evil.example.org")], source=ref)

    api.login_as("vic", "viewer")
    denied = api.patch("/api/v1/indicators/evil.example.org", json={"false_positive": True})
    assert denied.status_code == 403

    analyst = api.fresh()
    analyst.login_as("alice", "analyst")
    changed = analyst.patch(
        "/api/v1/indicators/evil[.]example[.]org",
        json={"false_positive": True, "tags_add": ["reviewed"], "confidence_override": 20},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["indicator"]["is_active"] is False
    assert body["indicator"]["metadata"]["analyst"]["tags"] == ["reviewed"]
    assert body["indicator"]["confidence_score"] == 20.0
    assert [r["status"] for r in body["intelligence"]] == ["false_positive"]
    assert body["indicator"]["decayed_threat_score"] == body["indicator"]["threat_score"]

    cleared = analyst.patch(
        "/api/v1/indicators/evil.example.org",
        json={"false_positive": False, "confidence_override": None, "status": "verified"},
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["indicator"]["is_active"] is True
    assert [r["status"] for r in cleared.json()["intelligence"]] == ["verified"]

    for bad in (
        {"is_active": False},
        {"confidence_override": 101},
        {"status": "false_positive"},
        {"tags_add": [""]},
        {"false_positive": "maybe"},
    ):
        assert analyst.patch("/api/v1/indicators/evil.example.org", json=bad).status_code == 422
    assert analyst.patch("/api/v1/indicators/nope.example.net", json={}).status_code == 404
    assert (
        analyst.patch(
            "/api/v1/indicators/evil.example.org", json={"tags_remove": ["x"], "tags_add": ["x"]}
        ).status_code
        == 422
    )
