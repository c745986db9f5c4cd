"""Running a feed: download (conditionally), parse, ingest, and record the run.

The same function serves ``krsn feeds run``, the API's "run now" and the scheduler. The
download happens outside any transaction, with the source's credential; each ingested batch
commits on its own; the run record and the next scheduled time are written at the end,
success or failure alike. :func:`run_due` claims each due feed before running it, so two
schedulers on one database never run a feed twice at once. :func:`ingest_upload` reads a
file sent by hand through the same parsing, storing and recording as a run.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final, cast

import httpx
from sqlalchemy import select

from krsn.config import Settings
from krsn.db import Database
from krsn.db.types import utcnow
from krsn.errors import Invalid, KrsnError
from krsn.feeds import taxii_client
from krsn.feeds.egress import EgressRefused
from krsn.feeds.fetch import CANCELLED, FetchError, fetch
from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.misp_format import MispFormat
from krsn.feeds.formats.registry import get_format
from krsn.feeds.models import FeedFormat, ThreatIntelligence, ThreatSource
from krsn.feeds.pipeline import FeedRef, SourceRef, Suppressor, ingest
from krsn.feeds.service import claim_feed, due_feeds, get_feed, record_run
from krsn.feeds.sources import request_credentials
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import AuditSeverity
from krsn.sharing.stix.service import import_bundle

log = logging.getLogger(__name__)

_EVENT_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _allowed_hosts(settings: Settings) -> frozenset[str]:
    return frozenset(h.strip() for h in settings.egress_allowed_hosts.split(",") if h.strip())


def _limits(
    settings: Settings, *, label: str, stop: threading.Event | None = None
) -> dict[str, Any]:
    return {
        "timeout": settings.feed_fetch_timeout_seconds,
        "max_bytes": settings.feed_fetch_max_bytes,
        "retries": settings.feed_fetch_retries,
        "allow_private": settings.egress_allow_private,
        "allowed_hosts": _allowed_hosts(settings),
        "label": label,
        "cancel": stop,
    }


class Stopped(KrsnError):
    """The run was cut short because the process is shutting down."""


def _until_stopped(
    rows: Iterable[ParsedRow | ParseError], stop: threading.Event | None
) -> Iterator[ParsedRow | ParseError]:
    """The rows, ending the run between two of them once ``stop`` is set."""
    if stop is None:
        yield from rows
        return
    for row in rows:
        if stop.is_set():
            raise Stopped(CANCELLED)
        yield row


def _is_misp_manifest(format_name: str, url: str) -> bool:
    return format_name == FeedFormat.MISP and url.rstrip("/").endswith("/manifest.json")


def _event_opener(manifest_url: str, limits: dict[str, Any]) -> Callable[[str], BinaryIO]:
    """Open ``<uuid>.json`` beside a MISP feed's manifest, under the same limits."""
    base = manifest_url.rstrip("/").rsplit("/", 1)[0]

    def open_event(uuid_text: str) -> BinaryIO:
        if not _EVENT_UUID.fullmatch(uuid_text):
            # A manifest key must not steer the request anywhere but an event file.
            raise OSError(f"{uuid_text!r} is not an event uuid")
        try:
            result = fetch(f"{base}/{uuid_text}.json", **limits)
        except (FetchError, EgressRefused) as exc:
            raise OSError(str(exc)) from exc
        if result.body is None:
            raise OSError("the event file was empty")
        return cast(BinaryIO, result.body)

    return open_event


@dataclass(frozen=True, slots=True)
class _FeedSetup:
    """What a run needs of its feed and provider, read before anything is fetched."""

    id: uuid.UUID
    name: str
    url: str
    format_name: str
    rules: dict[str, Any]
    stats: dict[str, Any]
    source: SourceRef
    # Decrypted on reading, kept in memory only for this run; never logged or recorded.
    credential: dict[str, Any] | None = field(repr=False)

    @property
    def ref(self) -> FeedRef:
        return FeedRef(
            id=self.id, default_confidence=self.stats.get("default_confidence"), name=self.name
        )


