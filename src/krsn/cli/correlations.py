"""``krsn correlations``: Threat correlations: discover, list, verify and annotate."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from krsn.cli.output import (
    JsonOption,
    console,
    fail,
    handled,
    print_json,
    print_page_json,
    print_table,
    staged_progress,
)
from krsn.db import get_database
from krsn.db.types import utcnow
from krsn.detection.correlations import service
from krsn.detection.correlations.discovery import STAGES
from krsn.detection.correlations.schemas import CorrelationRead
from krsn.detection.models import CorrelationType
from krsn.identity.audit import Actor

app = typer.Typer(
    help="Threat correlations: discover, list, verify and annotate.", no_args_is_help=True
)

CLI = Actor(user_id=None, via="cli")

_AGO = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_of(given: str, *, now: datetime) -> datetime:
    """A moment from ``7d``, ``24h``, ``30m``, ``2w``, ``90s`` (that long before ``now``) or an
    ISO 8601 time (UTC unless it says)."""
    ago = _AGO.match(given)
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2).lower()]: int(ago.group(1))})
    try:
        moment = datetime.fromisoformat(given.strip())
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        fail(
            f"--since: {given!r} is neither a duration (7d, 24h, 30m) nor a time such as "
            "2024-05-01 or 2024-05-01T12:00:00Z."
        )


def _id(given: str) -> uuid.UUID:
    try:
        return uuid.UUID(given)
    except ValueError:
        fail(f"{given!r} is not a correlation id; 'krsn correlations list' shows them.")


@app.command()
def discover(
    since: str | None = typer.Option(
        None,
        "--since",
        help="Only what changed since then: a duration (7d, 24h, 30m) or an ISO 8601 time. "
        "Without it, everything is read.",
    ),
    indicator: list[str] | None = typer.Option(
        None, "--indicator", "-i", help="Only these indicators' correlations (id; repeat)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Find ip_domain, hash_ip, temporal and behavioral correlations and store them; known
    pairs get their score and evidence refreshed, never their verdict or notes."""
    now = utcnow()
    moment = since_of(since, now=now) if since is not None else None
    ids = [_indicator_id(i) for i in indicator] if indicator else None
    with (
        handled(),
        staged_progress("Correlations", STAGES, first=STAGES[0], quiet=as_json) as advance,
        get_database().transaction() as session,
    ):
        report = service.discover(
            session, actor=CLI, since=moment, indicator_ids=ids, now=now, on_stage=advance
        )
    result = service.report_read(report)
    if as_json:
        print_json(result)
        return
    table = Table(title=f"Correlations discovered ({result.scope})")
    for column in ("type", "found", "created", "updated", "unchanged"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for kind in CorrelationType:
        table.add_row(
            kind.value,
            *(
                f"{getattr(result, column)[kind.value]:,}"
                for column in ("found", "created", "updated", "unchanged")
            ),
        )
    console.print(table)
    if result.skipped_total:
        console.print(
            f"{result.skipped_total:,} group(s) too large to be evidence, skipped; the first:",
            highlight=False,
        )
        for group in result.skipped[:10]:
            console.print(
                f"  {group.correlation_type} {group.kind} {escape(group.key)} "
                f"({group.size:,} indicators)",
                highlight=False,
            )
    console.print(f"[dim]{result.duration_s:.2f} s[/]")


def _indicator_id(given: str) -> uuid.UUID:
    try:
        return uuid.UUID(given)
    except ValueError:
        fail(f"--indicator: {given!r} is not an indicator id.")


class _Line(BaseModel):
    """One correlation as a row of the list's table."""

    id: str
    type: str
    primary: str
    related: str
    score: float | None
    verified: bool
    discovered_at: datetime | None


def _line(row: CorrelationRead) -> _Line:
    return _Line(
        id=str(row.id),
        type=row.correlation_type.value,
        primary=f"{row.primary_indicator.value} ({row.primary_indicator.type.value})",
        related=f"{row.related_indicator.value} ({row.related_indicator.type.value})",
        score=row.correlation_score,
        verified=row.is_verified,
        discovered_at=row.discovered_at,
    )


@app.command("list")
def list_(
    correlation_type: CorrelationType | None = typer.Option(
        None, "--type", help="ip_domain, hash_ip, temporal or behavioral."
    ),
    indicator: str | None = typer.Option(
        None, "--indicator", help="An indicator's id or value, on either side of the pair."
    ),
    verified: bool | None = typer.Option(
        None, "--verified/--unverified", help="Only those an analyst verified, or not."
    ),
    min_score: float | None = typer.Option(
        None, "--min-score", min=0, max=100, help="Only those scoring at least this."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    cursor: str | None = typer.Option(None, "--cursor", help="next_cursor of the last page."),
    as_json: bool = JsonOption,
) -> None:
    """Correlations, newest first."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.list_correlations(
            session,
            correlation_type=correlation_type,
            indicator=indicator,
            verified=verified,
            min_score=min_score,
            limit=limit,
            cursor=cursor,
        )
        rows = service.read(session, page.items)
    if as_json:
        print_page_json(rows, page)
        return
    print_table(
        [_line(row) for row in rows],
        list(_Line.model_fields),
        title=f"Correlations ({page.total:,})",
    )
    if page.next_cursor:
        console.print(f"[dim]more: --cursor {page.next_cursor}[/]", highlight=False)


def _print(row: CorrelationRead) -> None:
    console.print(
        f"[bold]{row.correlation_type.value}[/] {row.id}: "
        f"{escape(row.primary_indicator.value)} ({row.primary_indicator.type.value}) - "
        f"{escape(row.related_indicator.value)} ({row.related_indicator.type.value})",
        highlight=False,
    )
    found = row.discovered_at.isoformat(timespec="seconds") if row.discovered_at else "-"
    verdict = "verified" if row.is_verified else "not verified"
    console.print(f"score {row.correlation_score}, {verdict}, discovered {found}", highlight=False)
    if row.analyst_notes:
        console.print(f"notes: {escape(row.analyst_notes)}", highlight=False)
    for item in (row.correlation_data or {}).get("evidence", []):
        facts = ", ".join(
            f"{key}={value}"
            for key, value in item.items()
            if key not in ("kind", "strength", "records", "source_id")
        )
        console.print(
            f"  {item.get('kind')} (strength {item.get('strength')}): {escape(facts)}",
            highlight=False,
        )


@app.command()
def show(
    correlation_id: str = typer.Argument(..., help="The correlation's id."),
    as_json: bool = JsonOption,
) -> None:
    """One correlation: both indicators, the score, the evidence, the analyst's verdict."""
    with handled(), get_database().transaction(readonly=True) as session:
        row = service.read(session, [service.get_correlation(session, _id(correlation_id))])[0]
    if as_json:
        print_json(row)
        return
    _print(row)


def _change(correlation_id: str, changes: dict[str, object], as_json: bool) -> None:
    with handled(), get_database().transaction() as session:
        updated = service.update_correlation(
            session, actor=CLI, correlation_id=_id(correlation_id), changes=changes
        )
        row = service.read(session, [updated])[0]
    if as_json:
        print_json(row)
        return
    _print(row)


@app.command()
def verify(
    correlation_id: str = typer.Argument(..., help="The correlation's id."),
    notes: str | None = typer.Option(None, "--notes", help="Notes to keep with the verdict."),
    as_json: bool = JsonOption,
) -> None:
    """Mark a correlation verified (and set its notes)."""
    changes: dict[str, object] = {"is_verified": True}
    if notes is not None:
        changes["analyst_notes"] = notes
    _change(correlation_id, changes, as_json)


@app.command()
def unverify(
    correlation_id: str = typer.Argument(..., help="The correlation's id."),
    as_json: bool = JsonOption,
) -> None:
    """Take back the verdict: the correlation is no longer verified."""
    _change(correlation_id, {"is_verified": False}, as_json)


@app.command()
def annotate(
    correlation_id: str = typer.Argument(..., help="The correlation's id."),
    notes: str = typer.Argument(..., help="The notes (replace the current ones; '' clears)."),
    as_json: bool = JsonOption,
) -> None:
    """Set a correlation's analyst notes."""
    _change(correlation_id, {"analyst_notes": notes}, as_json)
