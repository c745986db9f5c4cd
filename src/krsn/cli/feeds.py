"""``krsn feeds``: the template gallery, adding feeds (with their provider's credential),
listing them, running them, and one pass of the scheduler."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from krsn.cli.ingest import _params, _suppressor
from krsn.cli.output import JsonOption, console, fail, handled, print_json
from krsn.config import get_settings
from krsn.db import get_database
from krsn.feeds import service
from krsn.feeds.models import ThreatSource
from krsn.feeds.runner import run_due, run_due_feeds, run_feed
from krsn.feeds.sources import credential_summary
from krsn.feeds.templates import build_credential, get_template, list_templates
from krsn.identity.audit import Actor

app = typer.Typer(
    help="Threat feeds: templates, add, list, show, run, schedule.", no_args_is_help=True
)

CLI = Actor(user_id=None, via="cli")


def _feed_dict(feed: Any, source: Any | None = None) -> dict[str, Any]:
    stats = feed.feed_statistics or {}
    runs = stats.get("runs") or []
    return {
        "id": str(feed.id),
        "name": feed.feed_name,
        "url": feed.feed_url,
        "format": feed.format.value if feed.format else None,
        "source": source.name if source is not None else None,
        "template": stats.get("template"),
        "is_active": feed.is_active,
        "update_frequency_minutes": feed.update_frequency_minutes,
        "last_successful_update": feed.last_successful_update,
        "next_scheduled_update": feed.next_scheduled_update,
        "last_run": runs[0] if runs else None,
        "credential": credential_summary(source.authentication_config)
        if source is not None
        else None,
    }


def _credential_text(credential: dict[str, Any] | None) -> str:
    if not credential:
        return "none"
    named = credential.get("name") or credential.get("username")
    return credential["type"] + (f" ({named})" if named else "")


@app.command()
def templates(as_json: bool = JsonOption) -> None:
    """The built-in feed templates."""
    from rich.table import Table

    rows = list_templates()
    if as_json:
        print_json([t.model_dump(mode="json") for t in rows])
        return
    table = Table(title=f"Feed templates ({len(rows)})")
    for column in (
        "name",
        "provider",
        "format",
        "every (min)",
        "confidence",
        "parameters",
        "credential",
    ):
        table.add_column(column)
    for t in rows:
        credential = "-"
        if t.credential is not None:
            credential = " or ".join(t.credential.types)
            if t.credential.name:
                credential = f"{t.credential.name} {credential}"
        table.add_row(
            t.name,
            t.provider,
            t.format,
            str(t.update_frequency_minutes),
            str(t.default_confidence),
            ", ".join(p.name for p in t.parameters) or "-",
            credential,
        )
    console.print(table)


@app.command()
def add(
    template: str = typer.Option(
        ..., "--template", "-t", help="A name from 'krsn feeds templates'."
    ),
    name: str | None = typer.Option(
        None, "--name", "-n", help="Feed name (default: the template's)."
    ),
    param: list[str] | None = typer.Option(
        None, "--param", "-p", help="A template parameter as NAME=VALUE."
    ),
    auth_key: str | None = typer.Option(
        None,
        "--auth-key",
        help="The provider's key, token or password, stored encrypted on its source "
        "('-' reads it from standard input, out of the shell history).",
    ),
    username: str | None = typer.Option(
        None, "--username", help="User name of a basic credential (--auth-key is the password)."
    ),
    auth_type: str | None = typer.Option(
        None,
        "--auth-type",
        help="header, bearer, basic or query (default: the template's usual one).",
    ),
    auth_name: str | None = typer.Option(
        None, "--auth-name", help="The header or query parameter the key goes in."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Add a feed from a template; its first run is due at once."""
    if auth_key is None and (username or auth_type or auth_name):
        fail("--username, --auth-type and --auth-name go with --auth-key")
    if auth_key == "-":
        auth_key = sys.stdin.readline().strip()
        if not auth_key:
            fail("--auth-key -: standard input held no key")
    with handled(), get_database().transaction() as session:
        credential = None
        if auth_key is not None:
            credential = build_credential(
                get_template(template),
                secret=auth_key,
                username=username,
                kind=auth_type,
                name=auth_name,
            )
        feed = service.add_from_template(
            session,
            actor=CLI,
            template=template,
            name=name,
            values=_params(param),
            credential=credential,
        )
        shown = _feed_dict(feed, session.get(ThreatSource, feed.source_id))
        wanted = get_template(template).credential
    if as_json:
        print_json(shown)
        return
    console.print(
        f"Added feed [bold]{shown['name']}[/] ({shown['format']}, every "
        f"{shown['update_frequency_minutes']} min), source {shown['source']}, credential "
        f"{_credential_text(shown['credential'])}. Run it: krsn feeds run {shown['name']}",
        highlight=False,
    )
    if wanted is not None and shown["credential"] is None:
        console.print(
            f"[dim]Its provider takes a credential: {wanted.description}. Give it with "
            "--auth-key when adding a feed of this provider.[/]",
            highlight=False,
        )


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """Every feed with its last run."""
    from rich.table import Table

    with handled(), get_database().transaction(readonly=True) as session:
        rows = [_feed_dict(feed, source) for feed, source in service.list_feeds(session)]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Feeds ({len(rows)})")
    for column in ("name", "source", "credential", "format", "active", "last run", "new", "next"):
        table.add_column(column)
    for row in rows:
        last = row["last_run"] or {}
        table.add_row(
            row["name"],
            row["source"] or "-",
            _credential_text(row["credential"]),
            row["format"] or "-",
            "yes" if row["is_active"] else "no",
            last.get("status", "never"),
            str(last.get("new", "-")),
            row["next_scheduled_update"].isoformat(timespec="minutes")
            if row["next_scheduled_update"]
            else "-",
        )
    console.print(table)
    if not rows:
        console.print("[dim]No feeds yet: krsn feeds templates, then krsn feeds add.[/]")