def _read_feed(database: Database, feed: str) -> _FeedSetup:
    with database.transaction(readonly=True) as session:
        row = get_feed(session, feed)
        source_row = session.get(ThreatSource, row.source_id)
        assert source_row is not None
        return _FeedSetup(
            id=row.id,
            name=row.feed_name,
            url=row.feed_url or "",
            format_name=row.format.value if row.format else "",
            rules=dict(row.parsing_rules or {}),
            stats=dict(row.feed_statistics or {}),
            source=SourceRef(
                id=source_row.id,
                name=source_row.name,
                reliability=float(source_row.reliability_score)
                if source_row.reliability_score is not None
                else None,
            ),
            credential=source_row.authentication_config,
        )


class _Committed:
    """Counts the rows whose batches are committed, passing each count on."""

    def __init__(self, then: Callable[[int], None] | None) -> None:
        self.rows = 0
        self.then = then

    def __call__(self, rows: int) -> None:
        self.rows = rows
        if self.then is not None:
            self.then(rows)


def _store(
    database: Database,
    feed: _FeedSetup,
    body: BinaryIO,
    *,
    run_id: str,
    settings: Settings,
    actor: Actor,
    suppressor: Suppressor | None,
    committed: _Committed,
    stop: threading.Event | None,
    rows: Iterable[ParsedRow | ParseError] | None = None,
) -> dict[str, Any]:
    """Store what ``body`` holds under the feed's format and rules; the run's counts.

    Any format but STIX goes row by row (``rows``, when given, are parsed already, as a MISP
    manifest's events are), each batch committed on its own.
    """
    if feed.format_name == FeedFormat.STIX:
        # Through the STIX import, so the bundle's actors, campaigns, reports and
        # relationships are kept too, not only its indicator values.
        return _import_stix(
            database,
            body=body.read(),
            source=feed.source,
            feed=feed.ref,
            rules=feed.rules,
            actor=actor,
            suppressor=suppressor,
            run_id=run_id,
            on_progress=committed,
        )
    if rows is None:
        rows = get_format(feed.format_name).parse(body, feed.rules)
    return ingest(
        database,
        rows=_until_stopped(rows, stop),
        source=feed.source,
        feed=feed.ref,
        suppressor=suppressor,
        on_progress=committed,
        run_id=run_id,
        batch_size=settings.ingest_batch_rows,
    ).as_dict()


def _add_correlations(database: Database, feed: _FeedSetup, run: dict[str, Any]) -> None:
    try:
        run["correlations"] = _correlate(database, feed_id=feed.id, since=run["started_at"])
    except Exception:
        # The indicators are stored; a discovery fault must not fail the run.
        log.exception("feed %s: correlation discovery failed", feed.name, extra={"feed": feed.name})
        run["correlations"] = {"error": "correlation discovery failed; see the log"}


def _fail(run: dict[str, Any], detail: str, committed: _Committed) -> str:
    """Mark the run failed; rows already committed are named, never dropped unsaid."""
    if committed.rows:
        run["parsed"] = committed.rows
        detail = f"{detail}; the {committed.rows:,} rows read before it were ingested and are kept"
    run.update(status="failed", error=detail)
    return detail


def _record(
    database: Database,
    feed: _FeedSetup,
    run: dict[str, Any],
    *,
    actor: Actor,
    action: str,
    succeeded: bool,
    scheduled: bool = True,
    etag: str | None = None,
    last_modified: str | None = None,
    state: dict[str, Any] | None = None,
    next_run: datetime | None = None,
) -> None:
    """Add the run to the feed's history and the audit log, in one transaction."""
    with database.transaction() as session:
        row = get_feed(session, str(feed.id))
        record_run(
            row,
            run,
            etag=etag,
            last_modified=last_modified,
            succeeded=succeeded,
            state=state,
            next_run=next_run,
            scheduled=scheduled,
        )
        audit.record(
            session,
            actor=actor,
            action=action,
            resource_type="threat_feed",
            resource_id=feed.id,
            details={k: v for k, v in run.items() if k != "errors"},
            severity=AuditSeverity.INFO if succeeded else AuditSeverity.WARNING,
        )


