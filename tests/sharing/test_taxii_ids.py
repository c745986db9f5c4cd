"""Ids an import brought stay the ids we share: ``krsn stix export`` and the TAXII server read
them from the STIX object store, in batches, on both engines."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from krsn.db import Database
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.sharing.selection import select
from krsn.sharing.stix.export import export_bundle, own_stix_id, stix_id_for
from krsn.sharing.stix.service import import_bundle

STAMP = "2025-02-01T10:00:00.000Z"


def sdo(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        **fields,
    }


def indicator(address: str) -> dict[str, Any]:
    return sdo(
        "indicator",
        pattern=f"[ipv4-addr:value = '{address}']",
        pattern_type="stix",
        valid_from=STAMP,
    )


def load(db: Database, objects: list[dict[str, Any]]) -> None:
    with db.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="partner")
        import_bundle(
            session,
            bundle={"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects},
            source=source,
            actor=Actor.system(),
        )


def test_imported_actor_campaign_report_and_indicators_keep_their_ids(db: Database):
    group = sdo("intrusion-set", name="Sandworm Team")
    campaign = sdo("campaign", name="Industroyer")
    first, second = indicator("185.220.101.1"), indicator("185.220.101.2")
    links = [
        sdo("relationship", relationship_type="indicates", source_ref=i["id"], target_ref=t["id"])
        for i in (first, second)
        for t in (group, campaign)
    ]
    report = sdo(
        "report",
        name="Grid attacks",
        published=STAMP,
        report_types=["threat-report"],
        object_refs=[first["id"], second["id"]],
    )
    load(db, [group, campaign, first, second, *links, report])
    with db.transaction(readonly=True) as session:
        by_actor = export_bundle(session, selection=select(session, actor="Sandworm Team"))
        by_campaign = export_bundle(session, selection=select(session, campaign="Industroyer"))
        by_report = export_bundle(session, selection=select(session, report="Grid attacks"))
    ids = {o["id"] for o in by_actor["objects"]}
    assert {group["id"], first["id"], second["id"]} <= ids
    assert campaign["id"] in {o["id"] for o in by_campaign["objects"]}
    assert {report["id"], first["id"], second["id"]} <= {o["id"] for o in by_report["objects"]}
    # The relationships join the imported ids.
    pairs = {
        (o["source_ref"], o["target_ref"])
        for o in by_actor["objects"]
        if o["type"] == "relationship"
    }
    assert (first["id"], group["id"]) in pairs


def test_a_row_with_no_imported_object_gets_our_own_id(db: Database):
    with db.transaction(readonly=True) as session:
        row_id = uuid.uuid4()
        found = stix_id_for(
            session, stix_type="indicator", table="threat_indicators", row_id=row_id
        )
    assert found == own_stix_id("indicator", "threat_indicators", row_id)
    namespace = uuid.UUID("73eb1bba-eed4-4f49-bd34-27446d765504")
    assert found == f"indicator--{uuid.uuid5(namespace, f'threat_indicators:{row_id}')}"


def test_the_store_is_read_in_batches_not_once_per_indicator(db: Database):
    count = 2500
    load(db, [indicator(f"10.{n // 250}.{n % 250}.9") for n in range(count)])
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "stix_objects" in statement:
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.transaction(readonly=True) as session:
            bundle = export_bundle(session, selection=select(session, query={"type": "ip"}))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert sum(o["type"] == "indicator" for o in bundle["objects"]) == count
    with db.transaction(readonly=True) as session:
        stored = set(session.scalars(sa.text("SELECT stix_id FROM stix_objects")))
    assert {o["id"] for o in bundle["objects"] if o["type"] == "indicator"} == stored
    # 2,500 rows: chunks of 1,000 ids in batches of 2,000 rows.
    assert 1 <= len(statements) <= 4, len(statements)
