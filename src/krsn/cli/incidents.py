"""``krsn incidents``: numbered cases with linked alerts and indicators, and a timeline."""

from __future__ import annotations

import uuid
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from krsn.cli.output import (
    JsonOption,
    console,
    fail,
    handled,
    print_json,
    print_page_json,
    print_table,
)
from krsn.db import get_database
from krsn.detection.incidents import service
from krsn.detection.incidents.schemas import IncidentDetail, IncidentSort, TimelineEntry
from krsn.detection.models import IncidentRelationship, IncidentStatus
from krsn.identity.audit import Actor
from krsn.identity.users import get_user_by_login
from krsn.indicators.models import Severity
from krsn.sharing.links import resolve_indicator

app = typer.Typer(
    help="Incidents: numbered cases with linked alerts and indicators, and their timeline.",
    no_args_is_help=True,
)

CLI = Actor(user_id=None, via="cli")

KeyArgument = typer.Argument(..., help="The incident's number (INC-2026-0001) or id.")
AnalystHelp = "The analyst's username, e-mail or user id."


def _uuid(option: str, text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        fail(f"{option}: {text!r} is not an id such as 3f2b9c1e-… (a UUID).")


def _analyst_id(session: Session, login: str) -> uuid.UUID:
    """The id of the user a username, e-mail or id names."""
    try:
        return uuid.UUID(login.strip())
    except ValueError:
        return get_user_by_login(session, login).id


def _detail(session: Session, key: str | uuid.UUID) -> IncidentDetail:
    return service.detail(session, service.get_incident(session, key))


def _who(entry: TimelineEntry) -> str:
    actor = entry.actor
    if actor.username:
        return actor.username
    return f"({actor.via or 'unknown'})"


def _describe(entry: TimelineEntry) -> str:
    """One line saying what a timeline entry records."""
    d: dict[str, Any] = entry.details

    def name(person: Any) -> str:
        return (person or {}).get("username") or (person or {}).get("user_id") or "no one"

    match entry.kind.value:
        case "created":
            return f"opened {d.get('incident_number')} ({d.get('severity')}): {d.get('title')}"
        case "promoted":
            return f"promoted from alert {d.get('alert_id')}: {d.get('alert_title')}"
        case "status":
            text = f"status {d.get('old')} → {d.get('new')}"
            summary = d.get("resolution_summary")
            return f"{text}: {summary}" if d.get("new") == "resolved" and summary else text
        case "severity":
            return f"severity {d.get('old')} → {d.get('new')}"
        case "assigned":
            return f"assigned {name(d.get('old'))} → {name(d.get('new'))}"
        case "updated":
            return "changed " + ", ".join(sorted(d.get("changes") or {}))
        case "alert_linked":
            return f"linked alert {d.get('alert_id')}: {d.get('title')}"
        case "alert_unlinked":
            return f"unlinked alert {d.get('alert_id')}: {d.get('title')}"
        case "indicator_linked":
            return f"linked indicator {d.get('value')} as {d.get('relationship_type')}"
        case "indicator_unlinked":
            return f"unlinked indicator {d.get('value')}"
        case "note":
            return str(d.get("text"))
    return str(d)


def _print_timeline(entries: list[TimelineEntry]) -> None:
    table = Table(title=f"Timeline ({len(entries)})")
    for column in ("at", "who", "kind", "what"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            entry.at.isoformat(timespec="seconds"),
            escape(_who(entry)),
            entry.kind.value,
            escape(_describe(entry)),
        )
    console.print(table)


def _print_incident(incident: IncidentDetail) -> None:
    console.print(f"[bold]{incident.incident_number}[/] {escape(incident.title)}")
    lines = [
        ("id", str(incident.id)),
        ("severity", incident.severity.value),
        ("status", incident.status.value),
        ("analyst", incident.assigned_analyst or "-"),
        ("assets", ", ".join(incident.affected_assets) or "-"),
        (
            "opened",
            incident.created_at.isoformat(timespec="seconds") if incident.created_at else "-",
        ),
        (
            "resolved",
            incident.resolved_at.isoformat(timespec="seconds") if incident.resolved_at else "-",
        ),
    ]
    if incident.description:
        lines.append(("description", incident.description))
    if incident.resolution_summary:
        lines.append(("resolution", incident.resolution_summary))
    for label, value in lines:
        console.print(f"  {label:<12} {value}", markup=False, highlight=False)


def _print_links(incident: IncidentDetail) -> None:
    if incident.alerts:
        print_table(
            incident.alerts,
            ["alert_id", "title", "severity", "status", "linked_at", "notes"],
            title=f"Alerts ({len(incident.alerts)})",
        )
    else:
        console.print("[dim]No linked alert.[/]")
    if incident.indicators:
        print_table(
            incident.indicators,
            ["indicator_value", "indicator_type", "relationship_type", "added_at", "notes"],
            title=f"Indicators ({len(incident.indicators)})",
        )
    else:
        console.print("[dim]No linked indicator.[/]")


def _said(number: str, what: str, result: Any = None, *, as_json: bool = False) -> None:
    """What a change did: ``result`` as JSON, or a line naming the incident by its number."""
    if as_json:
        print_json(result)
        return
    console.print(f"{number}: {what}", markup=False, highlight=False)


def _done(incident: IncidentDetail, what: str, as_json: bool) -> None:
    _said(incident.incident_number, what, incident, as_json=as_json)


def _number(session: Session, key: str) -> str:
    return service.get_incident(session, key).incident_number


@app.command("list")
def list_(
    status: IncidentStatus | None = typer.Option(None, "--status"),
    severity: Severity | None = typer.Option(None, "--severity"),
    analyst: str | None = typer.Option(None, "--analyst", help=AnalystHelp),
    q: str | None = typer.Option(None, "--q", help="Part of the title or number, any case."),
    sort: IncidentSort = typer.Option(
        IncidentSort.CREATED_DESC,
        "--sort",
        help="A field ascending, or descending with a leading '-' (write --sort=-severity).",
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    cursor: str | None = typer.Option(
        None, "--cursor", help="next_cursor of the previous page (with --json)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Incidents, newest first unless --sort says otherwise."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.list_incidents(
            session,
            status=status,
            severity=severity,
            assigned_analyst_id=_analyst_id(session, analyst) if analyst else None,
            q=q,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
        rows = service.reads(session, page.items)
    if as_json:
        print_page_json(rows, page)
        return
    table = Table(title=f"Incidents ({len(rows)} of {page.total})")
    table.add_column("number", no_wrap=True)
    table.add_column("title")
    for column in ("severity", "status", "analyst", "opened"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            row.incident_number,
            escape(row.title),
            row.severity.value,
            row.status.value,
            escape(row.assigned_analyst or "-"),
            row.created_at.date().isoformat() if row.created_at else "-",
        )
    console.print(table)
    if page.next_cursor:
        # Unwrapped, so the cursor can be copied whole.
        console.print(f"More: --cursor {page.next_cursor}", soft_wrap=True, markup=False)


@app.command()
def show(key: str = KeyArgument, as_json: bool = JsonOption) -> None:
    """An incident with its linked alerts and indicators and its timeline."""
    with handled(), get_database().transaction(readonly=True) as session:
        incident = _detail(session, key)
        entries = service.timeline_of(session, incident.id)
    if as_json:
        print_json({**incident.model_dump(mode="json"), "timeline": entries})
        return
    _print_incident(incident)
    _print_links(incident)
    _print_timeline(entries)


@app.command()
def timeline(key: str = KeyArgument, as_json: bool = JsonOption) -> None:
    """Every change, link and note of an incident, oldest first, with who and when."""
    with handled(), get_database().transaction(readonly=True) as session:
        entries = service.timeline_of(session, key)
    if as_json:
        print_json(entries)
        return
    _print_timeline(entries)


@app.command()
def create(
    title: str = typer.Option(..., "--title", help="What happened, in a line."),
    severity: Severity = typer.Option(Severity.MEDIUM, "--severity"),
    description: str | None = typer.Option(None, "--description"),
    analyst: str | None = typer.Option(None, "--analyst", help=AnalystHelp),
    asset: list[str] | None = typer.Option(
        None, "--asset", help="An affected host, address, account or service (repeat)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Open an incident; it takes the next number of the year."""
    with handled(), get_database().transaction() as session:
        created = service.create_incident(
            session,
            actor=CLI,
            title=title,
            description=description,
            severity=severity,
            assigned_analyst_id=_analyst_id(session, analyst) if analyst else None,
            affected_assets=asset or [],
        )
        incident = _detail(session, created.id)
    _done(incident, f"opened ({incident.severity.value}): {incident.title}", as_json)


@app.command()
def update(
    key: str = KeyArgument,
    title: str | None = typer.Option(None, "--title"),
    description: str | None = typer.Option(None, "--description"),
    severity: Severity | None = typer.Option(None, "--severity"),
    asset: list[str] | None = typer.Option(
        None, "--asset", help="The affected assets (repeat); they replace those listed."
    ),
    clear_assets: bool = typer.Option(False, "--clear-assets", help="List no affected asset."),
    summary: str | None = typer.Option(None, "--summary", help="The resolution summary."),
    as_json: bool = JsonOption,
) -> None:
    """Change an incident's title, description, severity, assets or resolution summary."""
    changes: dict[str, Any] = {}
    for field, value in (
        ("title", title),
        ("description", description),
        ("severity", severity),
        ("resolution_summary", summary),
    ):
        if value is not None:
            changes[field] = value
    if asset and clear_assets:
        fail("Give --asset or --clear-assets, not both.")
    if asset or clear_assets:
        changes["affected_assets"] = asset or []
    if not changes:
        fail("Nothing to change: give --title, --description, --severity, --asset or --summary.")
    with handled(), get_database().transaction() as session:
        changed = service.update_incident(session, actor=CLI, key=key, changes=changes)
        incident = _detail(session, changed.id)
    _done(incident, "updated", as_json)


@app.command()
def assign(
    key: str = KeyArgument,
    analyst: str | None = typer.Argument(None, help=AnalystHelp),
    unassign: bool = typer.Option(False, "--unassign", help="Assign it to no one."),
    as_json: bool = JsonOption,
) -> None:
    """Assign an incident to an analyst (or to no one with --unassign)."""
    if (analyst is None) == (not unassign):
        fail("Give an analyst, or --unassign.")
    with handled(), get_database().transaction() as session:
        analyst_id = _analyst_id(session, analyst) if analyst else None
        changed = service.assign(session, actor=CLI, key=key, analyst_id=analyst_id)
        incident = _detail(session, changed.id)
    _done(incident, f"assigned to {incident.assigned_analyst or 'no one'}", as_json)


@app.command()
def status(
    key: str = KeyArgument,
    new_status: IncidentStatus = typer.Argument(
        ..., metavar="STATUS", help="investigating, contained or resolved; investigating reopens."
    ),
    summary: str | None = typer.Option(
        None, "--summary", help="The resolution summary (needed to resolve, unless set)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Move an incident forward (steps may be skipped), or reopen a resolved one."""
    with handled(), get_database().transaction() as session:
        changed = service.set_status(
            session, actor=CLI, key=key, status=new_status, resolution_summary=summary
        )
        incident = _detail(session, changed.id)
    _done(incident, f"now {incident.status.value}", as_json)


@app.command()
def resolve(
    key: str = KeyArgument,
    summary: str = typer.Option(..., "--summary", help="What happened and what was done about it."),
    as_json: bool = JsonOption,
) -> None:
    """Resolve an incident with a summary."""
    with handled(), get_database().transaction() as session:
        changed = service.set_status(
            session,
            actor=CLI,
            key=key,
            status=IncidentStatus.RESOLVED,
            resolution_summary=summary,
        )
        incident = _detail(session, changed.id)
    _done(incident, "resolved", as_json)


@app.command()
def note(
    key: str = KeyArgument,
    text: str = typer.Argument(..., help="The note."),
    as_json: bool = JsonOption,
) -> None:
    """Add a note to an incident's timeline."""
    with handled(), get_database().transaction() as session:
        entry = service.add_note(session, actor=CLI, key=key, text=text)
        number = _number(session, key)
    _said(number, "note added", entry, as_json=as_json)


@app.command("link-alert")
def link_alert(
    key: str = KeyArgument,
    alert_id: str = typer.Argument(..., help="The alert's id."),
    notes: str | None = typer.Option(None, "--notes", help="Why it belongs here."),
    as_json: bool = JsonOption,
) -> None:
    """Link an alert to an incident."""
    alert = _uuid("ALERT_ID", alert_id)
    with handled(), get_database().transaction() as session:
        link = service.link_alert(session, actor=CLI, key=key, alert_id=alert, notes=notes)
        number = _number(session, key)
    _said(number, f"alert {link.alert_id} linked", link, as_json=as_json)


@app.command("unlink-alert")
def unlink_alert(
    key: str = KeyArgument, alert_id: str = typer.Argument(..., help="The alert's id.")
) -> None:
    """Remove an alert from an incident (the alert stays)."""
    alert = _uuid("ALERT_ID", alert_id)
    with handled(), get_database().transaction() as session:
        service.unlink_alert(session, actor=CLI, key=key, alert_id=alert)
        number = _number(session, key)
    _said(number, f"alert {alert} unlinked")


@app.command("link-indicator")
def link_indicator(
    key: str = KeyArgument,
    indicator: str = typer.Argument(..., help="The indicator's id or value (defanged or not)."),
    relationship: IncidentRelationship = typer.Option(
        IncidentRelationship.RELATED, "--relationship", help="How it relates to the incident."
    ),
    notes: str | None = typer.Option(None, "--notes"),
    as_json: bool = JsonOption,
) -> None:
    """Link an indicator to an incident as its root cause, a related one or a consequence."""
    with handled(), get_database().transaction() as session:
        link = service.link_indicator(
            session,
            actor=CLI,
            key=key,
            indicator_id=resolve_indicator(session, indicator),
            relationship_type=relationship,
            notes=notes,
        )
        number = _number(session, key)
    _said(
        number,
        f"indicator {link.indicator_value} linked as {relationship.value}",
        link,
        as_json=as_json,
    )


@app.command("unlink-indicator")
def unlink_indicator(
    key: str = KeyArgument,
    indicator: str = typer.Argument(..., help="The indicator's id or value (defanged or not)."),
) -> None:
    """Remove an indicator from an incident (the indicator stays)."""
    with handled(), get_database().transaction() as session:
        indicator_id = resolve_indicator(session, indicator)
        service.unlink_indicator(session, actor=CLI, key=key, indicator_id=indicator_id)
        number = _number(session, key)
    _said(number, f"indicator {indicator} unlinked")


@app.command()
def promote(
    alert_id: str = typer.Argument(..., help="The alert's id."),
    title: str | None = typer.Option(None, "--title", help="Instead of the alert's title."),
    severity: Severity | None = typer.Option(
        None, "--severity", help="Instead of the one matching the alert's."
    ),
    analyst: str | None = typer.Option(
        None, "--analyst", help=f"Instead of the alert's assignee. {AnalystHelp}"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Open an incident from an alert: the alert and its indicator linked, the alert moved
    to investigating."""
    alert = _uuid("ALERT_ID", alert_id)
    with handled(), get_database().transaction() as session:
        created = service.promote_alert(
            session,
            alert_id=alert,
            actor=CLI,
            title=title,
            severity=severity,
            assigned_analyst_id=_analyst_id(session, analyst) if analyst else None,
        )
        incident = _detail(session, created.id)
    _done(incident, f"opened from alert {alert}: {incident.title}", as_json)