def run_feed(
    database: Database,
    *,
    feed: str,
    settings: Settings,
    actor: Actor,
    suppressor: Suppressor | None = None,
    on_progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Run one feed now; returns the run record also stored in its statistics.

    Setting ``stop`` ends the run early (between retries, chunks or rows); it is recorded as
    failed and due again at once. An unexpected error is recorded too, then re-raised.
    """
    setup = _read_feed(database, feed)
    name, url, format_name = setup.name, setup.url, setup.format_name
    rules, stats = setup.rules, setup.stats
    run: dict[str, Any] = {
        "run_id": f"run-{uuid.uuid4()}",
        "started_at": datetime.now(UTC).isoformat(),
    }
    started = time.perf_counter()
    etag = last_modified = None
    succeeded = False
    state: dict[str, Any] = {}
    unexpected: Exception | None = None
    committed = _Committed(on_progress)
    try:
        limits = {
            **_limits(settings, label=name, stop=stop),
            **request_credentials(setup.credential).as_fetch_options(),
        }
        if format_name == FeedFormat.TAXII:
            polled = taxii_client.run_collection(
                database,
                url=url,
                rules=rules,
                state=stats,
                fetch_options=limits,
                source=setup.source,
                feed=setup.ref,
                suppressor=suppressor,
                on_progress=on_progress,
                run_id=run["run_id"],
                label=name,
            )
            run.update(polled.run)
            run["errors"] = run["errors"][:20]
            state.update(polled.state)
        else:
            parser = get_format(format_name)
            with fetch(
                url, etag=stats.get("etag"), last_modified=stats.get("last_modified"), **limits
            ) as result:
                run["fetched_bytes"] = result.size
                run["attempts"] = result.attempts
                etag, last_modified = result.etag, result.last_modified
                if result.status == "not_modified":
                    run["status"] = "not_modified"
                else:
                    assert result.body is not None
                    body = cast(BinaryIO, result.body)
                    rows = None
                    if _is_misp_manifest(format_name, url):
                        since_text = stats.get("misp_since")
                        since = datetime.fromisoformat(since_text) if since_text else None
                        rows = cast(MispFormat, parser).parse_feed(
                            body, _event_opener(url, limits), rules, since=since
                        )
                        state["misp_since"] = run["started_at"]
                    counts = _store(
                        database,
                        setup,
                        body,
                        run_id=run["run_id"],
                        settings=settings,
                        actor=actor,
                        suppressor=suppressor,
                        committed=committed,
                        stop=stop,
                        rows=rows,
                    )
                    run.update(status="ok", **counts)
                    run["errors"] = run["errors"][:20]
        succeeded = True
        _add_correlations(database, setup, run)
    except (FetchError, FormatError, KrsnError, httpx.InvalidURL, ValueError) as exc:
        # A stored URL the client cannot use is the feed's fault: record it, never crash.
        detail = _fail(run, exc.detail if isinstance(exc, KrsnError) else str(exc), committed)
        log.warning("feed %s failed: %s", name, detail, extra={"feed": name})
    except Exception as exc:
        # A fault of ours, not the feed's: recorded like any failure, then re-raised.
        unexpected = exc
        _fail(run, f"internal error ({type(exc).__name__}); see the log", committed)
        log.exception("feed %s: the run failed unexpectedly", name, extra={"feed": name})
    run["duration_s"] = round(time.perf_counter() - started, 3)
    # A run cut short by a shutdown is due again as soon as a scheduler runs.
    cut_short = not succeeded and stop is not None and stop.is_set()
    _record(
        database,
        setup,
        run,
        actor=actor,
        action="threat_feed.run",
        succeeded=succeeded,
        etag=etag,
        last_modified=last_modified,
        state=state,
        next_run=utcnow() if cut_short else None,
    )
    if unexpected is not None:
        raise unexpected
    return run


def _file_label(name: str | None) -> str | None:
    """An uploaded file's name as recorded: its last part, printable, at most 255 characters."""
    if not name:
        return None
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in last if ch.isprintable())[:255] or None


