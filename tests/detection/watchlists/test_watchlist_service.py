"""Watchlists through their service: audited changes, values read and typed as the list's
type allows, re-adds that update, expiry and purge, an item count that stays right (also
under concurrent writers), and imports from files and IOC collections."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.models import Watchlist, WatchlistItem, WatchlistItemType
from krsn.detection.watchlists import service
from krsn.detection.watchlists.schemas import ItemIn
from krsn.errors import Conflict, Invalid, NotFound
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog, Role
from krsn.identity.users import create_user
from krsn.sharing import collections

ACTOR = Actor(user_id=None, via="cli")


def new_list(db: Database, name: str, list_type: str = "custom", **values: Any) -> uuid.UUID:
    with db.transaction() as session:
        row = service.create_watchlist(
            session, actor=ACTOR, values={"name": name, "list_type": list_type, **values}
        )
        return row.id


def add(db: Database, list_id: uuid.UUID, *values: Any, **options: Any) -> Any:
    with db.transaction() as session:
        return service.add_items(
            session, actor=ACTOR, watchlist_id=list_id, items=list(values), **options
        )


def stored(db: Database, list_id: uuid.UUID) -> dict[str, WatchlistItem]:
    with db.transaction(readonly=True) as session:
        rows = session.scalars(select(WatchlistItem).where(WatchlistItem.watchlist_id == list_id))
        return {row.item_value: row for row in rows}


def counts(db: Database, list_id: uuid.UUID) -> tuple[int, int]:
    """The list's item_count and the number of its item rows."""
    with db.transaction(readonly=True) as session:
        row = session.get(Watchlist, list_id)
        assert row is not None
        rows = session.scalar(
            select(func.count())
            .select_from(WatchlistItem)
            .where(WatchlistItem.watchlist_id == list_id)
        )
        return row.item_count, int(rows or 0)


def audit_rows(db: Database, action: str) -> list[AuditLog]:
    with db.transaction(readonly=True) as session:
        return list(
            session.scalars(
                select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)
            )
        )


# --- lists ----------------------------------------------------------------------------------


def test_a_watchlist_is_created_changed_and_deleted_with_audit_rows(db):
    list_id = new_list(db, "C2 servers", "ip_blacklist", description="from reports")
    with db.transaction() as session:
        service.update_watchlist(
            session,
            actor=ACTOR,
            watchlist_id=list_id,
            changes={"name": "C2", "is_active": False},
        )
    with db.transaction(readonly=True) as session:
        row = service.find_watchlist(session, "c2")
        assert (row.id, row.name, row.is_active) == (list_id, "C2", False)
    add(db, list_id, "192.0.2.1")
    with db.transaction() as session:
        service.delete_watchlist(session, actor=ACTOR, watchlist_id=list_id)
    with db.transaction(readonly=True) as session:
        with pytest.raises(NotFound):
            service.get_watchlist(session, list_id)
        assert session.scalar(select(func.count()).select_from(WatchlistItem)) == 0

    created = audit_rows(db, "watchlist.create")
    assert created[0].resource_id == str(list_id)
    assert created[0].new_values["list_type"] == "ip_blacklist"
    updated = audit_rows(db, "watchlist.update")
    assert updated[0].old_values == {"name": "C2 servers", "is_active": True}
    assert updated[0].new_values == {"name": "C2", "is_active": False}
    deleted = audit_rows(db, "watchlist.delete")
    assert deleted[0].old_values["name"] == "C2"
    assert deleted[0].old_values["item_count"] == 1


def test_names_are_unique_in_any_case(db):
    new_list(db, "Phishing")
    with pytest.raises(Conflict), db.transaction() as session:
        service.create_watchlist(
            session, actor=ACTOR, values={"name": "PHISHING", "list_type": "custom"}
        )


def test_a_list_needs_a_known_type(db):
    with pytest.raises(Invalid) as missing, db.transaction() as session:
        service.create_watchlist(session, actor=ACTOR, values={"name": "x"})
    assert missing.value.field == "list_type"
    with pytest.raises(Invalid) as unknown, db.transaction() as session:
        service.create_watchlist(session, actor=ACTOR, values={"name": "x", "list_type": "nope"})
    assert "ip_blacklist" in unknown.value.reason


def test_a_new_type_must_fit_every_item(db):
    list_id = new_list(db, "mixed")
    add(db, list_id, "192.0.2.1", "evil.com")
    with pytest.raises(Invalid) as refused, db.transaction() as session:
        service.update_watchlist(
            session, actor=ACTOR, watchlist_id=list_id, changes={"list_type": "ip_blacklist"}
        )
    assert "1 item(s)" in refused.value.reason
    with db.transaction() as session:
        service.remove_values(session, actor=ACTOR, watchlist_id=list_id, values=["evil.com"])
        row = service.update_watchlist(
            session, actor=ACTOR, watchlist_id=list_id, changes={"list_type": "ip_blacklist"}
        )
        assert row.list_type.value == "ip_blacklist"


