"""Feeds: add one from a template or by hand, list them, change and delete them.

A feed belongs to a provider (``threat_sources``); adding a feed from a template creates
its provider on first use with the template's reliability. ETag / Last-Modified of the
last download and the history of runs live in ``feed_statistics``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid, NotFound
from krsn.feeds.formats.registry import get_format
from krsn.feeds.models import FeedFormat, ThreatFeed, ThreatSource, ThreatSourceType
from krsn.feeds.sources import ensure_source
from krsn.feeds.templates import get_template
from krsn.identity import audit
from krsn.identity.audit import Actor

MAX_RUNS_KEPT = 50
DEFAULT_FREQUENCY = 1440


def _check_rules(format_name: str, rules: dict[str, Any]) -> dict[str, Any]:
    if format_name == FeedFormat.TAXII:
        return rules
    try:
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
    if not url.startswith(("http://", "https://")):
        raise Invalid("url", "must be an http:// or https:// address")
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
    session.add(feed)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="threat_feed.create",
        resource_type="threat_feed",
        resource_id=feed.id,
        new_values=audit.snapshot(feed),
    )
    return feed


def add_from_template(
    session: Session,
    *,
    actor: Actor,
    template: str,
    name: str | None = None,
    values: dict[str, str] | None = None,
) -> ThreatFeed:
    """A feed made from a built-in template, with its parameters filled in."""
    chosen = get_template(template)
    rendered = chosen.render(values or {})
    return create_feed(
        session,
        actor=actor,
        name=name or chosen.name,
        url=rendered.url,
        format_name=rendered.format,
        parsing_rules=rendered.parsing_rules,
        source_name=chosen.provider,
        reliability=float(chosen.source_reliability),
        default_confidence=float(rendered.default_confidence),
        update_frequency_minutes=rendered.update_frequency_minutes,
        template=chosen.name,
        source_type=chosen.source_type,
    )


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


def record_run(
    feed: ThreatFeed,
    run: dict[str, Any],
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    succeeded: bool,
    state: dict[str, Any] | None = None,
) -> None:
    """Append a run to the feed's statistics and schedule the next one.

    ``state`` (kept only when the run succeeded) is what the next run resumes from, such as
    the time up to which a MISP feed's events were read.
    """
    stats = dict(feed.feed_statistics or {})
    if succeeded and state:
        stats.update(state)
    runs = [run, *list(stats.get("runs") or [])][:MAX_RUNS_KEPT]
    stats["runs"] = runs
    if succeeded:
        if etag is not None or last_modified is not None:
            stats["etag"], stats["last_modified"] = etag, last_modified
        feed.last_successful_update = utcnow()
    feed.feed_statistics = stats
    feed.next_scheduled_update = utcnow() + timedelta(
        minutes=feed.update_frequency_minutes or DEFAULT_FREQUENCY
    )
