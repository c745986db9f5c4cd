"""``krsn sightings``: post what your environment saw from a file, list the matched ones."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from krsn.cli.output import JsonOption, console, fail, handled, print_json, print_table
from krsn.db import get_database
from krsn.db.types import utcnow
from krsn.detection.models import Sighting
from krsn.detection.sightings import service
from krsn.detection.sightings.schemas import SightingRead

app = typer.Typer(
    help="Sightings: observables seen in your environment, matched against indicators "
    "and watchlists.",
    no_args_is_help=True,
)

BATCH = 5_000


def _items(path: Path) -> Iterator[Any]:
    """Sightings from a file: NDJSON (one object per line), a JSON list, CSV with a header
    holding ``value`` (other columns: observed_at, host, sensor, log_source), or plain
    text with one value per line (# starts a comment)."""
    suffix = path.suffix.lower()
    with path.open("rb") as stream:
        head = stream.read(1)
        stream.seek(0)
        if suffix == ".json" or head == b"[":
            document = orjson.loads(stream.read())
            if isinstance(document, dict) and isinstance(document.get("sightings"), list):
                document = document["sightings"]
            if not isinstance(document, list):
                fail(f"{path}: a JSON file holds a list of sightings.")
            yield from document
            return
        if suffix in {".ndjson", ".jsonl"} or head == b"{":
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    try:
                        yield orjson.loads(line)
                    except orjson.JSONDecodeError:
                        yield {"value": None, "line": number}
            return
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
        if suffix == ".csv":
            reader = csv.DictReader(text)
            if not reader.fieldnames or "value" not in reader.fieldnames:
                fail(f"{path}: a CSV file needs a header with a 'value' column.")
            for row in reader:
                yield {key: cell for key, cell in row.items() if key and cell}
            return
        for text_line in text:
            value = text_line.strip()
            if value and not value.startswith("#"):
                yield value


def _chunks(items: Iterator[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@app.command()
def post(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The file to read."),
    as_json: bool = JsonOption,
) -> None:
    """Match the sightings in a file (NDJSON, JSON, CSV or one value per line) and raise
    alerts, in batches of 5,000, each in its own transaction."""
    report = service.SightingReport()
    database = get_database()
    with (
        handled(),
        Progress(
            TextColumn("[bold]Sightings[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress,
    ):
        task = progress.add_task("matching", total=None)
        offset = 0
        for chunk in _chunks(_items(path)):
            batch = service.SightingReport()
            with database.transaction() as session:
                service.record_sightings(
                    session, items=chunk, reported_by=None, now=utcnow(), report=batch
                )
            report.add(batch, offset=offset)
            offset += len(chunk)
            progress.update(task, completed=offset)
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.received} received: {report.matched} matched an indicator, "
        f"{report.watchlist_hits} watchlist hit(s), {report.stored} stored; "
        f"{report.alerts_created} alert(s) raised, {report.alerts_updated} updated, "
        f"{report.suppressed} suppressed; {report.rejected + report.unreadable} refused.",
        highlight=False,
    )
    for problem in report.problems[:20]:
        console.print(f"  item {problem['index']}: {problem['reason']}", markup=False)


@app.command("list")
def list_(
    indicator: str | None = typer.Option(None, "--indicator", help="An indicator's id."),
    host: str | None = typer.Option(None, "--host"),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """Matched sightings, most recent first."""
    statement = select(Sighting).order_by(Sighting.observed_at.desc(), Sighting.id).limit(limit)
    if indicator:
        try:
            statement = statement.where(Sighting.indicator_id == uuid.UUID(indicator))
        except ValueError:
            fail(f"{indicator!r} is not an indicator id.")
    if host:
        statement = statement.where(Sighting.host == host)
    with handled(), get_database().transaction(readonly=True) as session:
        rows = [SightingRead.model_validate(row) for row in session.scalars(statement)]
    if as_json:
        print_json(rows)
    else:
        print_table(
            rows, ["observed_at", "value", "matched", "host", "log_source"], title="Sightings"
        )