# --- adding items ---------------------------------------------------------------------------


def test_values_are_stored_canonical_and_typed(db):
    list_id = new_list(db, "everything")
    change = add(
        db,
        list_id,
        "hxxp://Evil[.]COM/Gate.php",
        "10.0.0.5/8",
        "203.0.113.7",
        "2001:DB8::1",
        "D41D8CD98F00B204E9800998ECF8427E",
        "Bob@Example[.]org",
        "bücher.de",
    )
    assert (change.added, change.rejected, change.item_count) == (7, 0, 7)
    items = stored(db, list_id)
    assert {value: item.item_type for value, item in items.items()} == {
        "http://evil.com/Gate.php": WatchlistItemType.URL,
        "10.0.0.0/8": WatchlistItemType.IP,
        "203.0.113.7": WatchlistItemType.IP,
        "2001:db8::1": WatchlistItemType.IP,
        "d41d8cd98f00b204e9800998ecf8427e": WatchlistItemType.HASH,
        "bob@example.org": WatchlistItemType.EMAIL,
        "xn--bcher-kva.de": WatchlistItemType.DOMAIN,
    }


@pytest.mark.parametrize(
    ("list_type", "taken", "refused"),
    [
        ("ip_blacklist", {"192.0.2.1", "198.51.100.0/24", "2001:db8::1"}, {"evil.com"}),
        (
            "domain_blacklist",
            {"evil.com", "http://evil.com/", "bob@evil.com"},
            {"192.0.2.1", "d41d8cd98f00b204e9800998ecf8427e"},
        ),
        ("hash_whitelist", {"d41d8cd98f00b204e9800998ecf8427e"}, {"evil.com", "192.0.2.1"}),
    ],
)
def test_each_list_type_takes_only_its_values(db, list_type, taken, refused):
    list_id = new_list(db, list_type, list_type)
    change = add(db, list_id, *sorted(taken | refused))
    assert change.added == len(taken)
    assert set(stored(db, list_id)) == taken
    assert {r.value for r in change.rejections} == refused
    assert all(list_type in r.reason for r in change.rejections)


def test_a_batch_keeps_its_good_values_and_reports_the_bad_ones(db):
    list_id = new_list(db, "c2", "ip_blacklist")
    change = add(db, list_id, "192.0.2.1", "not a value", "010.1.1.1", "192.0.2.2", "evil.com")
    assert (change.added, change.rejected) == (2, 3)
    reasons = {r.value: r.reason for r in change.rejections}
    assert "leading zero" in reasons["010.1.1.1"]
    assert "takes IP addresses" in reasons["evil.com"]
    assert set(stored(db, list_id)) == {"192.0.2.1", "192.0.2.2"}
    batch = audit_rows(db, "watchlist.add_items")
    assert len(batch) == 1
    assert batch[0].details["added"] == 2 and batch[0].details["rejected"] == 3


def test_re_adding_updates_expiry_and_notes_and_counts_what_changed(db):
    list_id = new_list(db, "domains", "domain_blacklist")
    later = utcnow() + timedelta(days=7)
    first = add(db, list_id, "a.example.com", "b.example.com", "c.example.com", notes="first")
    assert (first.added, first.updated, first.unchanged) == (3, 0, 0)

    second = add(
        db,
        list_id,
        ItemIn(value="a.example.com", expires_at=later),  # new expiry
        ItemIn(value="b.example.com", notes="second"),  # new notes
        "c.example.com",  # same expiry, no notes: unchanged
        "d.example.com",
        "d.example.com",  # a repeat in the batch
    )
    assert (second.added, second.updated, second.unchanged) == (1, 2, 2)
    items = stored(db, list_id)
    assert items["a.example.com"].expires_at == later
    assert items["a.example.com"].notes == "first"  # none given: kept
    assert items["b.example.com"].notes == "second"
    assert items["c.example.com"].notes == "first"

    # Re-added without an expiry, an item no longer expires.
    third = add(db, list_id, "a.example.com")
    assert third.updated == 1
    assert stored(db, list_id)["a.example.com"].expires_at is None
    assert counts(db, list_id) == (4, 4)


def test_a_value_already_expired_is_refused(db):
    list_id = new_list(db, "ips", "ip_blacklist")
    change = add(db, list_id, "192.0.2.1", expires_at=utcnow() - timedelta(minutes=1))
    assert (change.added, change.rejected) == (0, 1)
    assert "already expired" in change.rejections[0].reason


