"""Running a collection: the collector's records stored in short batches while the run
reports progress, notices cancellation and ends completed, failed or cancelled.

The same function serves ``krsn collections run`` (in the foreground), the API's
``POST /collections/{id}/run`` and the schedule (both through
:class:`krsn.osint.collections.scheduler.CollectionScheduler`). The collector runs outside
any transaction; every ``batch_items`` records (or every ``flush_seconds``, so a slow source
shows its items as they come) go through :func:`krsn.osint.items.store.store_collected` in a
transaction of their own, which also counts the new items. Progress is written in its own
short transaction at most every ``progress_seconds``.

Cancelling works from anywhere: the ``cancel`` event (set by the runner in this process)
stops the collector at its next ``context.check()``; a watcher thread polls the row every
``poll_seconds`` and sets the event once the status is no longer ``running`` (a cancel from
another process), and stamps the heartbeat (``updated_at``) that tells a live run from one
left by a dead process.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from krsn.config import Settings, get_settings
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.errors import KrsnError
from krsn.identity.audit import Actor
from krsn.osint.collections import service
from krsn.osint.collections.schemas import RunOutcome
from krsn.osint.collectors.base import Cancelled, Collected, CollectorContext
from krsn.osint.models import CollectionStatus
from krsn.osint.sources.service import RunSource, run_source

__all__ = ["ProgressCallback", "RunOptions", "run_collection"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float, int], None]
"""Told ``(progress 0-100, new items so far)`` as a run moves (the CLI's progress bar)."""

SHUTDOWN_MESSAGE = (
    "The server shut down during the run; run it again (a scheduled one runs at its next turn)."
)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run batches, reports and reaches the network."""

    batch_items: int = 200
    flush_seconds: float = 2.0
    progress_seconds: float = 0.5
    poll_seconds: float = 1.0
    heartbeat_seconds: float = service.HEARTBEAT_SECONDS
    timeout: float = 30.0
    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()
    import_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RunOptions:
        """The options the settings give (the collection settings where they exist)."""
        return cls(
            batch_items=settings.collection_batch_items,
            timeout=settings.feed_fetch_timeout_seconds,
            allow_private=settings.egress_allow_private,
            import_dir=settings.osint_import_dir,
            allowed_hosts=tuple(
                h.strip() for h in settings.egress_allowed_hosts.split(",") if h.strip()
            ),
        )


@dataclass(slots=True)
class _Tally:
    records: int = 0
    items: int = 0
    duplicates: int = 0
    entities: int = 0
    documents: int = 0


class _Watch:
    """Polls the row for a cancel from elsewhere and stamps the heartbeat, in a thread."""

    def __init__(
        self,
        database: Database,
        collection_id: uuid.UUID,
        cancel: threading.Event,
        options: RunOptions,
    ) -> None:
        self.database = database
        self.collection_id = collection_id
        self.cancel = cancel
        self.options = options
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"krsn-collection-watch-{collection_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        beat = time.monotonic()
        while not self._done.wait(self.options.poll_seconds):
            try:
                if time.monotonic() - beat >= self.options.heartbeat_seconds:
                    with self.database.transaction() as session:
                        alive = service.heartbeat(session, collection_id=self.collection_id)
                    beat = time.monotonic()
                else:
                    with self.database.transaction(readonly=True) as session:
                        alive = service.is_running(session, collection_id=self.collection_id)
            except Exception:
                # A busy or briefly unreachable database: the next poll tries again.
                log.warning(
                    "collection %s: could not check the run's state",
                    self.collection_id,
                    exc_info=True,
                    extra={"collection_id": str(self.collection_id)},
                )
                continue
            if not alive:
                self.cancel.set()
                return


class _Reporter:
    """The ``progress(done, total)`` a collector calls: throttled writes of the percentage."""

    def __init__(
        self,
        database: Database,
        collection_id: uuid.UUID,
        cancel: threading.Event,
        options: RunOptions,
        tally: _Tally,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.database = database
        self.collection_id = collection_id
        self.cancel = cancel
        self.options = options
        self.tally = tally
        self.on_progress = on_progress
        self.shown = 0.0
        self._written_at: float | None = None

    def __call__(self, done: int, total: int) -> None:
        self.shown = min(100.0, max(0.0, 100.0 * done / total)) if total > 0 else 0.0
        if self.on_progress is not None:
            self.on_progress(self.shown, self.tally.items)
        now = time.monotonic()
        if self._written_at is not None and now - self._written_at < self.options.progress_seconds:
            return
        self._written_at = now
        try:
            with self.database.transaction() as session:
                alive = service.set_progress(
                    session, collection_id=self.collection_id, progress=self.shown
                )
        except Exception:
            # Progress is for show: a busy database must not fail the run.
            log.warning(
                "collection %s: could not record progress",
                self.collection_id,
                exc_info=True,
                extra={"collection_id": str(self.collection_id)},
            )
            return
        if not alive:
            self.cancel.set()


def _client(
    source: RunSource,
    options: RunOptions,
    *,
    cancel: threading.Event,
    replay: Path | None,
) -> httpx.Client:
    """The run's HTTP client: the source's rate limit and user agent; egress allowances are
    the operator's settings alone, as for feeds (a source is edited through the API, and
    must not open the way to private networks or name a proxy that is dialled directly)."""
    from krsn.osint.collectors.http import ReplayTransport, collector_client

    agent = source.config.get("user_agent")
    return collector_client(
        rate_per_minute=source.rate_limit,
        proxy=None,
        allow_private=options.allow_private,
        allowed_hosts=options.allowed_hosts,
        timeout=options.timeout,
        transport=ReplayTransport(replay) if replay is not None else None,
        # Runs through one source share its budget; a run without one has its own.
        source=f"osint-source:{source.id}" if source.id is not None else None,
        cancel=cancel,
        headers={"User-Agent": str(agent)} if agent else None,
    )


def _resolver(replay: Path | None) -> Any:
    """Recorded zones to answer DNS from when replaying and there are any; else None."""
    if replay is None or not any(replay.rglob("*.zone")):
        return None
    from krsn.osint.collectors.dns import ReplayResolver

    return ReplayResolver(replay)


def _failure(exc: BaseException, collection_id: uuid.UUID) -> str:
    """What a person reads about a failed run: the source's words, or where to look."""
    if isinstance(exc, KrsnError):
        return exc.detail
    if isinstance(exc, httpx.HTTPError):
        return f"A request failed: {exc.__class__.__name__}: {exc}"
    return (
        f"Internal error ({exc.__class__.__name__}: {exc}); the server log has the details "
        f"under collection {collection_id}."
    )


