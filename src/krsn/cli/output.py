"""How commands talk: Rich tables for people, ``--json`` for scripts, clear failures."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from krsn.db.pagination import PageResult
from krsn.errors import KrsnError

console = Console()
errors = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit non-zero."""
    # Messages quote what the user typed; escape it so '[' is text, not Rich markup.
    errors.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def handled() -> Iterator[None]:
    """Turn the platform's errors and database failures into a message and exit code 1."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except KrsnError as exc:
        fail(exc.detail)
    except OperationalError as exc:
        fail(
            f"The database is not reachable or not migrated ({exc.orig}); "
            "check KRSN_DATABASE_URL and run 'krsn db upgrade'."
        )


def to_plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    """Machine-readable output on stdout."""
    typer.echo(json.dumps(to_plain(value), indent=2, default=str))


def print_page_json(rows: Sequence[Any], page: PageResult[Any]) -> None:
    """A page on stdout in the API's envelope: ``rows`` (the page's items as shown) with the
    page's total, limit and next cursor."""
    print_json(
        {"items": rows, "total": page.total, "limit": page.limit, "next_cursor": page.next_cursor}
    )


def print_table(
    rows: Sequence[BaseModel],
    columns: Sequence[str],
    *,
    title: str | None = None,
    formatters: dict[str, Callable[[Any], str]] | None = None,
) -> None:
    """A table of the given columns of each row."""
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        data = row.model_dump()
        table.add_row(*[escape((formatters or {}).get(c, _cell)(data.get(c))) for c in columns])
    console.print(table)
    if not rows:
        console.print("[dim]Nothing to show.[/]")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "value"):
        return str(value.value)
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="seconds")
    return str(value)


@contextmanager
def staged_progress(
    title: str, stages: Sequence[str], *, first: str, quiet: bool = False
) -> Iterator[Callable[[str], None]]:
    """A progress bar over an import's named stages; call what it yields with each stage as
    it ends (the bar then names the next one). ``quiet`` (for ``--json``) hides it."""
    with Progress(
        TextColumn(f"[bold]{escape(title)}[/] {{task.description}}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    ) as progress:
        task = progress.add_task(first, total=len(stages))

        def advance(stage: str) -> None:
            following = stages.index(stage) + 1
            label = stages[following] if following < len(stages) else "done"
            progress.update(task, completed=following, description=label)

        yield advance
