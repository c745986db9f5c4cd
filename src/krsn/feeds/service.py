"""Feeds: add one from a template or by hand, list them, change, delete and preview them;
find the due ones and claim one for a run.

A feed belongs to a provider (``threat_sources``); adding a feed from a template creates
its provider on first use with the template's reliability, and stores the credential given
with it on that provider. ETag / Last-Modified of the last download and the history of runs
live in ``feed_statistics``.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid, NotFound
from krsn.feeds.formats.base import FormatError, ParseError
from krsn.feeds.formats.registry import get_format
from krsn.feeds.models import FeedFormat, ThreatFeed, ThreatSource, ThreatSourceType
from krsn.feeds.pipeline import Suppressor
from krsn.feeds.sources import ensure_source, set_credential
from krsn.feeds.taxii_client import check_collection_url
from krsn.feeds.taxii_client import validate_rules as validate_taxii_rules
from krsn.feeds.templates import get_template
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.normalise import Kind, Rejected, normalise

MAX_RUNS_KEPT = 50
DEFAULT_FREQUENCY = 1440


def _check_url(url: str) -> str:
    """An http(s) address the fetcher can parse, with a host."""
    if not url.startswith(("http://", "https://")):
        raise Invalid("url", "must be an http:// or https:// address")
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL as exc:
        raise Invalid("url", f"not a usable address: {exc}") from None
    if not host:
        raise Invalid("url", "must name a host, as in https://feeds.example.com/list.txt")
    return url


def _check_rules(format_name: str, rules: dict[str, Any]) -> dict[str, Any]:
    try:
        if format_name == FeedFormat.TAXII:
            return validate_taxii_rules(rules)
        return get_format(format_name).validate_rules(rules)
    except Invalid as exc:
        raise Invalid(
            f"parsing_rules.{exc.field}".replace("parsing_rules.parsing_rules", "parsing_rules"),
            exc.reason,
        ) from None


def create_feed(
    session: Session,
    *,
    actor: Actor,
    name: str,
    url: str,
    format_name: str,
    parsing_rules: dict[str, Any],
    source_name: str,
    reliability: float | None = None,
    default_confidence: float | None = None,
    update_frequency_minutes: int = DEFAULT_FREQUENCY,
    template: str | None = None,
    source_type: ThreatSourceType = ThreatSourceType.OPEN_SOURCE,
) -> ThreatFeed:
    """A new feed (and its provider when new); its first run is due at once."""
    if format_name not in set(FeedFormat):
        raise Invalid(
            "format",
            f"unknown format {format_name!r}; use one of {', '.join(f.value for f in FeedFormat)}",
        )
    _check_url(url)
    if format_name == FeedFormat.TAXII:
        check_collection_url(url)
    if not 5 <= update_frequency_minutes <= 7 * 24 * 60:
        raise Invalid("update_frequency_minutes", "must be between 5 and 10080")
    clash = session.scalar(
        select(ThreatFeed.id).where(func.lower(ThreatFeed.feed_name) == name.lower())
    )
    if clash:
        raise Conflict(f"A feed named {name!r} exists.", field="name")
    rules = _check_rules(format_name, parsing_rules)
    source = ensure_source(
        session, actor=actor, name=source_name, reliability=reliability, source_type=source_type
    )
    feed = ThreatFeed(
        source_id=source.id,
        feed_name=name,
        feed_url=url,
        format=FeedFormat(format_name),
        parsing_rules=rules,
        update_frequency_minutes=update_frequency_minutes,
        next_scheduled_update=utcnow(),
        feed_statistics={
            "template": template,
            "default_confidence": default_confidence,
            "runs": [],
        },
    )
    audit.created(session, feed, actor=actor, resource_type="threat_feed")
    return feed


def add_from_template(
    session: Session,
    *,
    actor: Actor,
    template: str,
    name: str | None = None,
    values: dict[str, str] | None = None,
    credential: dict[str, Any] | None = None,
) -> ThreatFeed:
    """A feed made from a built-in template, with its parameters filled in.

    ``credential`` (an ``authentication_config``) is stored on the feed's provider, replacing
    the one there. A template whose server is a parameter (TAXII) gets a provider per host,
    so two servers never share a credential.
    """
    chosen = get_template(template)
    rendered = chosen.render(values or {})
    provider = chosen.provider
    if chosen.url.startswith("{"):
        provider = f"{chosen.provider} ({httpx.URL(rendered.url).host})"
    feed = create_feed(
        session,
        actor=actor,
        name=name or chosen.name,
        url=rendered.url,
        format_name=rendered.format,
        parsing_rules=rendered.parsing_rules,
        source_name=provider,
        reliability=float(chosen.source_reliability),
        default_confidence=float(rendered.default_confidence),
        update_frequency_minutes=rendered.update_frequency_minutes,
        template=chosen.name,
        source_type=chosen.source_type,
    )
    if credential is not None:
        set_credential(session, actor=actor, source_id=feed.source_id, credential=credential)
    return feed


def get_feed(session: Session, name_or_id: str) -> ThreatFeed:
    """A feed by its name or id."""
    feed = None
    try:
        feed = session.get(ThreatFeed, uuid.UUID(name_or_id))
    except ValueError:
        feed = session.scalar(
            select(ThreatFeed).where(func.lower(ThreatFeed.feed_name) == name_or_id.lower())
        )
    if feed is None:
        raise NotFound(f"No feed called {name_or_id!r}; see 'krsn feeds list'.")
    return feed


def list_feeds(session: Session) -> list[tuple[ThreatFeed, ThreatSource]]:
    """Every feed with its provider, by name."""
    rows = session.execute(
        select(ThreatFeed, ThreatSource)
        .join(ThreatSource, ThreatFeed.source_id == ThreatSource.id)
        .order_by(ThreatFeed.feed_name)
    )
    return [(feed, source) for feed, source in rows]


def due_feeds(session: Session) -> list[ThreatFeed]:
    """Active feeds whose next run is due."""
    return list(
        session.scalars(
            select(ThreatFeed)
            .where(ThreatFeed.is_active.is_(True), ThreatFeed.next_scheduled_update <= utcnow())
            .order_by(ThreatFeed.next_scheduled_update)
        )
    )


def claim_feed(session: Session, *, feed_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Take a due feed for one run: True when this caller now owns the run.

    The claim moves ``next_scheduled_update`` a period ahead with an UPDATE that applies
    only while the feed is still due, so of two schedulers (threads, processes or hosts on
    one database) only the first to update the row gets it: on PostgreSQL the second waits
    for the first's row lock, then finds the row no longer due; on SQLite writers are
    serialised. Commit the claim at once, before the run, so others see it.
    """
    now = now or utcnow()
    minutes = session.scalar(
        select(ThreatFeed.update_frequency_minutes).where(ThreatFeed.id == feed_id)
    )
    claimed = session.execute(
        update(ThreatFeed)
        .where(
            ThreatFeed.id == feed_id,
            ThreatFeed.is_active.is_(True),
            ThreatFeed.next_scheduled_update <= now,
        )
        .values(next_scheduled_update=now + timedelta(minutes=minutes or DEFAULT_FREQUENCY))
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], claimed).rowcount == 1


