"""``krsn collections`` and ``krsn collections sources`` on both engines, with ``--json``;
collections of a third-party collector (``acme_feed``, added in the ``custom`` category);
and a domain_intel collection run end to end against the recorded responses."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

import krsn.osint.collectors
from krsn.db import Database
from krsn.identity.audit import Actor
from krsn.osint.collections import service
from krsn.osint.collections.runner import RunOptions, run_collection
from krsn.osint.models import Entity, EntityRelationship, EntityType

RECORDINGS = Path(krsn.osint.collectors.__file__).parent / "recordings" / "domain_intel"


def test_create_list_show_update_delete(cli: Any, owner: uuid.UUID, scripted: str) -> None:
    created = cli.json(
        "collections",
        "create",
        "acme",
        "--type",
        "custom",
        "--collector",
        scripted,
        "--set",
        "count=2",
        "--every",
        "30",
    )
    assert (created["collector_type"], created["collector"]) == ("custom", scripted)
    assert created["status"] == "pending"
    assert created["config"] == {"count": 2}
    assert created["schedule"] == {"every_minutes": 30}
    assert created["user_id"] == str(owner)
    listed = cli.json("collections", "list", "--type", "custom")
    assert [c["name"] for c in listed["items"]] == ["acme"]
    assert cli.json("collections", "list", "--collector", scripted)["total"] == 1
    assert cli.json("collections", "list", "--collector", "custom")["total"] == 0
    assert cli.json("collections", "show", "acme")["id"] == created["id"]
    changed = cli.json("collections", "update", "acme", "--set", "count=5", "--no-schedule")
    assert changed["config"] == {"count": 5} and changed["schedule"] is None
    assert "acme" in cli.ok("collections", "list").stdout
    cli.ok("collections", "delete", "acme")
    cli.failed("collections", "show", "acme")


def test_bad_config_fails_cleanly_naming_the_field(
    cli: Any, owner: uuid.UUID, scripted: str
) -> None:
    result = cli.failed(
        "collections", "create", "x", "--collector", scripted, "--set", "count=lots"
    )
    assert "config.count" in result.stderr


def test_run_status_items_and_rerun(cli: Any, owner: uuid.UUID, scripted: str) -> None:
    cli.ok("collections", "create", "acme", "--collector", scripted, "--set", "count=3")
    outcome = cli.json("collections", "run", "acme")
    assert (outcome["status"], outcome["items_collected"]) == ("completed", 3)
    state = cli.json("collections", "status", "acme")
    assert state["status"] == "completed" and float(state["progress"]) == 100.0
    assert cli.json("collections", "items", "acme")["total"] == 3
    again = cli.json("collections", "run", "acme")
    assert (again["items_collected"], again["duplicates"]) == (0, 3)
    assert "completed" in cli.ok("collections", "status", "acme").stdout


def test_failed_run_exits_non_zero_with_the_error(
    cli: Any, owner: uuid.UUID, scripted: str
) -> None:
    cli.ok("collections", "create", "bad", "--collector", scripted, "--config", '{"fail_at": 0}')
    result = cli.failed("collections", "run", "bad")
    assert "HTTP 503" in result.stderr
    assert cli.json("collections", "status", "bad")["status"] == "failed"


def test_cancel_from_the_cli_stops_a_run_of_another_thread(
    cli: Any, db: Database, owner: uuid.UUID, scripted: str
) -> None:

    created = cli.json(
        "collections", "create", "endless", "--collector", scripted, "--set", "forever=true"
    )
    collection_id = uuid.UUID(created["id"])
    outcome: list[Any] = []
    options = RunOptions(batch_items=2, progress_seconds=0.0, poll_seconds=0.05)
    runner = threading.Thread(
        target=lambda: outcome.append(
            run_collection(db, collection_id, actor=Actor.system(), options=options)
        ),
        daemon=True,
    )
    runner.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with db.transaction(readonly=True) as session:
            if (service.get_collection(session, collection_id).items_collected or 0) > 2:
                break
        time.sleep(0.02)
    assert cli.json("collections", "cancel", "endless")["status"] == "cancelled"
    runner.join(10)
    assert not runner.is_alive() and outcome[0].status.value == "cancelled"
    assert cli.failed("collections", "cancel", "endless").exit_code == 1


def test_status_watch_follows_a_run_to_its_end(
    cli: Any, db: Database, owner: uuid.UUID, scripted: str
) -> None:

    created = cli.json(
        "collections",
        "create",
        "slow",
        "--collector",
        scripted,
        "--config",
        '{"count": 20, "delay": 0.02}',
    )
    collection_id = uuid.UUID(created["id"])

    with db.transaction() as session:
        service.claim_run(session, actor=Actor.system(), collection_id=collection_id)
    runner = threading.Thread(
        target=run_collection,
        args=(db, collection_id),
        kwargs={"actor": Actor.system(), "claimed": True, "options": RunOptions(batch_items=4)},
        daemon=True,
    )
    runner.start()
    lines = cli.ok("collections", "status", "slow", "--watch", "--interval", "0.1", "--json")
    runner.join(10)

    states = [json.loads(line) for line in lines.stdout.splitlines() if line.strip()]
    assert states[0]["status"] == "running"
    assert states[-1]["status"] == "completed"


def test_types_lists_the_collectors(cli: Any) -> None:
    found = {t["name"]: t["collector_type"] for t in cli.json("collections", "types")}
    for kind in ("domain_intel", "news", "public_db", "social_media", "dark_web", "custom"):
        assert found[kind] == kind
    assert "domain_intel" in cli.ok("collections", "types").stdout


def test_types_lists_an_added_plugin_with_its_category(cli: Any, scripted: str) -> None:
    found = {t["name"]: t for t in cli.json("collections", "types")}
    assert (found[scripted]["collector_type"], found[scripted]["default"]) == ("custom", False)
    assert found["custom"]["default"] is True
    listed = cli.ok("collections", "types").stdout
    assert f"{scripted} (custom, --collector {scripted})" in listed
    assert "custom (custom, default)" in listed


def test_unknown_or_mismatched_collector_fails_naming_it(
    cli: Any, owner: uuid.UUID, scripted: str
) -> None:
    unknown = cli.failed("collections", "create", "x", "--collector", "acme_fed")
    assert "no collector named 'acme_fed'" in unknown.stderr and scripted in unknown.stderr
    other = cli.failed("collections", "create", "x", "--type", "news", "--collector", scripted)
    assert "custom collector, not news" in other.stderr
    assert "--type" in cli.failed("collections", "create", "x").stderr


def test_update_switches_to_the_plugin_and_back_to_the_built_in(
    cli: Any, owner: uuid.UUID, scripted: str
) -> None:
    built_in = '{"url": "https://api.example.org/items"}'
    cli.ok("collections", "create", "switch", "--type", "custom", "--config", built_in)
    assert "switch (custom)" in cli.ok("collections", "show", "switch").stdout
    moved = cli.json(
        "collections", "update", "switch", "--collector", scripted, "--config", '{"count": 1}'
    )
    assert moved["collector"] == scripted
    assert f"switch (custom: {scripted})" in cli.ok("collections", "show", "switch").stdout
    assert cli.json("collections", "run", "switch")["items_collected"] == 1
    back = cli.json("collections", "update", "switch", "--built-in", "--config", built_in)
    assert back["collector"] is None


def test_sources_commands_never_print_credentials(cli: Any) -> None:
    created = cli.json(
        "collections",
        "sources",
        "create",
        "reddit",
        "--type",
        "social_media",
        "--rate-limit",
        "20",
        "--credentials",
        '{"client_secret": "s3cr3t-value"}',
    )
    assert created["has_credentials"] is True
    for args in (
        ("collections", "sources", "list"),
        ("collections", "sources", "show", "reddit"),
        ("collections", "sources", "list", "--json"),
    ):
        assert "s3cr3t-value" not in cli.ok(*args).stdout
    updated = cli.json("collections", "sources", "update", "reddit", "--no-credentials")
    assert updated["has_credentials"] is False
    cli.ok("collections", "sources", "delete", "reddit")
    assert cli.json("collections", "sources", "list")["total"] == 0


def test_domain_intel_run_against_recordings_yields_entities(
    cli: Any, db: Database, owner: uuid.UUID
) -> None:
    cli.ok(
        "collections",
        "create",
        "example.com",
        "--type",
        "domain_intel",
        "--set",
        "domain=example.com",
    )
    outcome = cli.json("collections", "run", "example.com", "--replay", str(RECORDINGS))
    assert outcome["status"] == "completed", outcome
    assert outcome["items_collected"] > 0 and outcome["entities"] > 0
    with db.transaction(readonly=True) as session:
        found = {
            (row.entity_type, row.name)
            for row in session.execute(select(Entity.entity_type, Entity.name))
        }
        edges = session.scalar(select(EntityRelationship.id).limit(1))
    assert (EntityType.IP_ADDRESS, "198.51.100.10") in found
    assert (EntityType.DOMAIN, "portal.example.com") in found
    assert (EntityType.EMAIL, "security@example.com") in found
    assert edges is not None
    # Run again: everything is already stored.
    again = cli.json("collections", "run", "example.com", "--replay", str(RECORDINGS))
    assert again["items_collected"] == 0 and again["duplicates"] == outcome["records"]