def ingest_upload(
    database: Database,
    *,
    feed: str,
    body: BinaryIO,
    file_name: str | None,
    settings: Settings,
    actor: Actor,
    suppressor: Suppressor | None = None,
) -> dict[str, Any]:
    """Ingest a file as one run of the feed: read with its format and parsing rules, credited
    to its provider, correlated, recorded in its run history (``trigger`` ``upload``) and
    audited; returns the run record. The feed's schedule and conditional-download state stay
    as they were. A file that cannot be read is recorded as a failed run, and returned.
    """
    setup = _read_feed(database, feed)
    if setup.format_name == FeedFormat.TAXII:
        raise Invalid("file", "a TAXII feed is polled from its server; it takes no file")
    body.seek(0, os.SEEK_END)
    size = body.tell()
    body.seek(0)
    run: dict[str, Any] = {
        "run_id": f"run-{uuid.uuid4()}",
        "started_at": datetime.now(UTC).isoformat(),
        "trigger": "upload",
        "file": _file_label(file_name),
        "uploaded_bytes": size,
    }
    started = time.perf_counter()
    succeeded = False
    unexpected: Exception | None = None
    committed = _Committed(None)
    try:
        counts = _store(
            database,
            setup,
            body,
            run_id=run["run_id"],
            settings=settings,
            actor=actor,
            suppressor=suppressor,
            committed=committed,
            stop=None,
        )
        run.update(status="ok", **counts)
        run["errors"] = run["errors"][:20]
        succeeded = True
        _add_correlations(database, setup, run)
    except (FormatError, KrsnError, ValueError) as exc:
        detail = _fail(run, exc.detail if isinstance(exc, KrsnError) else str(exc), committed)
        log.warning(
            "feed %s: uploaded file refused: %s", setup.name, detail, extra={"feed": setup.name}
        )
    except Exception as exc:
        unexpected = exc
        _fail(run, f"internal error ({type(exc).__name__}); see the log", committed)
        log.exception(
            "feed %s: the upload failed unexpectedly", setup.name, extra={"feed": setup.name}
        )
    run["duration_s"] = round(time.perf_counter() - started, 3)
    _record(
        database,
        setup,
        run,
        actor=actor,
        action="threat_feed.upload",
        succeeded=succeeded,
        scheduled=False,
    )
    if unexpected is not None:
        raise unexpected
    return run


CORRELATE_AT_MOST: Final = 50_000
"""The most indicators a run correlates at its end; a bigger run (a bulk blocklist, whose
rows share no event) is left to ``krsn correlations discover``."""


def _correlate(database: Database, *, feed_id: uuid.UUID, since: str) -> dict[str, Any]:
    """Discover the correlations of the indicators this run reported (stored or changed
    records of the feed since the run began), in a transaction of its own."""
    from krsn.detection.correlations.discovery import discover

    with database.transaction() as session:
        ids = [
            indicator_id
            for indicator_id in session.scalars(
                select(ThreatIntelligence.indicator_id)
                .where(
                    ThreatIntelligence.feed_id == feed_id,
                    ThreatIntelligence.processed_at >= datetime.fromisoformat(since),
                )
                .distinct()
            )
            if indicator_id is not None
        ]
        if not ids:
            return {"indicators": 0}
        if len(ids) > CORRELATE_AT_MOST:
            return {"indicators": len(ids), "skipped": "too many for the end of a run"}
        report = discover(session, indicator_ids=ids, now=utcnow())
    return {
        "indicators": len(ids),
        "created": sum(report.created.values()),
        "updated": sum(report.updated.values()),
    }