def record_run(
    feed: ThreatFeed,
    run: dict[str, Any],
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    succeeded: bool,
    state: dict[str, Any] | None = None,
    next_run: datetime | None = None,
    scheduled: bool = True,
) -> None:
    """Append a run to the feed's statistics and schedule the next one.

    ``state`` (kept only when the run succeeded) is what the next run resumes from, such as
    the time up to which a MISP feed's events were read. The next run is a period from now,
    or ``next_run`` (a run cut short by a shutdown is due again at once). A run that did not
    download the feed (``scheduled`` false: a file uploaded by hand) leaves the schedule and
    the last successful download as they were.
    """
    stats = dict(feed.feed_statistics or {})
    if succeeded and state:
        stats.update(state)
    runs = [run, *list(stats.get("runs") or [])][:MAX_RUNS_KEPT]
    stats["runs"] = runs
    if succeeded and scheduled:
        if etag is not None or last_modified is not None:
            stats["etag"], stats["last_modified"] = etag, last_modified
        feed.last_successful_update = utcnow()
    feed.feed_statistics = stats
    if scheduled:
        feed.next_scheduled_update = next_run or utcnow() + timedelta(
            minutes=feed.update_frequency_minutes or DEFAULT_FREQUENCY
        )


FEED_CHANGES = frozenset(
    {"is_active", "url", "parsing_rules", "update_frequency_minutes", "default_confidence"}
)


def _snapshot(feed: ThreatFeed) -> dict[str, Any]:
    shown = audit.snapshot(feed)
    # Run history is bookkeeping; only the settings kept beside it are audited.
    stats = shown.pop("feed_statistics", None) or {}
    shown["default_confidence"] = stats.get("default_confidence")
    return shown


