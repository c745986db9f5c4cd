"""Running a feed: download (conditionally), parse, ingest, and record the run.

The same function serves ``krsn feeds run``, the API's "run now" and the scheduler. The
download happens outside any transaction; each ingested batch commits on its own; the run
record and the next scheduled time are written at the end, success or failure alike.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

import httpx

from krsn.config import Settings
from krsn.db import Database
from krsn.errors import KrsnError
from krsn.feeds.egress import EgressRefused
from krsn.feeds.fetch import FetchError, fetch
from krsn.feeds.formats.base import FormatError
from krsn.feeds.formats.misp_format import MispFormat
from krsn.feeds.formats.registry import get_format
from krsn.feeds.models import FeedFormat, ThreatSource
from krsn.feeds.pipeline import FeedRef, SourceRef, Suppressor, ingest
from krsn.feeds.service import get_feed, record_run
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import AuditSeverity

log = logging.getLogger(__name__)

_EVENT_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _allowed_hosts(settings: Settings) -> frozenset[str]:
    return frozenset(h.strip() for h in settings.egress_allowed_hosts.split(",") if h.strip())


def _limits(settings: Settings, *, label: str) -> dict[str, Any]:
    return {
        "timeout": settings.feed_fetch_timeout_seconds,
        "max_bytes": settings.feed_fetch_max_bytes,
        "retries": settings.feed_fetch_retries,
        "allow_private": settings.egress_allow_private,
        "allowed_hosts": _allowed_hosts(settings),
        "label": label,
    }


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


def run_feed(
    database: Database,
    *,
    feed: str,
    settings: Settings,
    actor: Actor,
    suppressor: Suppressor | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run one feed now; returns the run record also stored in its statistics."""
    with database.transaction(readonly=True) as session:
        row = get_feed(session, feed)
        source_row = session.get(ThreatSource, row.source_id)
        assert source_row is not None
        feed_id, name, url = row.id, row.feed_name, row.feed_url or ""
        format_name = row.format.value if row.format else ""
        rules = dict(row.parsing_rules or {})
        stats = dict(row.feed_statistics or {})
        source = SourceRef(
            id=source_row.id,
            name=source_row.name,
            reliability=float(source_row.reliability_score)
            if source_row.reliability_score is not None
            else None,
        )
    confidence = stats.get("default_confidence")
    run: dict[str, Any] = {
        "run_id": f"run-{uuid.uuid4()}",
        "started_at": datetime.now(UTC).isoformat(),
    }
    started = time.perf_counter()
    etag = last_modified = None
    succeeded = False
    state: dict[str, Any] = {}
    try:
        if format_name == FeedFormat.TAXII:
            raise KrsnError(
                "TAXII feeds are not run yet; the TAXII client comes with the sharing work."
            )
        parser = get_format(format_name)
        limits = _limits(settings, label=name)
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
                if _is_misp_manifest(format_name, url):
                    since_text = stats.get("misp_since")
                    since = datetime.fromisoformat(since_text) if since_text else None
                    rows = cast(MispFormat, parser).parse_feed(
                        body, _event_opener(url, limits), rules, since=since
                    )
                    state["misp_since"] = run["started_at"]
                else:
                    rows = parser.parse(body, rules)
                summary = ingest(
                    database,
                    rows=rows,
                    source=source,
                    feed=FeedRef(id=feed_id, default_confidence=confidence),
                    suppressor=suppressor,
                    on_progress=on_progress,
                    run_id=run["run_id"],
                )
                run.update(status="ok", **summary.as_dict())
                run["errors"] = run["errors"][:20]
        succeeded = True
    except (FetchError, FormatError, KrsnError, httpx.InvalidURL, ValueError) as exc:
        # A stored URL the client cannot use is the feed's fault: record it, never crash.
        detail = exc.detail if isinstance(exc, KrsnError) else str(exc)
        run.update(status="failed", error=detail)
        log.warning("feed %s failed: %s", name, detail, extra={"feed": name})
    run["duration_s"] = round(time.perf_counter() - started, 3)
    with database.transaction() as session:
        row = get_feed(session, str(feed_id))
        record_run(
            row, run, etag=etag, last_modified=last_modified, succeeded=succeeded, state=state
        )
        audit.record(
            session,
            actor=actor,
            action="threat_feed.run",
            resource_type="threat_feed",
            resource_id=feed_id,
            details={k: v for k, v in run.items() if k != "errors"},
            severity=AuditSeverity.INFO if succeeded else AuditSeverity.WARNING,
        )
    return run


def run_due_feeds(
    database: Database,
    *,
    settings: Settings,
    actor: Actor,
    suppressor: Suppressor | None = None,
) -> list[dict[str, Any]]:
    """Run every active feed whose next run is due (what the scheduler calls)."""
    from krsn.feeds.service import due_feeds

    with database.transaction(readonly=True) as session:
        names = [str(feed.id) for feed in due_feeds(session)]
    return [
        run_feed(database, feed=name, settings=settings, actor=actor, suppressor=suppressor)
        for name in names
    ]