def _store(
    database: Database,
    *,
    collection_id: uuid.UUID,
    source_id: uuid.UUID | None,
    batch: Sequence[Collected],
    cancel: threading.Event,
    tally: _Tally,
) -> None:
    """One batch in one transaction, unless the run was cancelled meanwhile."""
    from krsn.osint.items.store import store_collected

    with database.transaction() as session:
        if not service.is_running(session, collection_id=collection_id):
            cancel.set()
            raise Cancelled(str(collection_id))
        stored = store_collected(
            session,
            collection_id=collection_id,
            source_id=source_id,
            records=list(batch),
            now=utcnow(),
        )
        service.add_collected(session, collection_id=collection_id, items=len(stored.new_item_ids))
    tally.items += len(stored.new_item_ids)
    tally.duplicates += stored.duplicates
    tally.entities += stored.entities
    tally.documents += stored.documents


def run_collection(
    database: Database,
    collection_id: uuid.UUID,
    *,
    actor: Actor,
    cancel: threading.Event | None = None,
    replay: str | Path | None = None,
    settings: Settings | None = None,
    options: RunOptions | None = None,
    claimed: bool = False,
    on_progress: ProgressCallback | None = None,
    interrupted: threading.Event | None = None,
) -> RunOutcome:
    """Run one collection now and record how it ended; what the run did.

    ``claimed``: the caller already moved it to ``running`` (the API does, to answer 409 at
    once); otherwise this claims it, raising ``Conflict`` when it already runs. ``replay``
    is a folder of recorded responses (and ``*.zone`` files for DNS) answered instead of the
    network. Setting ``cancel`` ends the run as cancelled; when ``interrupted`` is set too
    (a shutdown), it ends failed, saying so. Failures are recorded, never raised.
    """
    options = options or RunOptions.from_settings(settings or get_settings())
    cancel = cancel or threading.Event()
    folder = Path(replay) if replay is not None else None
    if not claimed:
        with database.transaction() as session:
            service.claim_run(session, actor=actor, collection_id=collection_id)
    started = time.perf_counter()
    tally = _Tally()
    status = CollectionStatus.FAILED
    error: str | None = None
    watch = _Watch(database, collection_id, cancel, options)
    reporter = _Reporter(database, collection_id, cancel, options, tally, on_progress)
    extra = {"collection_id": str(collection_id)}
    interrupt: BaseException | None = None
    try:
        with database.transaction(readonly=True) as session:
            row = service.get_collection(session, collection_id)
            # The collection's own collector, or its category's built-in.
            kind = service.collector_name(row)
            name, config = row.name, dict(row.config or {})
            source = run_source(session, row.source_id)
        collector = service.collector_for(kind)
        checked = service.validate_config(kind, config)
        watch.start()
        label = f"collection {name} ({collection_id})"
        log.info("collection %s: %s run started", collection_id, kind, extra=extra)
        with _client(source, options, cancel=cancel, replay=folder) as client:
            context = CollectorContext(
                client=client,
                credentials=dict(source.credentials),
                source_config=dict(source.config),
                progress=reporter,
                cancel=cancel,
                nameservers=source.config.get("nameservers") or None,
                dns_port=int(source.config.get("dns_port") or 53),
                label=label,
                resolver=_resolver(folder),
                import_dir=options.import_dir,
            )
            batch: list[Collected] = []
            flushed = time.monotonic()
            for record in collector.collect(checked, context):
                tally.records += 1
                batch.append(record)
                if (
                    len(batch) >= options.batch_items
                    or time.monotonic() - flushed >= options.flush_seconds
                ):
                    _store(
                        database,
                        collection_id=collection_id,
                        source_id=source.id,
                        batch=batch,
                        cancel=cancel,
                        tally=tally,
                    )
                    batch, flushed = [], time.monotonic()
                    if on_progress is not None:
                        on_progress(reporter.shown, tally.items)
                context.check()
            if batch:
                _store(
                    database,
                    collection_id=collection_id,
                    source_id=source.id,
                    batch=batch,
                    cancel=cancel,
                    tally=tally,
                )
                if on_progress is not None:
                    on_progress(reporter.shown, tally.items)
            context.check()
        status = CollectionStatus.COMPLETED
    except Cancelled:
        status = CollectionStatus.CANCELLED
    except KeyboardInterrupt as exc:
        # Ctrl-C on `krsn collections run`: recorded as a cancel, then the command ends.
        status, interrupt = CollectionStatus.CANCELLED, exc
    except Exception as exc:
        error = _failure(exc, collection_id)
        if isinstance(exc, KrsnError | httpx.HTTPError):
            log.warning("collection %s failed: %s", collection_id, error, extra=extra)
        else:
            log.exception("collection %s: the run failed unexpectedly", collection_id, extra=extra)
    finally:
        watch.stop()
    if status == CollectionStatus.CANCELLED and interrupted is not None and interrupted.is_set():
        status, error = CollectionStatus.FAILED, SHUTDOWN_MESSAGE
    duration = round(time.perf_counter() - started, 3)
    details = {
        "records": tally.records,
        "items_collected": tally.items,
        "duplicates": tally.duplicates,
        "entities": tally.entities,
        "documents": tally.documents,
        "duration_s": duration,
    }
    with database.transaction() as session:
        ended = service.finish_run(
            session,
            actor=actor,
            collection_id=collection_id,
            status=status,
            error_message=error,
            details=details,
        )
        if not ended:
            # Someone ended it first (a cancel from elsewhere): report what the row says.
            row = service.get_collection(session, collection_id)
            status = row.status or status
            error = row.error_message
    log.info(
        "collection %s: %s, %s new items from %s records (%s duplicates) in %s s",
        collection_id,
        status.value,
        tally.items,
        tally.records,
        tally.duplicates,
        duration,
        extra={**extra, "status": status.value},
    )
    if interrupt is not None:
        raise interrupt
    return RunOutcome(
        collection_id=collection_id,
        status=status,
        items_collected=tally.items,
        records=tally.records,
        duplicates=tally.duplicates,
        entities=tally.entities,
        documents=tally.documents,
        error_message=error,
        duration_s=duration,
    )
