"""``krsn alerts``: the triage queue — list, show, acknowledge, assign, resolve."""

from __future__ import annotations

import uuid
from typing import Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from krsn.cli.output import JsonOption, console, fail, handled, print_json, print_table
from krsn.db import get_database
from krsn.detection.alerts import service
from krsn.detection.alerts.schemas import AlertRead, AlertSort, SuppressionRead
from krsn.detection.models import AlertPriority, AlertSeverity, AlertStatus, AlertSuppression
from krsn.identity.audit import Actor
from krsn.identity.models import User

app = typer.Typer(help="Alerts: the triage queue.", no_args_is_help=True)

CLI = Actor(user_id=None, via="cli")
COLUMNS = [
    "id",
    "severity",
    "status",
    "title",
    "occurrence_count",
    "last_seen_at",
    "assigned_username",
]


def _alert_id(given: str) -> uuid.UUID:
    try:
        return uuid.UUID(given)
    except ValueError:
        fail(f"{given!r} is not an alert id (a UUID, as 'krsn alerts list' shows).")


def _user_id(session: Session, given: str) -> uuid.UUID:
    """A user by username or id."""
    try:
        clause = User.id == uuid.UUID(given)
    except ValueError:
        clause = User.username == given
    found = session.scalar(select(User.id).where(clause))
    if found is None:
        fail(f"No user {given!r}; 'krsn users list' shows them.")
    return found


def _shaped(session: Session, alerts: list[Any]) -> list[AlertRead]:
    return [AlertRead.model_validate(row) for row in service.describe(session, alerts)]


@app.command("list")
def list_(
    status: list[AlertStatus] | None = typer.Option(
        None, "--status", help="open, investigating, resolved or false_positive (repeatable)."
    ),
    severity: list[AlertSeverity] | None = typer.Option(
        None, "--severity", help="critical, high, medium, low or info (repeatable)."
    ),
    priority: AlertPriority | None = typer.Option(None, "--priority"),
    assigned: str | None = typer.Option(
        None, "--assigned", help="Alerts assigned to this user (username or id)."
    ),
    unassigned: bool = typer.Option(False, "--unassigned", help="Only alerts nobody has."),
    q: str | None = typer.Option(None, "--q", help="Part of the title."),
    active: bool = typer.Option(
        False, "--active", help="Only open and investigating alerts (the queue)."
    ),
    sort: AlertSort = typer.Option(
        AlertSort.TRIGGERED_DESC, "--sort", help="e.g. --sort=-last_seen or --sort=occurrences."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """List alerts, newest first."""
    statuses = list(status or ())
    if active:
        statuses = [*statuses, *service.ACTIVE_STATUSES]
    with handled(), get_database().transaction(readonly=True) as session:
        filters = service.AlertFilters(
            status=statuses,
            severity=severity or (),
            priority=priority,
            assigned_user_id=_user_id(session, assigned) if assigned else None,
            unassigned=unassigned,
            q=q,
        )
        page = service.list_alerts(session, filters=filters, sort=sort.value, limit=limit)
        rows = _shaped(session, page.items)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS, title=f"Alerts ({page.total})")


def _describe(alert: AlertRead) -> None:
    lines = [
        f"[bold]{alert.title}[/]",
        f"id {alert.id} · {alert.severity.value} · {alert.status.value} · "
        f"priority {alert.priority.value} · {alert.occurrence_count} occurrence(s)",
        f"triggered {alert.triggered_at} · last seen {alert.last_seen_at}",
    ]
    if alert.indicator_value:
        lines.append(f"indicator {alert.indicator_value} ({alert.indicator_id})")
    lines.append(f"rule {alert.rule_name or '-'} · assigned {alert.assigned_username or '-'}")
    if alert.incident:
        lines.append(f"incident {alert.incident.incident_number}")
    if alert.description:
        lines.append(alert.description)
    if alert.resolution_notes:
        lines.append(f"notes: {alert.resolution_notes}")
    for line in lines:
        console.print(line, highlight=False)


def _show(alert_id: uuid.UUID, session: Session, as_json: bool) -> None:
    shaped = _shaped(session, [service.get_alert(session, alert_id)])[0]
    if as_json:
        print_json(shaped)
    else:
        _describe(shaped)


@app.command()
def show(
    alert_id: str = typer.Argument(..., help="The alert's id."),
    as_json: bool = JsonOption,
) -> None:
    """Show one alert: what fired, on what, where it was seen, who has it."""
    with handled(), get_database().transaction(readonly=True) as session:
        _show(_alert_id(alert_id), session, as_json)


@app.command()
def ack(
    alert_id: str = typer.Argument(..., help="The alert's id."),
    user: str | None = typer.Option(
        None, "--as", help="Acknowledge for this user (username or id), who gets it if nobody has."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Acknowledge an alert: it moves to investigating."""
    with handled(), get_database().transaction() as session:
        actor = Actor(user_id=_user_id(session, user), via="cli") if user else CLI
        alert = service.acknowledge(session, actor=actor, alert_id=_alert_id(alert_id))
        _show(alert.id, session, as_json)


@app.command()
def assign(
    alert_id: str = typer.Argument(..., help="The alert's id."),
    user: str | None = typer.Argument(None, help="Username or id; leave out to unassign."),
    as_json: bool = JsonOption,
) -> None:
    """Assign an alert to an analyst (or unassign it)."""
    with handled(), get_database().transaction() as session:
        target = _user_id(session, user) if user else None
        alert = service.update_alert(
            session,
            actor=CLI,
            alert_id=_alert_id(alert_id),
            changes={"assigned_user_id": target},
        )
        _show(alert.id, session, as_json)


@app.command()
def resolve(
    alert_id: str = typer.Argument(..., help="The alert's id."),
    notes: str | None = typer.Option(None, "--notes", help="The resolution notes."),
    false_positive: bool = typer.Option(
        False, "--false-positive", help="Close it as a false positive."
    ),
    mark_indicator: bool = typer.Option(
        False,
        "--mark-indicator",
        help="With --false-positive: mark the indicator's intelligence false positive too.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Close an alert as resolved, or as a false positive."""
    with handled(), get_database().transaction() as session:
        alert = service.resolve(
            session,
            actor=CLI,
            alert_id=_alert_id(alert_id),
            notes=notes,
            false_positive=false_positive,
            mark_indicator=mark_indicator,
        )
        _show(alert.id, session, as_json)


@app.command()
def reopen(
    alert_id: str = typer.Argument(..., help="The alert's id."),
    as_json: bool = JsonOption,
) -> None:
    """Reopen a closed alert."""
    with handled(), get_database().transaction() as session:
        alert = service.update_alert(
            session, actor=CLI, alert_id=_alert_id(alert_id), changes={"status": "open"}
        )
        _show(alert.id, session, as_json)


@app.command()
def suppressed(
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """What whitelist items suppressed, most recent first."""
    with handled(), get_database().transaction(readonly=True) as session:
        rows = [
            SuppressionRead.model_validate(row)
            for row in session.scalars(
                select(AlertSuppression)
                .order_by(AlertSuppression.last_seen_at.desc(), AlertSuppression.id)
                .limit(limit)
            )
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(
            rows, ["value", "title", "occurrence_count", "last_seen_at"], title="Suppressed"
        )