@app.command()
def show(
    name: str = typer.Argument(..., help="Feed name or id."), as_json: bool = JsonOption
) -> None:
    """One feed with its rules and run history."""
    with handled(), get_database().transaction(readonly=True) as session:
        feed = service.get_feed(session, name)
        shown = _feed_dict(feed, session.get(ThreatSource, feed.source_id))
        shown["parsing_rules"] = feed.parsing_rules
        shown["runs"] = (feed.feed_statistics or {}).get("runs") or []
    if as_json:
        print_json(shown)
        return
    shown["credential"] = _credential_text(shown["credential"])
    for key in (
        "name",
        "url",
        "source",
        "credential",
        "format",
        "template",
        "update_frequency_minutes",
        "last_successful_update",
        "next_scheduled_update",
    ):
        console.print(f"[bold]{key}[/]: {shown[key]}", highlight=False, markup=True)
    for run in shown["runs"][:10]:
        console.print(
            f"  {run.get('started_at', '?')}  {run.get('status')}  new "
            f"{run.get('new', 0)} updated {run.get('updated', 0)} rejected "
            f"{run.get('rejected', 0)} {run.get('error', '')}",
            markup=False,
        )


@app.command()
def run(
    name: str | None = typer.Argument(None, help="Feed name or id; none runs every due feed."),
    as_json: bool = JsonOption,
) -> None:
    """Run a feed now (or every due feed): download, parse, ingest."""
    settings = get_settings()
    database = get_database()
    with handled():
        if name is None:
            results = run_due_feeds(
                database, settings=settings, actor=CLI, suppressor=_suppressor()
            )
        else:
            with Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}[/] {task.fields[rows]} rows"),
                TimeElapsedColumn(),
                console=console,
                disable=as_json,
            ) as progress:
                task = progress.add_task(name, rows=0)
                results = [
                    run_feed(
                        database,
                        feed=name,
                        settings=settings,
                        actor=CLI,
                        suppressor=_suppressor(),
                        on_progress=lambda rows: progress.update(task, rows=f"{rows:,}"),
                    )
                ]
    if as_json:
        print_json(results if name is None else results[0])
    else:
        for result in results:
            console.print(
                f"{result.get('status')}: new {result.get('new', 0)}, updated "
                f"{result.get('updated', 0)}, unchanged {result.get('unchanged', 0)}, "
                f"rejected {result.get('rejected', 0)}, suppressed "
                f"{result.get('suppressed', 0)} {result.get('error', '')}",
                markup=False,
            )
        if not results:
            console.print("No feed is due.")
    if any(r.get("status") == "failed" for r in results):
        fail("a feed run failed; see its error above")


@app.command()
def schedule(as_json: bool = JsonOption) -> None:
    """Run what is due once, as the scheduler of 'krsn serve' does, and summarise it.

    Each due feed is claimed first, so this is safe beside running servers (from cron, say);
    a failing feed is recorded and the next one runs. Exits 1 when a run failed.
    """
    with handled():
        done = run_due(
            get_database(),
            settings=get_settings(),
            actor=Actor.system(),
            suppressor=_suppressor(),
        )
    summary = done.as_dict()
    if as_json:
        print_json(summary)
    else:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"Due {done.due}, ran {len(done.runs)}, failed {done.failed}")
        for column in ("feed", "status", "new", "updated", "rejected", "s", "error"):
            table.add_column(column)
        for run in done.runs:
            table.add_row(
                str(run.get("feed")),
                str(run.get("status")),
                str(run.get("new", "-")),
                str(run.get("updated", "-")),
                str(run.get("rejected", "-")),
                str(run.get("duration_s", "-")),
                escape(str(run.get("error", ""))),
            )
        console.print(table)
        for name in done.skipped:
            console.print(f"{name}: skipped, another scheduler is running it", markup=False)
        if not done.due:
            console.print("No feed is due.")
    if done.failed:
        fail(f"{done.failed} feed run(s) failed; see the errors above")
