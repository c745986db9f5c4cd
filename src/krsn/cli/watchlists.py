"""``krsn watchlists``: Watchlists: blacklists and whitelists of values, with items that expire."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

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
from krsn.db.types import utcnow
from krsn.detection.models import WatchlistType
from krsn.detection.watchlists import service
from krsn.detection.watchlists.schemas import (
    ItemsChange,
    ItemSort,
    ItemsRemoved,
    PurgeResult,
    WatchlistCheck,
    WatchlistRead,
    WatchlistSort,
)
from krsn.identity.audit import Actor

app = typer.Typer(
    help="Watchlists: blacklists and whitelists of values, with items that expire.",
    no_args_is_help=True,
)

CLI = Actor(user_id=None, via="cli")

LIST_COLUMNS = ["name", "list_type", "is_active", "item_count", "id"]
ITEM_COLUMNS = ["item_value", "item_type", "expires_at", "expired", "notes", "added_at"]
_DURATION = re.compile(r"\s*([0-9]+)\s*([mhdw])\s*", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

ListKey = typer.Argument(..., help="The watchlist's name (any case) or id.")
ExpiresOption = typer.Option(
    None, "--expires", help="When the items stop matching: an ISO 8601 time (UTC unless it says)."
)
ExpiresInOption = typer.Option(
    None, "--expires-in", help="Or how long from now: 90m, 12h, 30d, 2w."
)
NotesOption = typer.Option(None, "--notes", help="Notes kept on each item.")


class FileFormat(enum.StrEnum):
    TEXT = "text"
    CSV = "csv"


def _expiry(expires: str | None, expires_in: str | None) -> datetime | None:
    """The expiry given as a time or as a duration from now; none when neither is."""
    if expires is not None and expires_in is not None:
        fail("give --expires or --expires-in, not both")
    if expires is not None:
        try:
            moment = datetime.fromisoformat(expires)
        except ValueError:
            fail(f"--expires: {expires!r} is not a time such as 2025-12-31 or 2025-12-31T18:00Z.")
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        if moment <= utcnow():
            fail(f"--expires: {expires} is in the past; give a later time.")
        return moment
    if expires_in is not None:
        match = _DURATION.fullmatch(expires_in)
        if match is None or int(match.group(1)) == 0:
            fail(f"--expires-in: {expires_in!r} is not a duration such as 90m, 12h, 30d or 2w.")
        unit = _UNITS[match.group(2).lower()]
        try:
            return utcnow() + timedelta(**{unit: int(match.group(1))})
        except OverflowError:
            fail(f"--expires-in: {expires_in} is too far away.")
    return None


def _show_list(row: WatchlistRead) -> None:
    console.print(f"[bold]{escape(row.name)}[/] ({row.list_type.value})")
    for label, value in (
        ("id", row.id),
        ("active", "yes" if row.is_active else "no"),
        ("items", row.item_count),
        ("description", row.description or "-"),
        ("created", row.created_at.isoformat(timespec="seconds") if row.created_at else "-"),
        ("updated", row.updated_at.isoformat(timespec="seconds") if row.updated_at else "-"),
    ):
        console.print(f"  {label}: {value}", markup=False, highlight=False)


def _said_change(change: ItemsChange | ItemsRemoved, name: str, *, as_json: bool) -> None:
    """A change to a list's items: as JSON, or what it did with the first rejections."""
    if as_json:
        print_json(change)
        return
    _show_change(change, name)


def _show_change(change: ItemsChange | ItemsRemoved, name: str) -> None:
    if isinstance(change, ItemsChange):
        console.print(
            f"{escape(name)}: {change.added:,} added, {change.updated:,} updated, "
            f"{change.unchanged:,} unchanged, {change.rejected:,} rejected; "
            f"{change.item_count:,} items now"
        )
    else:
        console.print(
            f"{escape(name)}: {change.removed:,} removed, {len(change.not_found):,} not on the "
            f"list, {len(change.rejections):,} unreadable; {change.item_count:,} items now"
        )
        for value in change.not_found[:10]:
            console.print(f"  not on the list: {value}", markup=False)
    for rejection in change.rejections[:10]:
        where = f"line {rejection.line}: " if rejection.line else ""
        console.print(f"  {where}{rejection.value!r}: {rejection.reason}", markup=False)
    shown = len(change.rejections[:10])
    total = change.rejected if isinstance(change, ItemsChange) else len(change.rejections)
    if total > shown:
        console.print(f"  … and {total - shown:,} more (--json lists them)", markup=False)


