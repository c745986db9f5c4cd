"""The background runner of collections: runs asked for through the API, and scheduled ones.

A :class:`CollectionScheduler` owns a bounded thread pool (``KRSN_COLLECTION_WORKERS``
runs at once) and, once started, one thread that every :data:`TICK_SECONDS`:

- marks failed the runs whose heartbeat stopped (:func:`service.fail_abandoned`: their
  process died), which it also does once at start-up;
- stamps the heartbeat of runs waiting for a free worker, so they are not taken for dead;
- every ``KRSN_SCHEDULER_INTERVAL_SECONDS``, claims the scheduled collections that are due
  (as many as there are free workers; a claim is a conditional UPDATE, so two servers on one
  database never start one run twice) and runs them as the system actor.

:meth:`CollectionScheduler.stop` ends the runs in progress at their next check: they are
recorded as failed, saying the server shut down.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

from krsn.config import Settings
from krsn.db import Database
from krsn.errors import Conflict, NotFound
from krsn.identity.audit import Actor
from krsn.osint.collections import service
from krsn.osint.collections.runner import RunOptions, run_collection
from krsn.osint.collections.schemas import RunOutcome

__all__ = ["THREAD_NAME", "TICK_SECONDS", "CollectionScheduler"]

log = logging.getLogger(__name__)

THREAD_NAME: Final = "krsn-collection-scheduler"
TICK_SECONDS: Final = 5.0
"""How often the scheduler's thread sweeps stale runs and stamps queued ones."""


class CollectionScheduler:
    """Runs collections in a bounded pool; with :meth:`start`, also the scheduled ones."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        workers: int | None = None,
        interval: float | None = None,
        stale_after: float | None = None,
        options: RunOptions | None = None,
        actor: Actor | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.workers = workers or settings.collection_workers
        self.interval = interval if interval is not None else settings.scheduler_interval_seconds
        self.stale_after = (
            stale_after if stale_after is not None else settings.collection_stale_seconds
        )
        self.options = options or RunOptions.from_settings(settings)
        self.actor = actor or Actor.system()
        self._pool = ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="krsn-collection"
        )
        self._lock = threading.Lock()
        self._cancels: dict[uuid.UUID, threading.Event] = {}
        self._queued: dict[uuid.UUID, Database] = {}
        self._active = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scheduled_at: float | None = None
        self.passes = 0
        """Scheduling passes finished since the start (for health and tests)."""

    # --- runs ---------------------------------------------------------------------------------

    @property
    def free(self) -> int:
        """Workers with nothing to do."""
        with self._lock:
            return max(0, self.workers - self._active - len(self._queued))

    def running(self) -> list[uuid.UUID]:
        """The collections this process is running or about to run."""
        with self._lock:
            return list(self._cancels)

    def submit(
        self,
        collection_id: uuid.UUID,
        *,
        actor: Actor,
        database: Database | None = None,
        replay: str | None = None,
    ) -> Future[RunOutcome]:
        """Run a collection already claimed (``running``) in the pool; its future outcome."""
        target = database or self.database
        cancel = threading.Event()
        with self._lock:
            self._cancels[collection_id] = cancel
            self._queued[collection_id] = target
        return self._pool.submit(self._run, target, collection_id, actor, cancel, replay)

    def _run(
        self,
        database: Database,
        collection_id: uuid.UUID,
        actor: Actor,
        cancel: threading.Event,
        replay: str | None,
    ) -> RunOutcome:
        with self._lock:
            self._queued.pop(collection_id, None)
            self._active += 1
        try:
            return run_collection(
                database,
                collection_id,
                actor=actor,
                cancel=cancel,
                replay=replay,
                options=self.options,
                claimed=True,
                interrupted=self._stop,
            )
        finally:
            with self._lock:
                self._active -= 1
                self._cancels.pop(collection_id, None)

    def cancel(self, collection_id: uuid.UUID) -> bool:
        """Stop a run of this process at its next check; whether it was running here."""
        with self._lock:
            event = self._cancels.get(collection_id)
        if event is None:
            return False
        event.set()
        return True

    # --- the schedule -------------------------------------------------------------------------

    def start(self) -> None:
        """Fail the runs a dead process left, then start the scheduling thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        try:
            self.sweep()
        except Exception:
            log.exception("collection scheduler: the start-up sweep of stale runs failed")
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()
        log.info(
            "collection scheduler started: %d workers, due collections checked every %g s",
            self.workers,
            self.interval,
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling, end the runs in progress at their next check, and wait."""
        self._stop.set()
        with self._lock:
            events = list(self._cancels.values())
        for event in events:
            event.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=False)
        log.info("collection scheduler stopped")

    def sweep(self) -> list[uuid.UUID]:
        """Mark failed the runs whose heartbeat stopped; keep queued ones alive. Their ids."""
        with self._lock:
            queued = list(self._queued.items())
        for collection_id, database in queued:
            with database.transaction() as session:
                service.heartbeat(session, collection_id=collection_id)
        with self.database.transaction() as session:
            failed = service.fail_abandoned(session, stale_after=self.stale_after)
        for collection_id in failed:
            log.warning(
                "collection %s: its run was left by a process that stopped; marked failed",
                collection_id,
                extra={"collection_id": str(collection_id)},
            )
        return failed

    def run_due(self) -> list[uuid.UUID]:
        """Claim and submit the due scheduled collections, up to the free workers; their ids."""
        with self.database.transaction(readonly=True) as session:
            due = service.due_collections(session)
        started: list[uuid.UUID] = []
        for collection_id in due:
            if self._stop.is_set() or self.free <= 0:
                break
            try:
                with self.database.transaction() as session:
                    service.claim_run(session, actor=self.actor, collection_id=collection_id)
            except (Conflict, NotFound):
                # Another scheduler took it, or it was deleted since.
                continue
            self.submit(collection_id, actor=self.actor)
            started.append(collection_id)
            log.info(
                "collection %s: scheduled run started",
                collection_id,
                extra={"collection_id": str(collection_id)},
            )
        return started

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
                now = time.monotonic()
                if self._scheduled_at is None or now - self._scheduled_at >= self.interval:
                    self._scheduled_at = now
                    self.run_due()
                    self.passes += 1
            except Exception:
                # The database may be down or mid-migration: say so, and try again next tick.
                log.exception("collection scheduler: the pass failed")
            self._stop.wait(min(TICK_SECONDS, self.interval))
