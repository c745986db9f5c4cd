"""``krsn collections``: OSINT collections: jobs that gather from public sources.

``run`` works in the foreground with a progress bar (Ctrl-C cancels it, recorded as such);
``cancel`` stops a run from anywhere, the server's background runner included, since the
runner watches the collection's row. ``sources`` manages the OSINT sources runs go through.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select
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
from krsn.config import get_settings
from krsn.db import get_database
from krsn.identity.audit import Actor
from krsn.identity.models import Role, User
from krsn.identity.users import find_user
from krsn.osint.collections import service
from krsn.osint.collections.runner import run_collection
from krsn.osint.collections.schemas import (
    CollectionRead,
    CollectionSort,
    CollectionState,
    ItemRead,
    ItemSort,
    RunOutcome,
    UploadOutcome,
)
from krsn.osint.collections.uploads import MAX_FILE_BYTES, Upload, read_uploads, store_uploads
from krsn.osint.models import CollectionStatus, CollectorType
from krsn.osint.sources import service as sources
from krsn.osint.sources.schemas import SourceRead, SourceSort

app = typer.Typer(
    help="OSINT collections: jobs that gather from public sources.", no_args_is_help=True
)
sources_app = typer.Typer(
    help="OSINT sources: rate limits, credentials and proxies that collections run through.",
    no_args_is_help=True,
)
app.add_typer(sources_app, name="sources")

CLI = Actor(user_id=None, via="cli")

LIST_COLUMNS = [
    "name",
    "collector_type",
    "collector",
    "status",
    "progress",
    "items_collected",
    "id",
]
ITEM_COLUMNS = ["item_type", "collected_at", "hash", "id"]
SOURCE_COLUMNS = ["name", "source_type", "rate_limit", "is_active", "has_credentials", "id"]
FINISHED = frozenset(
    {CollectionStatus.COMPLETED, CollectionStatus.FAILED, CollectionStatus.CANCELLED}
)

CollectionKey = typer.Argument(..., help="The collection's id, or a name only it has.")
SourceKey = typer.Argument(..., help="The source's name (any case) or id.")


# --- reading options ------------------------------------------------------------------------


def _json_option(option: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{option}: not JSON ({exc.msg} at column {exc.colno}).")
    if not isinstance(value, dict):
        fail(f'{option}: give a JSON object such as \'{{"domain": "example.com"}}\'.')
    return value


def _config(text: str | None, pairs: list[str] | None) -> dict[str, Any] | None:
    """``--config JSON`` merged with ``--set key=value`` (values read as JSON when they are)."""
    if text is None and not pairs:
        return None
    config = _json_option("--config", text) if text is not None else {}
    for pair in pairs or []:
        key, separator, raw = pair.partition("=")
        if not separator or not key.strip():
            fail(f"--set: {pair!r} is not KEY=VALUE.")
        try:
            config[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            config[key.strip()] = raw
    return config


def _owner(session: Session, given: str | None) -> uuid.UUID:
    """The user a new collection belongs to: the one named, else the first admin."""
    if given is not None:
        user = find_user(session, given)
        if user is None:
            try:
                user = session.get(User, uuid.UUID(given))
            except ValueError:
                user = None
        if user is None:
            fail(f"--owner: no user {given!r}; 'krsn users list' shows them.")
        return user.id
    first = session.scalar(
        select(User.id).where(User.role == Role.ADMIN).order_by(User.created_at).limit(1)
    )
    if first is None:
        fail("No admin to own the collection: give --owner USER, or create a user first.")
    return first


def _source(session: Session, given: str | None) -> uuid.UUID | None:
    return None if given is None else sources.find_source(session, given).id


def _percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}%"


def _kind(row: CollectionRead) -> str:
    """The category, and the collector when it is not the category's built-in."""
    kind = row.collector_type.value
    return f"{kind}: {row.collector}" if row.collector else kind