@app.command("list")
def list_(
    list_type: WatchlistType | None = typer.Option(
        None, "--type", help="ip_blacklist, domain_blacklist, hash_whitelist or custom."
    ),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="Only active or inactive lists."
    ),
    q: str | None = typer.Option(None, "--name", help="Part of the name, any case."),
    sort: WatchlistSort = typer.Option(
        WatchlistSort.NAME, "--sort", help="A field, descending with a leading '-'."
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """The watchlists with their type, state and item count."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.page_watchlists(
            session, limit=limit, sort=sort.value, q=q, list_type=list_type, is_active=active
        )
        rows = [WatchlistRead.model_validate(row) for row in page.items]
    if as_json:
        print_json(rows)
        return
    print_table(rows, LIST_COLUMNS, title=f"Watchlists ({page.total})")


@app.command()
def show(key: str = ListKey, as_json: bool = JsonOption) -> None:
    """One watchlist."""
    with handled(), get_database().transaction(readonly=True) as session:
        row = WatchlistRead.model_validate(service.find_watchlist(session, key))
    if as_json:
        print_json(row)
        return
    _show_list(row)


@app.command()
def create(
    name: str = typer.Argument(..., help="Unique in any case."),
    list_type: WatchlistType = typer.Option(
        ..., "--type", help="ip_blacklist, domain_blacklist, hash_whitelist or custom."
    ),
    description: str | None = typer.Option(None, "--description"),
    active: bool = typer.Option(
        True, "--active/--inactive", help="An inactive list never matches."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create an empty watchlist."""
    values = {
        "name": name.strip(),
        "list_type": list_type,
        "description": description,
        "is_active": active,
    }
    with handled(), get_database().transaction() as session:
        row = WatchlistRead.model_validate(
            service.create_watchlist(session, actor=CLI, values=values)
        )
    if as_json:
        print_json(row)
        return
    console.print(f"Created {escape(row.name)} ({row.list_type.value}), id {row.id}")


@app.command()
def update(
    key: str = ListKey,
    name: str | None = typer.Option(None, "--name", help="A new name."),
    description: str | None = typer.Option(None, "--description"),
    list_type: WatchlistType | None = typer.Option(
        None, "--type", help="A new type; every item must fit it."
    ),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="Start or stop the list matching."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Change a watchlist's name, description, type or state."""
    changes: dict[str, Any] = {
        field: value
        for field, value in (
            ("name", name.strip() if name is not None else None),
            ("description", description),
            ("list_type", list_type),
            ("is_active", active),
        )
        if value is not None
    }
    if not changes:
        fail("nothing to change: give --name, --description, --type, --active or --inactive")
    with handled(), get_database().transaction() as session:
        found = service.find_watchlist(session, key)
        row = WatchlistRead.model_validate(
            service.update_watchlist(session, actor=CLI, watchlist_id=found.id, changes=changes)
        )
    if as_json:
        print_json(row)
        return
    _show_list(row)


@app.command()
def delete(
    key: str = ListKey,
    yes: bool = typer.Option(False, "--yes", "-y", help="Confirm deleting a list that has items."),
    as_json: bool = JsonOption,
) -> None:
    """Delete a watchlist and its items."""
    with handled(), get_database().transaction() as session:
        found = service.find_watchlist(session, key)
        if found.item_count and not yes:
            fail(
                f"{found.name} holds {found.item_count:,} items, deleted with it; "
                "pass --yes to delete it anyway."
            )
        name, list_id = found.name, found.id
        service.delete_watchlist(session, actor=CLI, watchlist_id=found.id)
    if as_json:
        print_json({"deleted": str(list_id), "name": name})
        return
    console.print(f"Deleted {escape(name)}")


@app.command()
def add(
    key: str = ListKey,
    values: list[str] = typer.Argument(..., help="Values to add, defanged or not."),
    notes: str | None = NotesOption,
    expires: str | None = ExpiresOption,
    expires_in: str | None = ExpiresInOption,
    as_json: bool = JsonOption,
) -> None:
    """Add values; one already on the list takes the expiry (and notes, if any) given."""
    expires_at = _expiry(expires, expires_in)
    with handled(), get_database().transaction() as session:
        found = service.find_watchlist(session, key)
        name = found.name
        change = service.add_items(
            session,
            actor=CLI,
            watchlist_id=found.id,
            items=values,
            notes=notes,
            expires_at=expires_at,
        )
    _said_change(change, name, as_json=as_json)


@app.command()
def remove(
    key: str = ListKey,
    values: list[str] = typer.Argument(..., help="Values to remove, defanged or not."),
    as_json: bool = JsonOption,
) -> None:
    """Remove values from a watchlist."""
    with handled(), get_database().transaction() as session:
        found = service.find_watchlist(session, key)
        name = found.name
        change = service.remove_values(session, actor=CLI, watchlist_id=found.id, values=values)
    _said_change(change, name, as_json=as_json)


def _lines(stream: IO[bytes]) -> Iterator[str]:
    # Bytes in, so the progress bar can ask the stream how far it is; a line that is not
    # UTF-8 keeps its readable part and is refused by the normaliser with the reason.
    for raw in stream:
        yield raw.decode("utf-8", errors="replace")


def _progress(label: str, *, quiet: bool) -> Progress:
    return Progress(
        TextColumn(f"[bold]Importing[/] {escape(label)}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%  {task.fields[values]} values"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )


@app.command("import")
def import_(
    key: str = ListKey,
    file: Path | None = typer.Argument(
        None,
        exists=True,
        dir_okay=False,
        readable=True,
        help="A text file (one value a line, # comments) or a CSV file with a header.",
    ),
    collection: str | None = typer.Option(
        None, "--collection", help="Instead of a file: an IOC collection's id or name."
    ),
    column: str | None = typer.Option(
        None, "--column", help="CSV: the header of the value column (default: the first)."
    ),
    file_format: FileFormat | None = typer.Option(
        None, "--format", help="text or csv (default: csv for a .csv file or with --column)."
    ),
    notes: str | None = NotesOption,
    expires: str | None = ExpiresOption,
    expires_in: str | None = ExpiresInOption,
    as_json: bool = JsonOption,
) -> None:
    """Add the values of a file, streamed in batches, or the indicators of an IOC collection.
    A bad line is reported with its number; the others go in."""
    if (file is None) == (collection is None):
        fail("give a FILE or --collection ID, not both and not neither")
    if collection is not None and (column is not None or file_format is not None):
        fail("--column and --format apply to a file, not to --collection")
    expires_at = _expiry(expires, expires_in)
    database = get_database()
    with handled(), database.transaction() as session:
        found = service.find_watchlist(session, key)
        name = found.name
        if file is not None:
            as_csv = (
                file_format is FileFormat.CSV
                if file_format is not None
                else column is not None or file.suffix.lower() == ".csv"
            )
            if column is not None and not as_csv:
                fail("--column needs a CSV file (--format csv)")
            size = file.stat().st_size
            with file.open("rb") as stream, _progress(file.name, quiet=as_json) as progress:
                task = progress.add_task(file.name, total=size or 1, values=0)

                def advance(done: int, _total: int | None) -> None:
                    progress.update(task, completed=stream.tell(), values=f"{done:,}")

                change = service.import_lines(
                    session,
                    actor=CLI,
                    watchlist_id=found.id,
                    lines=_lines(stream),
                    as_csv=as_csv,
                    column=column,
                    notes=notes,
                    expires_at=expires_at,
                    source=file.name,
                    on_progress=advance,
                )
                progress.update(task, completed=size or 1)
        else:
            assert collection is not None
            with _progress(f"collection {collection}", quiet=as_json) as progress:
                task = progress.add_task(collection, total=None, values=0)

                def counted(done: int, total: int | None) -> None:
                    progress.update(task, completed=done, total=total, values=f"{done:,}")

                change = service.import_collection(
                    session,
                    actor=CLI,
                    watchlist_id=found.id,
                    collection=collection,
                    see_all=True,
                    notes=notes,
                    expires_at=expires_at,
                    on_progress=counted,
                )
    _said_change(change, name, as_json=as_json)


@app.command()
def items(
    key: str = ListKey,
    prefix: str | None = typer.Argument(
        None, help="Only values starting with this, defanged or not: '10.0.', 'hxxp://evil'."
    ),
    active_only: bool = typer.Option(
        False, "--active-only", help="Leave out the items past their expiry."
    ),
    sort: ItemSort = typer.Option(ItemSort.VALUE, "--sort", help="value, -value, added, -added."),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    cursor: str | None = typer.Option(None, "--cursor", help="next_cursor of the previous page."),
    as_json: bool = JsonOption,
) -> None:
    """A watchlist's items, a page at a time."""
    now = utcnow()
    with handled(), get_database().transaction(readonly=True) as session:
        found = service.find_watchlist(session, key)
        name = found.name
        page = service.page_items(
            session,
            watchlist_id=found.id,
            limit=limit,
            cursor=cursor,
            sort=sort.value,
            q=prefix,
            include_expired=not active_only,
            now=now,
        )
        rows = [service.item_read(item, now=now) for item in page.items]
    if as_json:
        print_page_json(rows, page)
        return
    print_table(rows, ITEM_COLUMNS, title=f"{name} ({page.total} items)")
    if page.next_cursor:
        console.print(f"[dim]More: --cursor {escape(page.next_cursor)}[/]")


@app.command()
def check(
    value: str = typer.Argument(..., help="An IP, range, domain, URL, hash or e-mail address."),
    as_json: bool = JsonOption,
) -> None:
    """Which active watchlists hold or cover a value, and with which item."""
    with handled(), get_database().transaction(readonly=True) as session:
        result: WatchlistCheck = service.check_value(session, value=value, now=utcnow())
    if as_json:
        print_json(result)
        return
    console.print(f"{result.canonical} ({result.kind})", markup=False)
    if not result.hits:
        console.print("on no active watchlist.")
    for hit in result.hits:
        expiry = hit.item.expires_at.isoformat(timespec="seconds") if hit.item.expires_at else None
        console.print(
            f"  {hit.watchlist_name} ({hit.list_type.value}, {hit.effect}): item "
            f"{hit.item.item_value!r}" + (f", expires {expiry}" if expiry else ""),
            markup=False,
        )


@app.command()
def purge(as_json: bool = JsonOption) -> None:
    """Delete the items whose expiry has passed."""
    with handled(), get_database().transaction() as session:
        result = PurgeResult(purged=service.purge_expired(session, now=utcnow(), actor=CLI))
    if as_json:
        print_json(result)
        return
    console.print(f"{result.purged:,} expired item(s) deleted.")