def _import_stix(
    database: Database,
    *,
    body: bytes,
    source: SourceRef,
    feed: FeedRef,
    rules: dict[str, Any],
    actor: Actor,
    suppressor: Suppressor | None,
    run_id: str,
    on_progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    """A STIX feed's bundle through the STIX import, in one transaction; the run's counts."""
    started = time.perf_counter()
    with database.transaction() as session:
        summary = import_bundle(
            session,
            bundle=body,
            source=source,
            actor=actor,
            suppressor=suppressor,
            feed=feed,
            rules=rules,
            run_id=run_id,
        )
    values = summary.indicators
    if on_progress is not None:
        on_progress(summary.objects)
    return {
        "parsed": values.values,
        "new": values.new,
        "updated": values.updated,
        "unchanged": values.unchanged,
        "rejected": values.rejected + summary.total.rejected,
        "suppressed": values.suppressed,
        "duration_s": round(time.perf_counter() - started, 3),
        "errors": [
            {"line": e.position, "reason": e.reason, "value": e.value} for e in values.errors
        ]
        + [{"line": e.position, "reason": e.reason, "value": e.id} for e in summary.errors],
        "stix_objects": summary.objects,
        "stix": summary.total.model_dump(),
    }


@dataclass(slots=True)
class DueRuns:
    """What one pass over the due feeds did."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    """The record of each run, with ``feed`` (its name) added."""
    skipped: list[str] = field(default_factory=list)
    """Due feeds another scheduler claimed first."""
    due: int = 0

    @property
    def failed(self) -> int:
        return sum(1 for run in self.runs if run.get("status") == "failed")

    def as_dict(self) -> dict[str, Any]:
        """The summary ``krsn feeds schedule --json`` prints."""
        return {
            "due": self.due,
            "ran": len(self.runs),
            "failed": self.failed,
            "skipped": list(self.skipped),
            "runs": list(self.runs),
        }


def run_due(
    database: Database,
    *,
    settings: Settings,
    actor: Actor,
    suppressor: Suppressor | None = None,
    stop: threading.Event | None = None,
) -> DueRuns:
    """Claim and run each due feed in turn; a feed that fails is recorded and the next runs.

    A feed claimed by another scheduler meanwhile is skipped; setting ``stop`` ends the
    pass after (or, through the run, during) the current feed.
    """
    with database.transaction(readonly=True) as session:
        due = [(feed.id, feed.feed_name) for feed in due_feeds(session)]
    done = DueRuns(due=len(due))
    for feed_id, name in due:
        if stop is not None and stop.is_set():
            break
        with database.transaction() as session:
            claimed = claim_feed(session, feed_id=feed_id)
        if not claimed:
            log.info("feed %s: claimed by another scheduler; skipped", name, extra={"feed": name})
            done.skipped.append(name)
            continue
        try:
            run = run_feed(
                database,
                feed=str(feed_id),
                settings=settings,
                actor=actor,
                suppressor=suppressor,
                stop=stop,
            )
        except KrsnError as exc:  # the feed went away between the claim and the run
            run = {"status": "failed", "error": exc.detail}
            log.warning("feed %s: %s", name, exc.detail, extra={"feed": name})
        except Exception as exc:
            # run_feed logged and recorded it; one broken feed must not stop the others.
            run = {"status": "failed", "error": f"internal error ({type(exc).__name__})"}
        done.runs.append({"feed": name, **run})
    return done


def run_due_feeds(
    database: Database,
    *,
    settings: Settings,
    actor: Actor,
    suppressor: Suppressor | None = None,
    stop: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Run every active feed whose next run is due, each claimed first; their run records."""
    return run_due(database, settings=settings, actor=actor, suppressor=suppressor, stop=stop).runs