def _show(row: CollectionRead) -> None:
    console.print(f"[bold]{escape(row.name)}[/] ({escape(_kind(row))})")
    status = row.status.value if row.status else "pending"
    schedule = f"every {row.schedule['every_minutes']} min" if row.schedule else "on demand"
    for label, value in (
        ("id", row.id),
        ("status", status),
        ("progress", _percent(row.progress)),
        ("items collected", row.items_collected),
        ("error", row.error_message or "-"),
        ("schedule", schedule),
        ("source", row.source_id or "-"),
        ("config", json.dumps(row.config, sort_keys=True)),
        ("started", row.started_at.isoformat(timespec="seconds") if row.started_at else "-"),
        ("completed", row.completed_at.isoformat(timespec="seconds") if row.completed_at else "-"),
        ("description", row.description or "-"),
    ):
        console.print(f"  {label}: {value}", markup=False, highlight=False)


def _state_line(state: CollectionState) -> str:
    status = state.status.value if state.status else "pending"
    line = f"{state.name}: {status}, {_percent(state.progress)}, {state.items_collected or 0} items"
    return line + (f" ({state.error_message})" if state.error_message else "")


# --- collections ----------------------------------------------------------------------------


@app.command()
def types(as_json: bool = JsonOption) -> None:
    """The installed collectors by name, with their category and what each does."""
    with handled():
        found = service.collectors()
    if as_json:
        print_json(found)
        return
    for info in found:
        fields = ", ".join(info.config_schema.get("properties", {})) or "-"
        # A default runs its category's collections that name no collector (--type only);
        # any other is chosen with --collector.
        role = "default" if info.default else f"--collector {info.name}"
        console.print(
            f"[bold]{escape(info.name)}[/] ({info.collector_type}, {escape(role)}): "
            f"{escape(info.description)}"
        )
        console.print(f"  config: {fields}", markup=False, highlight=False)


@app.command()
def create(
    name: str = typer.Argument(..., help="What the collection is about."),
    collector_type: CollectorType | None = typer.Option(
        None, "--type", help="The category; may be left out with --collector (its category)."
    ),
    collector: str | None = typer.Option(
        None,
        "--collector",
        help="An installed collector of the category, by name ('krsn collections types'); "
        "default: the category's built-in.",
    ),
    config: str | None = typer.Option(None, "--config", help="The collector's config as JSON."),
    pairs: list[str] | None = typer.Option(
        None, "--set", help="One config field, KEY=VALUE (repeat it); merged into --config."
    ),
    every: int | None = typer.Option(
        None, "--every", min=1, help="Run by itself every this many minutes."
    ),
    source: str | None = typer.Option(None, "--source", help="The OSINT source to go through."),
    owner: str | None = typer.Option(
        None, "--owner", help="The owning user (name, e-mail or id); default: the first admin."
    ),
    description: str | None = typer.Option(None, "--description"),
    as_json: bool = JsonOption,
) -> None:
    """Create a pending collection; its config is checked by the collector."""
    if collector_type is None and collector is None:
        fail("give --type (a category) or --collector (an installed collector), or both")
    values: dict[str, Any] = {
        "name": name,
        "description": description,
        "collector_type": collector_type,
        "collector": collector,
        "config": _config(config, pairs) or {},
        "schedule": {"every_minutes": every} if every else None,
    }
    with handled(), get_database().transaction() as session:
        values["source_id"] = _source(session, source)
        row = CollectionRead.model_validate(
            service.create_collection(
                session, actor=CLI, owner_id=_owner(session, owner), values=values
            )
        )
    if as_json:
        print_json(row)
        return
    console.print(f"Created {escape(row.name)} ({escape(_kind(row))}), id {row.id}")


