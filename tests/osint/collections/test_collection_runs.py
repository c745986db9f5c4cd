"""Running collections on both engines: the status machine, progress, cancelling (in this
process and from another transaction), failures, reruns and the schedule; a collection run
by a third-party collector added within its category."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from krsn.config import Settings
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.osint.collections import service
from krsn.osint.collections.runner import RunOptions, run_collection
from krsn.osint.collections.scheduler import CollectionScheduler
from krsn.osint.collections.schemas import RunOutcome
from krsn.osint.models import Collection, CollectionItem, CollectionStatus, CollectorType

ACTOR = Actor(user_id=None, via="test")
FAST = RunOptions(batch_items=5, flush_seconds=60.0, progress_seconds=0.0, poll_seconds=0.05)
# The built-in `custom` collector's smallest config (the plugin's is refused by it).
BUILT_IN_CONFIG = {"url": "https://api.example.org/items"}


def _create(db: Database, owner: uuid.UUID, **config: Any) -> uuid.UUID:
    schedule = config.pop("schedule", None)
    with db.transaction() as session:
        row = service.create_collection(
            session,
            actor=ACTOR,
            owner_id=owner,
            values={
                "name": "acme watch",
                "collector_type": "custom",
                "collector": "acme_feed",
                "config": config,
                "schedule": schedule,
            },
        )
        return row.id


def _create_with(db: Database, owner: uuid.UUID, **values: Any) -> Collection:
    with db.transaction() as session:
        return service.create_collection(
            session, actor=ACTOR, owner_id=owner, values={"name": "acme", **values}
        )


def _update(db: Database, collection_id: uuid.UUID, **changes: Any) -> Collection:
    with db.transaction() as session:
        return service.update_collection(
            session, actor=ACTOR, collection_id=collection_id, changes=changes
        )


def _row(db: Database, collection_id: uuid.UUID) -> Collection:
    with db.transaction(readonly=True) as session:
        return service.get_collection(session, collection_id)


def _items(db: Database, collection_id: uuid.UUID) -> int:
    with db.transaction(readonly=True) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(CollectionItem)
                .where(CollectionItem.collection_id == collection_id)
            )
            or 0
        )


def _run(db: Database, collection_id: uuid.UUID, **kwargs: Any) -> RunOutcome:
    return run_collection(db, collection_id, actor=ACTOR, options=FAST, **kwargs)


class Background:
    """A run in a thread, so the test can watch and cancel it."""

    def __init__(self, db: Database, collection_id: uuid.UUID, **kwargs: Any) -> None:
        self.outcome: RunOutcome | None = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.outcome = _run(db, collection_id, **kwargs)
            except BaseException as exc:  # surfaced by join()
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 20.0) -> RunOutcome:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not stop"
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


def _wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("the condition never held")


def test_new_collection_is_pending_with_its_checked_config(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, count=4)
    row = _row(db, collection_id)
    assert row.status == CollectionStatus.PENDING
    assert row.config == {"count": 4}
    assert row.items_collected == 0


def test_config_the_collector_refuses_is_invalid_naming_the_field(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    with pytest.raises(Invalid) as caught:
        _create(db, owner, count="many")
    assert caught.value.field == "config.count"
    with pytest.raises(Invalid):
        _create(db, owner, colour="blue")


def test_run_completes_with_its_items_and_full_progress(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, count=12)
    outcome = _run(db, collection_id)
    assert outcome.status == CollectionStatus.COMPLETED
    assert (outcome.records, outcome.items_collected) == (12, 12)
    row = _row(db, collection_id)
    assert row.status == CollectionStatus.COMPLETED
    assert float(row.progress or 0) == 100.0
    assert row.items_collected == 12
    assert row.started_at is not None and row.completed_at is not None
    assert row.completed_at >= row.started_at
    assert row.error_message is None
    assert _items(db, collection_id) == 12


def test_rerun_of_a_finished_collection_stores_no_duplicate_items(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, count=7)
    _run(db, collection_id)
    again = _run(db, collection_id)
    assert again.status == CollectionStatus.COMPLETED
    assert (again.items_collected, again.duplicates) == (0, 7)
    assert _row(db, collection_id).items_collected == 0
    assert _items(db, collection_id) == 7


def test_a_running_collection_cannot_start_again(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner)
    with db.transaction() as session:
        service.claim_run(session, actor=ACTOR, collection_id=collection_id)
    with pytest.raises(Conflict), db.transaction() as session:
        service.claim_run(session, actor=ACTOR, collection_id=collection_id)
    with pytest.raises(Conflict):
        _run(db, collection_id)


def test_progress_moves_while_the_run_goes(db: Database, owner: uuid.UUID, scripted: str) -> None:
    collection_id = _create(db, owner, count=30, delay=0.03)
    run = Background(db, collection_id)
    seen: set[float] = set()
    while run.thread.is_alive():
        row = _row(db, collection_id)
        if row.status == CollectionStatus.RUNNING:
            seen.add(float(row.progress or 0))
        time.sleep(0.02)
    assert run.join().status == CollectionStatus.COMPLETED
    moving = {p for p in seen if 0 < p < 100}
    assert len(moving) >= 3, seen


def test_items_collected_grows_during_the_run(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, count=25, delay=0.02)
    run = Background(db, collection_id)
    partial = _wait_for(lambda: 0 < (_row(db, collection_id).items_collected or 0) < 25)
    assert partial
    assert run.join().items_collected == 25


def test_cancel_event_stops_a_running_collection(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, forever=True, delay=0.01)
    cancel = threading.Event()
    run = Background(db, collection_id, cancel=cancel)
    _wait_for(lambda: (_row(db, collection_id).items_collected or 0) >= 5)
    cancel.set()
    outcome = run.join()
    assert outcome.status == CollectionStatus.CANCELLED
    row = _row(db, collection_id)
    assert row.status == CollectionStatus.CANCELLED
    assert row.completed_at is not None
    # What was stored before the cancel stays.
    assert _items(db, collection_id) >= 5


def test_cancel_from_another_transaction_stops_the_run(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, forever=True, delay=0.01)
    run = Background(db, collection_id)
    _wait_for(lambda: (_row(db, collection_id).items_collected or 0) >= 5)
    with db.transaction() as session:
        service.request_cancel(session, actor=ACTOR, collection_id=collection_id)
    outcome = run.join(timeout=10)
    assert outcome.status == CollectionStatus.CANCELLED
    assert _row(db, collection_id).status == CollectionStatus.CANCELLED
    with db.transaction(readonly=True) as session:
        actions = list(
            session.scalars(
                select(AuditLog.action).where(AuditLog.resource_id == str(collection_id))
            )
        )
    # The cancel is audited; the runner did not overwrite it with an end of its own.
    assert "collection.cancel" in actions
    assert "collection.completed" not in actions and "collection.cancelled" not in actions


def test_cancelling_a_collection_that_is_not_running_is_a_conflict(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner)
    with pytest.raises(Conflict), db.transaction() as session:
        service.request_cancel(session, actor=ACTOR, collection_id=collection_id)


def test_failing_collector_ends_failed_with_its_message(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, count=5, fail_at=2, prefix="acme")
    outcome = _run(db, collection_id)
    assert outcome.status == CollectionStatus.FAILED
    row = _row(db, collection_id)
    assert row.status == CollectionStatus.FAILED
    assert row.error_message == "acme.example answered HTTP 503: try later"
    assert row.completed_at is not None


def test_unexpected_error_fails_the_run_pointing_at_the_log(
    db: Database, owner: uuid.UUID, scripted: str, caplog: pytest.LogCaptureFixture
) -> None:
    collection_id = _create(db, owner, count=5, crash_at=1)
    outcome = _run(db, collection_id)
    assert outcome.status == CollectionStatus.FAILED
    message = _row(db, collection_id).error_message or ""
    assert "RuntimeError: scripted crash" in message
    assert str(collection_id) in message
    logged = [r for r in caplog.records if getattr(r, "collection_id", None) == str(collection_id)]
    assert any(r.exc_info for r in logged)


def test_failed_collection_may_run_again(db: Database, owner: uuid.UUID, scripted: str) -> None:
    collection_id = _create(db, owner, count=3, fail_at=0)
    assert _run(db, collection_id).status == CollectionStatus.FAILED
    with db.transaction() as session:
        service.update_collection(
            session, actor=ACTOR, collection_id=collection_id, changes={"config": {"count": 3}}
        )
    assert _run(db, collection_id).status == CollectionStatus.COMPLETED
    row = _row(db, collection_id)
    assert row.error_message is None
    assert row.items_collected == 3


def _scheduler(db: Database, **kwargs: Any) -> CollectionScheduler:
    settings = Settings(database_url=db.url)
    return CollectionScheduler(db, settings, workers=1, options=FAST, **kwargs)


def test_schedule_runs_a_due_collection_and_waits_out_its_period(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    due = _create(db, owner, count=2, schedule={"every_minutes": 60})
    _create(db, owner, count=2)  # no schedule: never run by it
    scheduler = _scheduler(db)
    try:
        assert scheduler.run_due() == [due]
        _wait_for(lambda: _row(db, due).status == CollectionStatus.COMPLETED)
        assert scheduler.run_due() == []
        with db.transaction() as session:
            session.execute(
                update(Collection)
                .where(Collection.id == due)
                .values(started_at=utcnow() - timedelta(minutes=61))
            )
        assert scheduler.run_due() == [due]
        _wait_for(lambda: _row(db, due).status == CollectionStatus.COMPLETED)
    finally:
        scheduler.stop()
    assert _items(db, due) == 2


def test_run_left_by_a_dead_process_is_marked_failed_at_start_up(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    abandoned = _create(db, owner)
    alive = _create(db, owner)
    with db.transaction() as session:
        for collection_id in (abandoned, alive):
            service.claim_run(session, actor=ACTOR, collection_id=collection_id)
        session.execute(
            update(Collection)
            .where(Collection.id == abandoned)
            .values(updated_at=utcnow() - timedelta(minutes=10))
        )
    scheduler = _scheduler(db, interval=3600)
    scheduler.start()
    try:
        row = _row(db, abandoned)
        assert row.status == CollectionStatus.FAILED
        assert "stopped before it ended" in (row.error_message or "")
        # A run whose heartbeat is fresh belongs to a live process: left alone.
        assert _row(db, alive).status == CollectionStatus.RUNNING
    finally:
        scheduler.stop()


def test_stopping_the_scheduler_fails_its_runs_saying_so(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, forever=True, delay=0.01)
    scheduler = _scheduler(db)
    with db.transaction() as session:
        service.claim_run(session, actor=ACTOR, collection_id=collection_id)
    scheduler.submit(collection_id, actor=ACTOR)
    _wait_for(lambda: (_row(db, collection_id).items_collected or 0) >= 3)
    scheduler.stop()
    row = _row(db, collection_id)
    assert row.status == CollectionStatus.FAILED
    assert "shut down" in (row.error_message or "")


def test_run_through_an_inactive_source_fails_saying_so(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    from krsn.osint.sources import service as sources

    with db.transaction() as session:
        source = sources.create_source(
            session,
            actor=ACTOR,
            values={"name": "paused", "source_type": "custom", "is_active": False},
        )
        source_id = source.id
    collection_id = _create(db, owner)
    with db.transaction() as session:
        service.update_collection(
            session, actor=ACTOR, collection_id=collection_id, changes={"source_id": source_id}
        )
    outcome = _run(db, collection_id)
    assert outcome.status == CollectionStatus.FAILED
    assert "inactive" in (outcome.error_message or "")


def test_a_source_cannot_open_the_way_to_private_addresses(db: Database, owner: uuid.UUID) -> None:
    from krsn.osint.sources import service as sources

    with db.transaction() as session:
        source = sources.create_source(
            session,
            actor=ACTOR,
            values={
                "name": "inside",
                "source_type": "custom",
                "config": {"allow_private": True, "allowed_hosts": ["127.0.0.1"]},
            },
        )
        source_id = source.id
    row = _create_with(
        db,
        owner,
        collector_type="custom",
        config={"url": "http://127.0.0.1:9/items"},
        source_id=source_id,
    )

    outcome = _run(db, row.id)

    assert outcome.status == CollectionStatus.FAILED
    assert "127.0.0.1" in (outcome.error_message or "")
    assert "private" in (outcome.error_message or "").lower()


# --- collectors added by third parties ------------------------------------------------------


def test_collection_runs_the_plugin_it_names_beside_the_built_in(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, count=3, prefix="plug")
    row = _row(db, collection_id)
    assert (row.collector_type, row.collector) == (CollectorType.CUSTOM, scripted)
    outcome = _run(db, collection_id)
    assert outcome.status == CollectionStatus.COMPLETED
    assert outcome.items_collected == 3
    with db.transaction(readonly=True) as session:
        raws = list(
            session.scalars(
                select(CollectionItem.raw_data).where(CollectionItem.collection_id == collection_id)
            )
        )
        started = session.scalars(
            select(AuditLog.details).where(
                AuditLog.resource_id == str(collection_id), AuditLog.action == "collection.run"
            )
        ).one()
    assert sorted(r["index"] for r in raws) == [0, 1, 2]
    assert {r["prefix"] for r in raws} == {"plug"}
    assert started["collector"] == scripted


def test_collector_type_is_taken_from_the_named_collector(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    row = _create_with(db, owner, collector=scripted, config={"count": 1})
    assert (row.collector_type, row.collector) == (CollectorType.CUSTOM, scripted)


def test_without_a_collector_the_categorys_built_in_checks_and_runs(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    # The plugin's config is not the built-in's: with the plugin installed, a collection
    # that names no collector is still the built-in's.
    with pytest.raises(Invalid) as refused:
        _create_with(db, owner, collector_type="custom", config={"count": 3})
    assert refused.value.field == "config.count"
    row = _create_with(db, owner, collector_type="custom", config=BUILT_IN_CONFIG)
    assert row.collector is None
    # Naming the category's built-in is the same as naming none.
    named = _create_with(
        db, owner, collector_type="custom", collector="custom", config=BUILT_IN_CONFIG
    )
    assert named.collector is None


def test_a_collector_of_another_category_is_invalid(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    with pytest.raises(Invalid) as refused:
        _create_with(db, owner, collector_type="news", collector=scripted, config={})
    assert refused.value.field == "collector"
    assert "custom collector, not news" in refused.value.reason


def test_an_unknown_collector_name_is_invalid_naming_the_installed_ones(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    with pytest.raises(Invalid) as refused:
        _create_with(db, owner, collector_type="custom", collector="acme_feeed")
    assert refused.value.field == "collector"
    assert scripted in refused.value.reason and "domain_intel" in refused.value.reason
    with pytest.raises(Invalid) as neither:
        _create_with(db, owner, config={})
    assert neither.value.field == "collector_type"


def test_update_moves_a_collection_to_another_collector_of_its_category(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create_with(db, owner, collector_type="custom", config=BUILT_IN_CONFIG).id
    # The kept config is checked by the new collector, which refuses it.
    with pytest.raises(Invalid) as refused:
        _update(db, collection_id, collector=scripted)
    assert refused.value.field.startswith("config.")
    assert _row(db, collection_id).collector is None
    moved = _update(db, collection_id, collector=scripted, config={"count": 2})
    assert (moved.collector, moved.config) == (scripted, {"count": 2})
    assert _run(db, collection_id).items_collected == 2
    with pytest.raises(Invalid) as other:
        _update(db, collection_id, collector="news")
    assert other.value.field == "collector"
    back = _update(db, collection_id, collector=None, config=BUILT_IN_CONFIG)
    assert back.collector is None


def test_run_whose_collector_is_no_longer_installed_fails_naming_it(
    db: Database, owner: uuid.UUID, scripted: str
) -> None:
    collection_id = _create(db, owner, count=2)
    with db.transaction() as session:
        session.execute(
            update(Collection).where(Collection.id == collection_id).values(collector="uninstalled")
        )
    outcome = _run(db, collection_id)
    assert outcome.status == CollectionStatus.FAILED
    assert "no collector named 'uninstalled'" in (outcome.error_message or "")
