"""The notification dispatcher: one background thread running delivery passes.

A pass (:func:`krsn.detection.notify.delivery.deliver_due`) runs every
``KRSN_NOTIFY_POLL_SECONDS``, or at once when :meth:`NotificationDispatcher.wake` is called
(a new alert was committed, a failed notification was queued again). Passes claim what they
send, so any number of dispatchers, in one process or many, share one database.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from krsn.config import Settings
from krsn.db import Database
from krsn.detection.notify.delivery import deliver_due
from krsn.detection.notify.schemas import DeliveryReport

__all__ = ["THREAD_NAME", "NotificationDispatcher"]

log = logging.getLogger(__name__)

THREAD_NAME: Final = "krsn-notification-dispatcher"
BATCH: Final = 100


class NotificationDispatcher:
    """Delivers due notifications in a daemon thread until stopped."""

    def __init__(self, database: Database, settings: Settings, *, batch: int = BATCH) -> None:
        self.database = database
        self.settings = settings
        self.batch = batch
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        """Passes finished since the start (for health checks and tests)."""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread; its first pass is at once."""
        if self.running:
            return
        self._stop.clear()
        # A daemon so a send stuck in a network wait never holds the interpreter's exit;
        # stop() is what ends it.
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()
        log.info(
            "notification dispatcher started: due notifications are sent every %g s",
            self.settings.notify_poll_seconds,
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after its current pass, waiting at most ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            log.error("notification dispatcher: the pass in progress outlived %g s", timeout)
        else:
            log.info("notification dispatcher stopped")

    def wake(self) -> None:
        """Run a pass now rather than at the next poll (safe from any thread)."""
        self._wake.set()

    def run_once(self) -> DeliveryReport:
        """One pass, in the calling thread."""
        report = deliver_due(self.database, self.settings, limit=self.batch)
        if report.claimed:
            log.info(
                "notification pass: %d claimed, %d delivered, %d sent, %d to retry, %d failed",
                report.claimed,
                report.delivered,
                report.sent,
                report.retrying,
                report.failed,
            )
        return report

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            full = False
            try:
                full = self.run_once().claimed >= self.batch
            except Exception:
                # The database may be down or mid-migration: say so, and try at the next poll.
                log.exception("notification dispatcher: the delivery pass failed")
            self.passes += 1
            if full:
                continue  # more are due: no wait
            self._wake.wait(self.settings.notify_poll_seconds)
