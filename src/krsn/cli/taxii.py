"""``krsn taxii``: pull a remote TAXII 2.1 collection into the platform, and list the
collections our own TAXII server offers."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from krsn.cli.output import JsonOption, console, fail, handled, print_json
from krsn.config import get_settings
from krsn.db import get_database
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.sharing.stix.schemas import TypeCounts
from krsn.sharing.taxii import service
from krsn.sharing.taxii.schemas import CollectionRead

app = typer.Typer(help="TAXII 2.1: pull remote collections, list ours", no_args_is_help=True)

CLI = Actor(user_id=None, via="cli")


@app.command("pull")
def pull(
    url: str = typer.Argument(
        ..., help="The remote API root's URL, as in https://taxii.example.org/api1/."
    ),
    collection: str = typer.Option(..., "--collection", help="The remote collection's id."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="Send this key as 'Authorization: Bearer <key>'."
    ),
    user: str | None = typer.Option(None, "--user", help="HTTP Basic user name."),
    password: str | None = typer.Option(None, "--password", help="HTTP Basic password."),
    added_after: str | None = typer.Option(
        None,
        "--added-after",
        help="Only objects added after this time (e.g. the last pull's date_added_last).",
    ),
    page_size: int = typer.Option(
        1000, "--page-size", min=1, max=10_000, help="Objects asked for per page."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Page through a remote collection and import every object (STIX import rules)."""
    from krsn.sharing.taxii.pull import pull_collection

    if api_key is not None and (user is not None or password is not None):
        fail("Give --api-key or --user and --password, not both.")
    if (user is None) != (password is None):
        fail("Give --user and --password together.")
    basic = (user, password) if user is not None and password is not None else None
    with (
        handled(),
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]TAXII[/] {task.description}"),
            TextColumn("{task.completed:,} objects"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress,
    ):
        task = progress.add_task(f"pulling {escape(collection)}", total=None)
        summary = pull_collection(
            get_database(),
            settings=get_settings(),
            api_root=url,
            collection_id=collection,
            actor=CLI,
            api_key=api_key,
            basic=basic,
            added_after=added_after,
            page_size=page_size,
            on_page=lambda done: progress.update(task, completed=done),
        )
    if as_json:
        print_json(summary)
        return
    table = Table(
        title=f"{escape(summary.url)}: {summary.objects:,} objects in {summary.pages:,} pages"
    )
    table.add_column("type")
    for column in TypeCounts.COLUMNS:
        table.add_column(column, justify="right")
    for kind, counts in [*sorted(summary.types.items()), ("total", summary.total)]:
        table.add_row(escape(kind), *(f"{getattr(counts, c):,}" for c in TypeCounts.COLUMNS))
    console.print(table)
    values = summary.indicators
    console.print(
        f"indicator values: {values.new:,} new, {values.updated:,} known, "
        f"{values.rejected:,} rejected, {values.suppressed:,} on warninglists; "
        f"[dim]{summary.duration_s:.2f} s[/]",
        highlight=False,
    )
    if summary.date_added_last:
        console.print(
            f"next time: --added-after {summary.date_added_last}", markup=False, highlight=False
        )


@app.command("collections")
def collections(
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="Where clients reach this server (default http://KRSN_HOST:KRSN_PORT).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """The collections our TAXII server offers (as an admin sees them), with their URLs."""
    settings = get_settings()
    base = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    # An admin's view: every collection TAXII may serve (TLP:RED ones never are).
    caller = service.Caller(user_id=None, role=Role.ADMIN, can_write_intel=True)
    with handled(), get_database().transaction(readonly=True) as session:
        found = service.list_collections(session, caller=caller)
        rows = [_read(c, base) for c in found]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"TAXII 2.1 collections at {escape(base)}/taxii2/")
    for column in ("id", "title", "tlp", "url"):
        table.add_column(column)
    for row in rows:
        table.add_row(escape(row.id), escape(row.title), row.tlp or "", escape(row.url))
    console.print(table)


def _read(collection: service.Collection, base: str) -> CollectionRead:
    values: dict[str, Any] = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "can_read": collection.can_read,
        "can_write": collection.can_write,
        "tlp": collection.tlp,
        "url": f"{base}/taxii2/{service.API_ROOT}/collections/{collection.id}/",
    }
    return CollectionRead(**values)
