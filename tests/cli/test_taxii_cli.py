"""``krsn taxii pull`` against our own TAXII server over real HTTP (a separate SQLite database
serves; the command writes into the test's database on each engine), and ``krsn taxii
collections``."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from krsn.config import get_settings
from krsn.db import Database
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.api_keys import create_api_key
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.identity.users import create_user
from krsn.indicators.models import ThreatIndicator
from krsn.sharing.models import CollectionIndicator, IocCollection
from krsn.sharing.selection import select
from krsn.sharing.stix.export import export_bundle
from krsn.sharing.stix.models import StixObject
from krsn.sharing.taxii.service import ALL_INDICATORS_ID, FIXED

VALUES = [f"pull-{n}.evil-example.com" for n in range(25)]


@pytest.fixture
def remote(live_server: Any, sqlite_template: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Our server on its own database: 25 indicators, a public collection of 12, a key."""
    path = tmp_path / "remote.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    live_server.use(database)
    with database.transaction() as session:
        user, *_ = create_user(
            session,
            actor=Actor.system(),
            username="puller",
            email="puller@example.org",
            role=Role.ANALYST,
            password="Correct-Horse-Battery-42",
        )
        session.flush()
        _, key = create_api_key(
            session, actor=Actor.system(), user_id=user.id, name="pull", rate_limit=10_000
        )
        source = ensure_source(session, actor=Actor.system(), name="remote-feed", reliability=70)
        collection = IocCollection(name="Shared", is_public=True, created_by=user.id)
        session.add(collection)
        session.flush()
        collection_id = str(collection.id)
    ingest(
        database, rows=[ParsedRow(line=n, value=v) for n, v in enumerate(VALUES, 1)], source=source
    )
    with database.transaction() as session:
        for row_id in session.scalars(
            sa.select(ThreatIndicator.id).where(ThreatIndicator.indicator_value.in_(VALUES[:12]))
        ):
            session.add(
                CollectionIndicator(collection_id=uuid.UUID(collection_id), indicator_id=row_id)
            )
    try:
        yield {
            "root": f"{live_server.base_url}/taxii2/krsn/",
            "key": key,
            "collection": collection_id,
            "database": database,
        }
    finally:
        database.dispose()


@pytest.fixture
def egress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the command reach the loopback server (outbound fetches refuse it by default)."""
    monkeypatch.setenv("KRSN_EGRESS_ALLOWED_HOSTS", "127.0.0.0/8")
    get_settings.cache_clear()


def remote_ids(database: Database, **selector: Any) -> dict[str, str]:
    with database.transaction(readonly=True) as session:
        bundle = export_bundle(session, selection=select(session, **selector))
    return {o["name"]: o["id"] for o in bundle["objects"] if o["type"] == "indicator"}


def test_pull_pages_a_remote_collection_into_the_store_keeping_ids(
    cli: Any, remote: Any, egress: None
):
    summary = cli.json(
        "taxii",
        "pull",
        remote["root"],
        "--collection",
        ALL_INDICATORS_ID,
        "--api-key",
        remote["key"],
        "--page-size",
        "10",
    )
    # Our identity and the TLP marking definitions come with every collection.
    assert (summary["objects"], summary["pages"]) == (25 + len(FIXED), 3)
    assert summary["indicators"]["new"] == 25
    assert summary["types"]["indicator"]["created"] == 25
    assert summary["date_added_last"]
    with cli.database.transaction(readonly=True) as session:
        stored = set(session.scalars(sa.select(ThreatIndicator.indicator_value)))
        objects = set(session.scalars(sa.select(StixObject.stix_id)))
    assert stored == set(VALUES)
    # The store keeps the remote ids, and our own export gives them back.
    theirs = remote_ids(remote["database"], query={"type": "domain"})
    assert set(theirs.values()) | {obj["id"] for obj in FIXED} == objects
    assert remote_ids(cli.database, query={"type": "domain"}) == theirs

    again = cli.json(
        "taxii",
        "pull",
        remote["root"],
        "--collection",
        ALL_INDICATORS_ID,
        "--api-key",
        remote["key"],
        "--added-after",
        summary["date_added_last"],
    )
    assert again["objects"] == 0


def test_pull_reads_one_collection_with_a_progress_summary(cli: Any, remote: Any, egress: None):
    result = cli.ok(
        "taxii",
        "pull",
        remote["root"],
        "--collection",
        remote["collection"],
        "--api-key",
        remote["key"],
    )
    assert f"{12 + len(FIXED)} objects in 1 pages" in result.stdout
    with cli.database.transaction(readonly=True) as session:
        stored = set(session.scalars(sa.select(ThreatIndicator.indicator_value)))
    assert stored == set(VALUES[:12])


def test_pull_with_a_wrong_key_or_unreachable_host_fails_cleanly(
    cli: Any, remote: Any, egress: None
):
    refused = cli.failed(
        "taxii", "pull", remote["root"], "--collection", ALL_INDICATORS_ID, "--api-key", "krsn_nope"
    )
    assert "401" in refused.stderr
    assert cli.failed(
        "taxii",
        "pull",
        remote["root"],
        "--collection",
        ALL_INDICATORS_ID,
        "--api-key",
        "k",
        "--user",
        "u",
        "--password",
        "p",
    ).stderr


def test_pull_obeys_the_egress_rules(cli: Any, remote: Any):
    refused = cli.failed(
        "taxii",
        "pull",
        remote["root"],
        "--collection",
        ALL_INDICATORS_ID,
        "--api-key",
        remote["key"],
    )
    assert "private" in refused.stderr.lower() or "not allowed" in refused.stderr.lower()
    with cli.database.transaction(readonly=True) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ThreatIndicator)) == 0


def test_collections_lists_ours_with_their_urls(cli: Any):
    with cli.database.transaction() as session:
        session.add_all(
            [
                IocCollection(name="Open", is_public=True),
                IocCollection(name="Hush", is_public=False, metadata_={"tlp": "red"}),
            ]
        )
    listed = cli.json("taxii", "collections", "--base-url", "https://intel.example.org")
    titles = [c["title"] for c in listed]
    assert titles == ["All indicators", "Open"]
    assert listed[0]["url"] == (
        f"https://intel.example.org/taxii2/krsn/collections/{ALL_INDICATORS_ID}/"
    )
    table = cli.ok("taxii", "collections").stdout
    assert "Open" in table and "Hush" not in table