@app.command("list")
def list_(
    status: CollectionStatus | None = typer.Option(None, "--status", help="Only in this state."),
    collector_type: CollectorType | None = typer.Option(None, "--type", help="Only this type."),
    collector: str | None = typer.Option(
        None, "--collector", help="Only run by this collector (a category's name: its built-in)."
    ),
    q: str | None = typer.Option(None, "--name", help="Part of the name, any case."),
    sort: CollectionSort = typer.Option(
        CollectionSort.CREATED_DESC, "--sort", help="A field, descending with a leading '-'."
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    cursor: str | None = typer.Option(None, "--cursor", help="next_cursor of the previous page."),
    as_json: bool = JsonOption,
) -> None:
    """The collections with their state."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.page_collections(
            session,
            limit=limit,
            cursor=cursor,
            sort=sort.value,
            status=status,
            collector_type=collector_type,
            collector=collector,
            q=q,
        )
        rows = [CollectionRead.model_validate(row) for row in page.items]
    if as_json:
        print_page_json(rows, page)
        return
    print_table(
        rows,
        LIST_COLUMNS,
        title=f"Collections ({page.total})",
        formatters={"progress": _percent},
    )
    if page.next_cursor:
        console.print(f"[dim]More: --cursor {escape(page.next_cursor)}[/]")


@app.command()
def show(key: str = CollectionKey, as_json: bool = JsonOption) -> None:
    """One collection."""
    with handled(), get_database().transaction(readonly=True) as session:
        row = CollectionRead.model_validate(service.find_collection(session, key))
    if as_json:
        print_json(row)
        return
    _show(row)


@app.command()
def update(
    key: str = CollectionKey,
    name: str | None = typer.Option(None, "--name", help="A new name."),
    description: str | None = typer.Option(None, "--description"),
    config: str | None = typer.Option(None, "--config", help="A new config as JSON (replaces)."),
    pairs: list[str] | None = typer.Option(
        None, "--set", help="Change one config field, KEY=VALUE (repeat it)."
    ),
    every: int | None = typer.Option(None, "--every", min=1, help="A new schedule, in minutes."),
    no_schedule: bool = typer.Option(False, "--no-schedule", help="Stop the schedule."),
    source: str | None = typer.Option(None, "--source", help="Another OSINT source."),
    no_source: bool = typer.Option(False, "--no-source", help="Run without a source."),
    collector: str | None = typer.Option(
        None, "--collector", help="Another installed collector of the same category."
    ),
    built_in: bool = typer.Option(
        False, "--built-in", help="Run by the category's built-in collector again."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Change a collection's name, description, config, schedule, source or collector."""
    if every is not None and no_schedule:
        fail("give --every or --no-schedule, not both")
    if source is not None and no_source:
        fail("give --source or --no-source, not both")
    if collector is not None and built_in:
        fail("give --collector or --built-in, not both")
    changes: dict[str, Any] = {}
    if collector is not None or built_in:
        changes["collector"] = collector
    if name is not None:
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    if every is not None or no_schedule:
        changes["schedule"] = {"every_minutes": every} if every else None
    with handled(), get_database().transaction() as session:
        found = service.find_collection(session, key)
        if config is not None or pairs:
            base = dict(found.config or {}) if config is None else {}
            changes["config"] = {**base, **(_config(config, pairs) or {})}
        if source is not None or no_source:
            changes["source_id"] = _source(session, source)
        if not changes:
            fail(
                "nothing to change: give --name, --description, --config, --set, --every, "
                "--no-schedule, --source, --no-source, --collector or --built-in"
            )
        row = CollectionRead.model_validate(
            service.update_collection(session, actor=CLI, collection_id=found.id, changes=changes)
        )
    if as_json:
        print_json(row)
        return
    _show(row)


@app.command()
def delete(
    key: str = CollectionKey,
    yes: bool = typer.Option(False, "--yes", "-y", help="Confirm deleting collected items."),
    as_json: bool = JsonOption,
) -> None:
    """Delete a collection with its items."""
    with handled(), get_database().transaction() as session:
        found = service.find_collection(session, key)
        if found.items_collected and not yes:
            fail(f"{found.name} has collected items, deleted with it; pass --yes to go on.")
        name, collection_id = found.name, found.id
        service.delete_collection(session, actor=CLI, collection_id=found.id)
    if as_json:
        print_json({"deleted": str(collection_id), "name": name})
        return
    console.print(f"Deleted {escape(name)}")


@app.command()
def run(
    key: str = CollectionKey,
    replay: Path | None = typer.Option(
        None,
        "--replay",
        exists=True,
        file_okay=False,
        help="A folder of recorded responses (and DNS *.zone files) to answer instead of "
        "the network.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Run a collection now, in the foreground, with a progress bar. Ctrl-C cancels it."""
    database = get_database()
    with handled():
        with database.transaction(readonly=True) as session:
            found = service.find_collection(session, key)
            collection_id, name = found.id, found.name
        with Progress(
            TextColumn(f"[bold]{escape(name)}[/]"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%  {task.fields[items]} new items"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress:
            task = progress.add_task(name, total=100, items=0)

            def moved(percent: float, items: int) -> None:
                progress.update(task, completed=percent, items=f"{items:,}")

            try:
                outcome: RunOutcome = run_collection(
                    database,
                    collection_id,
                    actor=CLI,
                    replay=replay,
                    settings=get_settings(),
                    on_progress=moved,
                )
            except KeyboardInterrupt:
                fail(f"{name}: cancelled.", code=130)
            progress.update(
                task,
                completed=100 if outcome.status == CollectionStatus.COMPLETED else None,
                items=f"{outcome.items_collected:,}",
            )
    if as_json:
        print_json(outcome)
    else:
        console.print(
            f"{escape(name)}: {outcome.status.value}: {outcome.items_collected:,} new items "
            f"from {outcome.records:,} records ({outcome.duplicates:,} seen before), "
            f"{outcome.entities:,} entities, in {outcome.duration_s:g} s"
        )
    if outcome.status == CollectionStatus.FAILED:
        fail(f"{name} failed: {outcome.error_message}")
    if outcome.status == CollectionStatus.CANCELLED:
        fail(f"{name} was cancelled.")


def _state(key: str) -> CollectionState:
    with get_database().transaction(readonly=True) as session:
        return CollectionState.model_validate(service.find_collection(session, key))


@app.command()
def status(
    key: str = CollectionKey,
    watch: bool = typer.Option(False, "--watch", "-w", help="Follow the run until it ends."),
    interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between looks."),
    as_json: bool = JsonOption,
) -> None:
    """A collection's run state: status, progress, items, error. ``--watch`` follows it."""
    with handled():
        state = _state(key)
        if watch and state.status == CollectionStatus.RUNNING:
            if as_json:
                # One JSON line per look, so a script can follow the run.
                while True:
                    typer.echo(state.model_dump_json())
                    if state.status in FINISHED:
                        return
                    time.sleep(interval)
                    state = _state(str(state.id))
            with Progress(
                TextColumn(f"[bold]{escape(state.name)}[/] {{task.fields[status]}}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%  {task.fields[items]} items"),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task(state.name, total=100, status="running", items=0)
                while state.status == CollectionStatus.RUNNING:
                    progress.update(
                        task,
                        completed=float(state.progress or 0),
                        items=f"{state.items_collected or 0:,}",
                    )
                    time.sleep(interval)
                    state = _state(str(state.id))
                progress.update(
                    task,
                    completed=float(state.progress or 0),
                    status=state.status.value if state.status else "pending",
                    items=f"{state.items_collected or 0:,}",
                )
    if as_json:
        print_json(state)
        return
    console.print(_state_line(state), markup=False, highlight=False)


@app.command()
def cancel(key: str = CollectionKey, as_json: bool = JsonOption) -> None:
    """Cancel a running collection, wherever it runs; it stops at its next check."""
    with handled(), get_database().transaction() as session:
        found = service.find_collection(session, key)
        state = CollectionState.model_validate(
            service.request_cancel(session, actor=CLI, collection_id=found.id)
        )
    if as_json:
        print_json(state)
        return
    console.print(_state_line(state), markup=False, highlight=False)


@app.command()
def upload(
    key: str = CollectionKey,
    files: list[Path] = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="Text, HTML, PDF or e-mail (.eml) files.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Store files as items of a collection: read into text, entities extracted."""
    database = get_database()
    with handled():
        with database.transaction(readonly=True) as session:
            collection_id = service.find_collection(session, key).id
        uploads = []
        for path in files:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                fail(f"{path.name} is {size:,} bytes, over the {MAX_FILE_BYTES:,} uploads take.")
            uploads.append(Upload(filename=path.name, data=path.read_bytes()))
        with Progress(
            TextColumn("[bold]Reading[/] {task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress:
            task = progress.add_task("files", total=len(uploads))
            read = []
            for one in uploads:
                progress.update(task, description=one.filename)
                read.extend(read_uploads([one]))
                progress.advance(task)
        with database.transaction() as session:
            outcome: UploadOutcome = store_uploads(
                session, actor=CLI, collection_id=collection_id, files=read
            )
    if as_json:
        print_json(outcome)
        return
    for file in outcome.files:
        said = "seen before" if file.duplicate else f"item {file.item_id}"
        console.print(f"{file.filename} ({file.mime_type}, {file.size:,} bytes): {said}")
    console.print(
        f"{outcome.items_collected} new item(s), {outcome.entities} entities, "
        f"{outcome.documents} document(s)"
    )


@app.command()
def items(
    key: str = CollectionKey,
    item_type: str | None = typer.Option(None, "--type", help="Only items of this type."),
    sort: ItemSort = typer.Option(ItemSort.COLLECTED_DESC, "--sort", help="collected, -collected."),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    cursor: str | None = typer.Option(None, "--cursor", help="next_cursor of the previous page."),
    as_json: bool = JsonOption,
) -> None:
    """A collection's items, a page at a time."""
    with handled(), get_database().transaction(readonly=True) as session:
        found = service.find_collection(session, key)
        name = found.name
        page = service.page_items(
            session,
            collection_id=found.id,
            limit=limit,
            cursor=cursor,
            sort=sort.value,
            item_type=item_type,
        )
        rows = [ItemRead.model_validate(item) for item in page.items]
    if as_json:
        print_page_json(rows, page)
        return
    print_table(
        rows, ITEM_COLUMNS, title=f"{name} ({page.total} items)", formatters={"hash": _short}
    )
    if page.next_cursor:
        console.print(f"[dim]More: --cursor {escape(page.next_cursor)}[/]")


def _short(value: Any) -> str:
    return "-" if not value else str(value)[:16]


# --- sources --------------------------------------------------------------------------------


def _show_source(row: SourceRead) -> None:
    console.print(f"[bold]{escape(row.name)}[/] ({row.source_type})")
    for label, value in (
        ("id", row.id),
        ("base url", row.base_url or "-"),
        ("rate limit", f"{row.rate_limit}/min"),
        ("reliability", row.reliability_score if row.reliability_score is not None else "-"),
        ("active", "yes" if row.is_active else "no"),
        ("credentials", "yes (hidden)" if row.has_credentials else "none"),
        ("config", json.dumps(row.config or {}, sort_keys=True)),
    ):
        console.print(f"  {label}: {value}", markup=False, highlight=False)


@sources_app.command("list")
def sources_list(
    source_type: CollectorType | None = typer.Option(None, "--type", help="Only this type."),
    active: bool | None = typer.Option(None, "--active/--inactive"),
    sort: SourceSort = typer.Option(SourceSort.NAME, "--sort"),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """The OSINT sources (credentials never shown)."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = sources.page_sources(
            session, limit=limit, sort=sort.value, source_type=source_type, is_active=active
        )
        rows = [sources.source_read(row) for row in page.items]
    if as_json:
        print_page_json(rows, page)
        return
    print_table(rows, SOURCE_COLUMNS, title=f"OSINT sources ({page.total})")


@sources_app.command("show")
def sources_show(key: str = SourceKey, as_json: bool = JsonOption) -> None:
    """One OSINT source."""
    with handled(), get_database().transaction(readonly=True) as session:
        row = sources.source_read(sources.find_source(session, key))
    if as_json:
        print_json(row)
        return
    _show_source(row)


def _source_values(
    *,
    base_url: str | None,
    rate_limit: int | None,
    reliability: float | None,
    credentials: str | None,
    config: str | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if base_url is not None:
        values["base_url"] = base_url
    if rate_limit is not None:
        values["rate_limit"] = rate_limit
    if reliability is not None:
        values["reliability_score"] = reliability
    if credentials is not None:
        values["credentials"] = _json_option("--credentials", credentials)
    if config is not None:
        values["config"] = _json_option("--config", config)
    return values


CredentialsOption = typer.Option(
    None,
    "--credentials",
    help='Secrets as JSON ({"token": "..."}); stored encrypted, never shown.',
)
SourceConfigOption = typer.Option(
    None, "--config", help='Settings as JSON: {"proxy": "socks5h://127.0.0.1:9050"}, ...'
)


@sources_app.command("create")
def sources_create(
    name: str = typer.Argument(..., help="Unique in any case."),
    source_type: CollectorType = typer.Option(..., "--type", help="The collector type served."),
    base_url: str | None = typer.Option(None, "--base-url"),
    rate_limit: int = typer.Option(60, "--rate-limit", min=1, help="Requests per minute."),
    reliability: float | None = typer.Option(None, "--reliability", min=0, max=1),
    credentials: str | None = CredentialsOption,
    config: str | None = SourceConfigOption,
    active: bool = typer.Option(True, "--active/--inactive"),
    as_json: bool = JsonOption,
) -> None:
    """Create an OSINT source."""
    values = {
        "name": name.strip(),
        "source_type": source_type,
        "is_active": active,
        **_source_values(
            base_url=base_url,
            rate_limit=rate_limit,
            reliability=reliability,
            credentials=credentials,
            config=config,
        ),
    }
    with handled(), get_database().transaction() as session:
        row = sources.source_read(sources.create_source(session, actor=CLI, values=values))
    if as_json:
        print_json(row)
        return
    console.print(f"Created source {escape(row.name)} ({row.source_type}), id {row.id}")


@sources_app.command("update")
def sources_update(
    key: str = SourceKey,
    name: str | None = typer.Option(None, "--name"),
    base_url: str | None = typer.Option(None, "--base-url"),
    rate_limit: int | None = typer.Option(None, "--rate-limit", min=1),
    reliability: float | None = typer.Option(None, "--reliability", min=0, max=1),
    credentials: str | None = CredentialsOption,
    no_credentials: bool = typer.Option(False, "--no-credentials", help="Drop the secrets."),
    config: str | None = SourceConfigOption,
    active: bool | None = typer.Option(None, "--active/--inactive"),
    as_json: bool = JsonOption,
) -> None:
    """Change an OSINT source."""
    if credentials is not None and no_credentials:
        fail("give --credentials or --no-credentials, not both")
    changes = _source_values(
        base_url=base_url,
        rate_limit=rate_limit,
        reliability=reliability,
        credentials=credentials,
        config=config,
    )
    if name is not None:
        changes["name"] = name.strip()
    if active is not None:
        changes["is_active"] = active
    if no_credentials:
        changes["credentials"] = None
    if not changes:
        fail("nothing to change")
    with handled(), get_database().transaction() as session:
        found = sources.find_source(session, key)
        row = sources.source_read(
            sources.update_source(session, actor=CLI, source_id=found.id, changes=changes)
        )
    if as_json:
        print_json(row)
        return
    _show_source(row)


@sources_app.command("delete")
def sources_delete(key: str = SourceKey, as_json: bool = JsonOption) -> None:
    """Delete an OSINT source; its collections run without one."""
    with handled(), get_database().transaction() as session:
        found = sources.find_source(session, key)
        name, source_id = found.name, found.id
        sources.delete_source(session, actor=CLI, source_id=found.id)
    if as_json:
        print_json({"deleted": str(source_id), "name": name})
        return
    console.print(f"Deleted source {escape(name)}")
