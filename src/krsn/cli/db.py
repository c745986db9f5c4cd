"""``krsn db``: bring the database schema up to date, inspect it, or roll it back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from alembic.util import CommandError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from krsn.config import get_settings
from krsn.db import migrate

app = typer.Typer(
    help="Create, upgrade and inspect the database schema (migrations).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


def _database_url() -> str:
    return get_settings().database_url


def _shown(url: str) -> str:
    """The URL with its password replaced, safe to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _reason(exc: Exception) -> str:
    # The driver's own message is the useful part; SQLAlchemy's wrapper adds the SQL and a
    # documentation link.
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


@contextmanager
def _failures(url: str, doing: str) -> Iterator[None]:
    """Turn database and migration errors into one clear line and exit status 1."""
    try:
        yield
    except (SQLAlchemyError, CommandError, OSError) as exc:
        errors.print(
            f"[red]Could not {doing} the database at [bold]{escape(_shown(url))}[/bold]:[/red] "
            f"{escape(_reason(exc))}"
        )
        raise typer.Exit(1) from exc


@app.command()
def upgrade(
    revision: Annotated[
        str, typer.Argument(help="Revision to reach; 'head' is the latest.")
    ] = "head",
) -> None:
    """Apply the migrations the database has not had yet (all of them by default)."""
    url = _database_url()
    with _failures(url, "upgrade"):
        before = migrate.current(url)
        migrate.upgrade(url, revision)
        after = migrate.current(url)
    if before == after:
        console.print(f"[green]Already at[/green] {after or 'base'}; nothing to do.")
    else:
        console.print(f"[green]Upgraded[/green] {before or 'base'} → [bold]{after}[/bold]")


# Lets "-1" through as the revision instead of being read as an unknown option.
@app.command(context_settings={"ignore_unknown_options": True})
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Revision to go back to: an id, '-1' for one step, or 'base'.")
    ],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Confirm a downgrade that drops every table.")
    ] = False,
) -> None:
    """Revert migrations down to REVISION; data in the reverted tables and columns is lost."""
    url = _database_url()
    with _failures(url, "downgrade"):
        before = migrate.current(url)
        if _reaches_base(before, revision) and not yes:
            errors.print(
                f"[red]Refusing to downgrade to base:[/red] it drops every table and its data "
                f"in {escape(_shown(url))}. Pass --yes to do it anyway."
            )
            raise typer.Exit(1)
        migrate.downgrade(url, revision)
        after = migrate.current(url)
    console.print(
        f"[yellow]Downgraded[/yellow] {before or 'base'} → [bold]{after or 'base'}[/bold]"
    )


def _reaches_base(current: str | None, revision: str) -> bool:
    """Whether downgrading from ``current`` to ``revision`` leaves no revision applied."""
    if revision == "base":
        return True
    steps = revision.removeprefix("-")
    if revision.startswith("-") and steps.isdigit() and current is not None:
        return int(steps) >= len(migrate.applied_revisions(current))
    return False


@app.command()
def current(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the database's revision, the latest shipped revision, and whether they match."""
    url = _database_url()
    with _failures(url, "read"):
        at = migrate.current(url)
        latest = migrate.head()
    status = {
        "database": _shown(url),
        "current": at,
        "head": latest,
        "at_head": at == latest,
    }
    if as_json:
        typer.echo(json.dumps(status))
        return
    table = Table(show_header=False, box=None)
    table.add_row("Database", escape(_shown(url)))
    table.add_row("Current", at or "[dim]none (empty database)[/dim]")
    table.add_row("Head", latest)
    table.add_row(
        "Status",
        "[green]up to date[/green]" if at == latest else "[yellow]run `krsn db upgrade`[/yellow]",
    )
    console.print(table)


@app.command()
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the revision changes.")],
    autogenerate: Annotated[
        bool,
        typer.Option(
            "--autogenerate/--empty",
            help="Fill it with the differences between the models and the schema at head.",
        ),
    ] = True,
    database: Annotated[
        str | None,
        typer.Option(
            help="Compare against this database (at head) instead of a temporary SQLite one; "
            "needed to see PostgreSQL-only indexes.",
        ),
    ] = None,
) -> None:
    """For developers: write the next numbered migration into the package's versions folder."""
    try:
        path = migrate.revision(message, autogenerate=autogenerate, url=database)
    except (SQLAlchemyError, CommandError) as exc:
        errors.print(f"[red]No revision written:[/red] {escape(_reason(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"[green]Wrote[/green] {escape(str(path))}; review it before committing.")
