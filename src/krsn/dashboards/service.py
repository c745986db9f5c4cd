"""The dashboard summary: each figure is one SQL query, counted by the database (grouped
where it is broken down). The day-bucketed counts read only the window, by range on the
indexes of ``first_seen_at`` and of ``threat_intelligence.ingested_at``.

Days are UTC calendar days on both engines: PostgreSQL converts the timestamp to UTC before
taking its date (the session's time zone must not move a row to another day); SQLite stores
UTC already.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from krsn.db.types import utcnow
from krsn.detection.alerts.service import CLOSED_STATUSES
from krsn.detection.models import Alert, AlertSeverity, Incident, IncidentStatus
from krsn.feeds.models import ThreatFeed, ThreatIntelligence, ThreatSource
from krsn.indicators.models import ThreatIndicator
from krsn.osint.models import Entity
from krsn.sharing.models import ActorIndicator, ThreatActor

TOP_ACTORS = 10


class UtcDay(FunctionElement[date]):
    """The UTC calendar day of a timestamp column."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(UtcDay, "postgresql")
def _utc_day_postgresql(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    # A literal zone, not a parameter: GROUP BY must repeat the select's expression exactly.
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(UtcDay, "sqlite")
def _utc_day_sqlite(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


def window(days: int, *, now: datetime | None = None) -> tuple[date, datetime, datetime]:
    """The first day of a window of ``days`` UTC days ending today, and its bounds as times."""
    today = (now or utcnow()).astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=UTC)
    return first, start, datetime.combine(today + timedelta(days=1), time.min, tzinfo=UTC)


def indicators_per_day(session: Session, *, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Indicators first seen in ``[start, end)``, counted by UTC day and type."""
    day = UtcDay(ThreatIndicator.first_seen_at)
    rows = session.execute(
        select(day, ThreatIndicator.indicator_type, func.count())
        .where(ThreatIndicator.first_seen_at >= start, ThreatIndicator.first_seen_at < end)
        .group_by(day, ThreatIndicator.indicator_type)
        .order_by(day, ThreatIndicator.indicator_type)
    )
    return [{"day": d, "type": kind, "count": count} for d, kind, count in rows]


def indicators_per_source(
    session: Session, *, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Indicators each source reported for the first time in ``[start, end)``, by UTC day
    and source name: a source's record of an indicator is made once, when it first reports
    it (two feeds of one source count it once)."""
    day = UtcDay(ThreatIntelligence.ingested_at)
    rows = session.execute(
        select(day, ThreatSource.name, func.count(ThreatIntelligence.indicator_id.distinct()))
        .join(ThreatSource, ThreatSource.id == ThreatIntelligence.source_id)
        .where(ThreatIntelligence.ingested_at >= start, ThreatIntelligence.ingested_at < end)
        .group_by(day, ThreatSource.name)
        .order_by(day, ThreatSource.name)
    )
    return [{"day": d, "source": name, "count": count} for d, name, count in rows]


def _every(members: Iterable[Any], counts: Iterable[Any]) -> dict[Any, int]:
    found = {key: count for key, count in counts}
    return {member: int(found.get(member, 0)) for member in members}


def open_alerts_by_severity(session: Session) -> dict[AlertSeverity, int]:
    """Alerts neither resolved nor false positives, by severity; every severity present."""
    rows = session.execute(
        select(Alert.severity, func.count())
        .where(Alert.status.not_in(CLOSED_STATUSES))
        .group_by(Alert.severity)
    )
    return _every(AlertSeverity, rows)


def incidents_by_status(session: Session) -> dict[IncidentStatus, int]:
    """Incidents by status; every status present."""
    rows = session.execute(select(Incident.status, func.count()).group_by(Incident.status))
    return _every(IncidentStatus, rows)


def _started(run: dict[str, Any]) -> datetime | None:
    text = run.get("started_at")
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _stored(run: dict[str, Any]) -> int | None:
    if run.get("new") is None and run.get("updated") is None:
        return None
    return int(run.get("new") or 0) + int(run.get("updated") or 0)


def feed_health(session: Session) -> list[dict[str, Any]]:
    """Every feed by name, with its state, latest run and next scheduled run."""
    rows = session.execute(
        select(
            ThreatFeed.id,
            ThreatFeed.feed_name,
            ThreatFeed.is_active,
            ThreatFeed.next_scheduled_update,
            ThreatFeed.feed_statistics,
        ).order_by(func.lower(ThreatFeed.feed_name), ThreatFeed.id)
    )
    feeds = []
    for feed_id, name, active, next_run, stats in rows:
        runs = (stats or {}).get("runs") or []
        latest: dict[str, Any] = runs[0] if runs and isinstance(runs[0], dict) else {}
        feeds.append(
            {
                "id": feed_id,
                "name": name,
                "enabled": bool(active),
                "last_run": _started(latest),
                "last_status": latest.get("status"),
                "last_error": latest.get("error"),
                "last_indicators": _stored(latest),
                "next_run": next_run,
            }
        )
    return feeds


def top_actors(session: Session, *, limit: int = TOP_ACTORS) -> list[dict[str, Any]]:
    """The threat actors with the most linked indicators, most first, then by name."""
    links = func.count(ActorIndicator.indicator_id).label("links")
    rows = session.execute(
        select(ThreatActor.id, ThreatActor.actor_name, links)
        .join(ActorIndicator, ActorIndicator.actor_id == ThreatActor.id)
        .group_by(ThreatActor.id, ThreatActor.actor_name)
        .order_by(links.desc(), ThreatActor.actor_name)
        .limit(limit)
    )
    return [{"id": actor_id, "name": name, "indicators": count} for actor_id, name, count in rows]


def summary(session: Session, *, days: int, now: datetime | None = None) -> dict[str, Any]:
    """The dashboard's figures for a window of ``days`` UTC days ending today."""
    first, start, end = window(days, now=now)
    alerts = open_alerts_by_severity(session)
    incidents = incidents_by_status(session)
    feeds = feed_health(session)
    indicators, entities = session.execute(
        select(
            select(func.count()).select_from(ThreatIndicator).scalar_subquery(),
            select(func.count()).select_from(Entity).scalar_subquery(),
        )
    ).one()
    return {
        "days": days,
        "since": first,
        "indicators_per_day": indicators_per_day(session, start=start, end=end),
        "indicators_per_source": indicators_per_source(session, start=start, end=end),
        "alerts_open_by_severity": alerts,
        "incidents_by_status": incidents,
        "feeds": feeds,
        "top_actors": top_actors(session),
        "totals": {
            "indicators": indicators,
            "alerts_open": sum(alerts.values()),
            "incidents_open": sum(incidents.values()) - incidents[IncidentStatus.RESOLVED],
            "feeds": len(feeds),
            "entities": entities,
        },
    }