# --- removing, expiry, counting -------------------------------------------------------------


def test_removing_values_names_those_not_on_the_list(db):
    list_id = new_list(db, "ips", "ip_blacklist")
    add(db, list_id, "192.0.2.1", "192.0.2.2")
    with db.transaction() as session:
        removed = service.remove_values(
            session,
            actor=ACTOR,
            watchlist_id=list_id,
            values=["192[.]0[.]2[.]1", "192.0.2.9", "junk value"],
        )
    assert removed.removed == 1
    assert removed.not_found == ["192.0.2.9"]
    assert [r.value for r in removed.rejections] == ["junk value"]
    assert removed.item_count == 1
    assert counts(db, list_id) == (1, 1)
    item = stored(db, list_id)["192.0.2.2"]
    with db.transaction() as session:
        service.remove_item(session, actor=ACTOR, watchlist_id=list_id, item_id=item.id)
        with pytest.raises(NotFound):
            service.remove_item(session, actor=ACTOR, watchlist_id=list_id, item_id=item.id)
    assert counts(db, list_id) == (0, 0)
    assert [row.details["removed"] for row in audit_rows(db, "watchlist.remove_items")] == [1, 1]


def test_purge_deletes_expired_items_and_recounts_each_list(db):
    first = new_list(db, "one", "ip_blacklist")
    second = new_list(db, "two", "domain_blacklist")
    soon = utcnow() + timedelta(minutes=5)
    add(db, first, "192.0.2.1", "192.0.2.2", expires_at=soon)
    add(db, first, "192.0.2.3")
    add(db, second, "evil.com", expires_at=soon)
    add(db, second, "other.com", expires_at=soon + timedelta(days=1))

    with db.transaction() as session:
        assert service.purge_expired(session, now=soon - timedelta(seconds=1)) == 0
    with db.transaction() as session:
        assert service.purge_expired(session, now=soon) == 3

    assert set(stored(db, first)) == {"192.0.2.3"}
    assert set(stored(db, second)) == {"other.com"}
    assert counts(db, first) == (1, 1)
    assert counts(db, second) == (1, 1)
    purges = audit_rows(db, "watchlist.purge_expired")
    assert sorted((row.resource_id, row.details["purged"]) for row in purges) == sorted(
        [(str(first), 2), (str(second), 1)]
    )
    assert all((row.metadata_ or {}).get("via") == "system" for row in purges)