def update_feed(
    session: Session, *, actor: Actor, feed: str, changes: dict[str, Any]
) -> ThreatFeed:
    """Change a feed's state, address, rules, frequency or default confidence."""
    row = get_feed(session, feed)
    unknown = set(changes) - FEED_CHANGES
    if unknown:
        raise Invalid(sorted(unknown)[0], f"cannot be changed; change {', '.join(FEED_CHANGES)}")
    before = _snapshot(row)
    if "is_active" in changes:
        if changes["is_active"] is None:
            raise Invalid("is_active", "must be true or false")
        row.is_active = bool(changes["is_active"])
        if row.is_active and row.next_scheduled_update is None:
            row.next_scheduled_update = utcnow()
    if "url" in changes:
        url = changes["url"]
        if not isinstance(url, str):
            raise Invalid("url", "must be an http:// or https:// address")
        row.feed_url = _check_url(url)
        if row.format == FeedFormat.TAXII:
            check_collection_url(url)
    if "parsing_rules" in changes:
        rules = changes["parsing_rules"] if changes["parsing_rules"] is not None else {}
        row.parsing_rules = _check_rules(row.format.value if row.format else "", rules)
    if "update_frequency_minutes" in changes:
        minutes = changes["update_frequency_minutes"]
        if minutes is None or not 5 <= minutes <= 7 * 24 * 60:
            raise Invalid("update_frequency_minutes", "must be between 5 and 10080")
        row.update_frequency_minutes = minutes
    if "default_confidence" in changes:
        confidence = changes["default_confidence"]
        if confidence is not None and not 0 <= confidence <= 100:
            raise Invalid("default_confidence", "must be between 0 and 100")
        row.feed_statistics = {**(row.feed_statistics or {}), "default_confidence": confidence}
    session.flush()
    old, new = audit.changes(before, _snapshot(row))
    if old or new:
        audit.record(
            session,
            actor=actor,
            action="threat_feed.update",
            resource_type="threat_feed",
            resource_id=row.id,
            old_values=old,
            new_values=new,
        )
    return row


def delete_feed(session: Session, *, actor: Actor, feed: str) -> None:
    """Delete a feed; the intelligence it brought stays, no longer linked to it."""
    row = get_feed(session, feed)
    before = _snapshot(row)
    feed_id = row.id
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="threat_feed.delete",
        resource_type="threat_feed",
        resource_id=feed_id,
        old_values=before,
    )


def page_feeds(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    source_id: uuid.UUID | None = None,
    is_active: bool | None = None,
) -> tuple[PageResult[ThreatFeed], dict[uuid.UUID, str]]:
    """A page of feeds by name, with the names of their providers by id."""
    query = select(ThreatFeed)
    if source_id is not None:
        query = query.where(ThreatFeed.source_id == source_id)
    if is_active is not None:
        query = query.where(ThreatFeed.is_active.is_(is_active))
    page = paginate(
        session,
        query,
        order_by=[ThreatFeed.feed_name, ThreatFeed.id],
        limit=limit,
        cursor=cursor,
        descending=False,
    )
    wanted = {feed.source_id for feed in page.items}
    rows = session.execute(
        select(ThreatSource.id, ThreatSource.name).where(ThreatSource.id.in_(wanted))
    )
    return page, {source_id: name for source_id, name in rows}


def source_name(session: Session, feed: ThreatFeed) -> str | None:
    """The name of the feed's provider."""
    return session.scalar(select(ThreatSource.name).where(ThreatSource.id == feed.source_id))


def feed_runs(feed: ThreatFeed) -> list[dict[str, Any]]:
    """The feed's run history, newest first."""
    return list((feed.feed_statistics or {}).get("runs") or [])


MAX_PREVIEW_ROWS = 500


def _kind(stated: str | None) -> Kind | None:
    try:
        return Kind(stated) if stated else None
    except ValueError:
        return None


def preview(
    feed: ThreatFeed,
    *,
    sample: str,
    parsing_rules: dict[str, Any] | None = None,
    suppressor: Suppressor | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """What the parser and the normaliser make of ``sample``, row by row, and whether rows
    were left out past ``MAX_PREVIEW_ROWS``; nothing is stored.

    ``parsing_rules`` (checked like a saved feed's) replace the feed's own, to try them out.
    """
    return preview_sample(
        feed.format.value if feed.format else "",
        sample=sample,
        parsing_rules=parsing_rules
        if parsing_rules is not None
        else dict(feed.parsing_rules or {}),
        suppressor=suppressor,
    )


def preview_sample(
    format_name: str,
    *,
    sample: str,
    parsing_rules: dict[str, Any],
    suppressor: Suppressor | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The preview of a feed not saved yet: a format, its rules and a sample."""
    if format_name == FeedFormat.TAXII:
        raise Invalid("format", "TAXII feeds have no sample to preview")
    rules = _check_rules(format_name, parsing_rules)
    parser = get_format(format_name)
    rows: list[dict[str, Any]] = []
    truncated = False
    try:
        for item in parser.parse(io.BytesIO(sample.encode("utf-8")), rules):
            if len(rows) >= MAX_PREVIEW_ROWS:
                truncated = True
                break
            if isinstance(item, ParseError):
                rows.append({"line": item.line, "value": None, "rejected": item.reason})
                continue
            result = normalise(item.value, expected=_kind(item.kind))
            row: dict[str, Any] = {"line": item.line, "value": item.value, "kind": item.kind}
            if isinstance(result, Rejected):
                row["rejected"] = result.reason
            else:
                row.update(kind=result.kind.value, canonical=result.value)
                if suppressor is not None:
                    row["suppressed_by"] = suppressor.match(result.kind, result.value)
            rows.append(row)
    except FormatError as exc:
        raise Invalid("sample", str(exc)) from None
    return rows, truncated
