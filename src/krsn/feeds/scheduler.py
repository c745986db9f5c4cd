"""The feed scheduler of the embedded mode: due feeds run in the background of ``krsn serve``.

Every ``KRSN_SCHEDULER_INTERVAL_SECONDS`` one background thread (never the event loop: a
run downloads and parses for seconds to minutes) looks for due feeds and runs them one at a
time with :func:`krsn.feeds.runner.run_due`, as the system actor, with the warninglists the
command line uses. Each feed is claimed before it runs (:func:`krsn.feeds.service.claim_feed`),
so API processes started with ``--workers``, or on several hosts, share one database without
running a feed twice. A failing feed is logged and recorded, and the next one runs. Every
five minutes a pass also tidies detection (:mod:`krsn.detection.maintenance`).

:meth:`FeedScheduler.stop` returns promptly: the wait between passes ends at once, and a run
in progress stops at its next retry, chunk or row, recorded as failed and due again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from krsn.config import Settings
from krsn.db import Database
from krsn.feeds.pipeline import Suppressor
from krsn.feeds.runner import DueRuns, run_due
from krsn.identity.audit import Actor

__all__ = ["THREAD_NAME", "FeedScheduler"]

log = logging.getLogger(__name__)

THREAD_NAME: Final = "krsn-feed-scheduler"
HOUSEKEEPING_SECONDS: Final = 300.0
"""How often a pass also tidies detection (expired watchlist items, old rule events)."""


class FeedScheduler:
    """Runs due feeds every ``interval`` seconds in one background thread until stopped."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        interval: float | None = None,
        suppressor: Suppressor | None = None,
        actor: Actor | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.interval = interval if interval is not None else settings.scheduler_interval_seconds
        self.actor = actor or Actor.system()
        self._suppressor = suppressor
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tidied_at: float | None = None
        self.passes = 0
        """Passes over the due feeds finished since the start (for health and tests)."""

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the background thread; its first pass is at once."""
        if self.running:
            return
        self._stop.clear()
        # Daemon only so a run stuck in a network wait can never hold the interpreter's
        # exit; stop() is what ends it, and waits for it.
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()
        log.info("feed scheduler started: due feeds are checked every %g s", self.interval)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            log.error(
                "feed scheduler: the run in progress did not stop within %g s; abandoned",
                timeout,
            )
        else:
            log.info("feed scheduler stopped")

    def run_once(self) -> DueRuns:
        """Claim and run what is due now, one feed at a time; what the pass did."""
        done = run_due(
            self.database,
            settings=self.settings,
            actor=self.actor,
            suppressor=self.suppressor(),
            stop=self._stop,
        )
        for run in done.runs:
            name = run.get("feed")
            log.info(
                "feed %s: scheduled run %s: new %s, updated %s, rejected %s in %s s%s",
                name,
                run.get("status"),
                run.get("new", 0),
                run.get("updated", 0),
                run.get("rejected", 0),
                run.get("duration_s", "-"),
                f" ({run['error']})" if run.get("error") else "",
                extra={"feed": name, "run_id": run.get("run_id"), "status": run.get("status")},
            )
        return done

    def suppressor(self) -> Suppressor:
        """The warninglists of ``krsn feeds run``, compiled on first use in this thread."""
        if self._suppressor is None:
            from krsn.indicators.warninglists import default_index

            self._suppressor = default_index(self.settings)
        return self._suppressor

    def tidy_detection(self) -> None:
        """Detection's housekeeping, at most every ``HOUSEKEEPING_SECONDS``."""
        from krsn.detection.maintenance import tidy

        now = time.monotonic()
        if self._tidied_at is not None and now - self._tidied_at < HOUSEKEEPING_SECONDS:
            return
        self._tidied_at = now
        tidy(self.database)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                # The database may be down or mid-migration: say so, and try again next pass.
                log.exception("feed scheduler: the pass over due feeds failed")
            try:
                self.tidy_detection()
            except Exception:
                log.exception("feed scheduler: detection housekeeping failed")
            self.passes += 1
            self._stop.wait(self.interval)