def test_item_count_stays_right_under_concurrent_writers(db):
    list_id = new_list(db, "raced", "ip_blacklist")
    first_holds = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with db.transaction() as session:
                service.add_items(
                    session,
                    actor=ACTOR,
                    watchlist_id=list_id,
                    items=[f"198.51.100.{i}" for i in range(1, 51)],
                )
                first_holds.set()
                release.wait(10)  # commit only once the second writer is under way
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
            first_holds.set()

    def second() -> None:
        try:
            first_holds.wait(10)
            with db.transaction() as session:
                service.add_items(
                    session,
                    actor=ACTOR,
                    watchlist_id=list_id,
                    items=[f"203.0.113.{i}" for i in range(1, 41)],
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_holds.wait(10)
    time.sleep(0.5)  # the second transaction is now waiting for the first
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert counts(db, list_id) == (90, 90)


# --- listing --------------------------------------------------------------------------------


def test_items_page_by_prefix_and_leave_out_expired_ones_on_request(db):
    list_id = new_list(db, "ips", "ip_blacklist")
    soon = utcnow() + timedelta(minutes=5)
    add(db, list_id, *[f"10.0.0.{i}" for i in range(1, 8)], "192.0.2.1")
    add(db, list_id, "10.0.1.1", expires_at=soon)
    seen: list[str] = []
    cursor = None
    with db.transaction(readonly=True) as session:
        while True:
            page = service.page_items(
                session, watchlist_id=list_id, limit=3, cursor=cursor, q="10[.]0[.]"
            )
            assert page.total == 8
            seen += [item.item_value for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(seen) and len(seen) == 8 and "192.0.2.1" not in seen
        live = service.page_items(
            session,
            watchlist_id=list_id,
            limit=50,
            q="10.0.",
            include_expired=False,
            now=soon,
        )
        assert live.total == 7
        expired = service.page_items(session, watchlist_id=list_id, limit=50, q="10.0.1.")
        shown = service.item_read(expired.items[0], now=soon)
        assert shown.expired is True


# --- imports --------------------------------------------------------------------------------


def test_a_text_import_skips_comments_and_reports_bad_lines_by_number(db):
    list_id = new_list(db, "ips", "ip_blacklist")
    lines = [
        "# exported 2024-05-01",
        "192.0.2.1",
        "",
        "198.51.100.0/24   # a whole range",
        "not-an-ip!",
        "203.0.113[.]9",
        "evil.com",
    ]
    with db.transaction() as session:
        change = service.import_lines(
            session, actor=ACTOR, watchlist_id=list_id, lines=lines, source="c2.txt"
        )
    assert (change.added, change.rejected) == (3, 2)
    assert [(r.line, r.value) for r in change.rejections] == [(5, "not-an-ip!"), (7, "evil.com")]
    assert set(stored(db, list_id)) == {"192.0.2.1", "198.51.100.0/24", "203.0.113.9"}
    imported = audit_rows(db, "watchlist.import_items")
    assert len(imported) == 1
    assert imported[0].details["source"] == "c2.txt"
    assert imported[0].details["added"] == 3 and imported[0].details["item_count"] == 3


def test_a_csv_import_reads_the_named_column_and_reports_a_bad_row(db):
    list_id = new_list(db, "domains", "domain_blacklist")
    lines = [
        "\ufefffirst_seen,Domain,score",
        "2024-05-01,evil.com,90",
        "2024-05-02",  # too short
        '2024-05-03,"bad[.]example.org",80',
        "2024-05-04,,10",  # empty cell
        "2024-05-05,192.0.2.1,10",  # not a domain
    ]
    with db.transaction() as session:
        change = service.import_lines(
            session, actor=ACTOR, watchlist_id=list_id, lines=lines, as_csv=True, column="domain"
        )
    assert (change.added, change.rejected) == (2, 3)
    assert [r.line for r in change.rejections] == [3, 5, 6]
    assert "no 'Domain' column" in change.rejections[0].reason
    assert set(stored(db, list_id)) == {"evil.com", "bad.example.org"}
    with pytest.raises(Invalid) as unknown, db.transaction() as session:
        service.import_lines(
            session, actor=ACTOR, watchlist_id=list_id, lines=lines, as_csv=True, column="host"
        )
    assert "'first_seen', 'Domain', 'score'" in unknown.value.reason


def test_a_large_import_is_written_in_batches_and_audited_once(db):
    list_id = new_list(db, "many", "ip_blacklist")
    total = service.BATCH * 2 + 10
    lines = (f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(total))
    progress: list[int] = []
    with db.transaction() as session:
        change = service.import_lines(
            session,
            actor=ACTOR,
            watchlist_id=list_id,
            lines=lines,
            on_progress=lambda done, _total: progress.append(done),
        )
    assert progress == [service.BATCH, service.BATCH * 2, total]
    assert change.added == total
    assert counts(db, list_id) == (total, total)
    assert len(audit_rows(db, "watchlist.import_items")) == 1


def _collection_of(db: Database, values: list[str], *, public: bool) -> tuple[uuid.UUID, Actor]:
    with db.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="seed", reliability=90)
    ingest(
        db,
        source=source,
        default_confidence=80,
        rows=[ParsedRow(line=i + 1, value=v) for i, v in enumerate(values)],
    )
    with db.transaction() as session:
        owner, _ = create_user(
            session,
            actor=Actor.system(),
            username="olga",
            email="olga@example.org",
            role=Role.ANALYST,
            password="Correct-Horse-Battery-42",
        )
        actor = Actor(user_id=owner.id, via="session")
        row = collections.create_collection(
            session, actor=actor, values={"name": "Loader wave", "is_public": public}
        )
        collections.add_indicators(
            session, actor=actor, collection_id=row.id, indicators=values, see_all=False
        )
        return row.id, actor


def test_a_collection_import_adds_its_indicators_of_the_lists_type(db):
    values = ["192.0.2.10", "198.51.100.0/24", "loader.example.net"]
    collection_id, owner = _collection_of(db, values, public=False)
    list_id = new_list(db, "from collection", "ip_blacklist")
    with db.transaction() as session:
        change = service.import_collection(
            session,
            actor=owner,
            watchlist_id=list_id,
            collection="loader WAVE",
            see_all=False,
        )
    assert (change.added, change.rejected) == (2, 1)
    assert change.rejections[0].value == "loader.example.net"
    assert set(stored(db, list_id)) == {"192.0.2.10", "198.51.100.0/24"}
    imported = audit_rows(db, "watchlist.import_items")
    assert imported[0].details["source"] == f"ioc_collection:{collection_id}"

    # Another analyst cannot import a private collection: to them it does not exist.
    stranger = Actor(user_id=uuid.uuid4(), via="session")
    with pytest.raises(NotFound), db.transaction() as session:
        service.import_collection(
            session,
            actor=stranger,
            watchlist_id=list_id,
            collection=collection_id,
            see_all=False,
        )
