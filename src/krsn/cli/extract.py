"""``krsn extract``: what entity extraction finds in a file, without storing it."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from krsn.cli.output import JsonOption, console, fail, handled, print_json, print_table
from krsn.osint.extract import service
from krsn.osint.extract.schemas import FindingRead
from krsn.osint.models import EntityType

COLUMNS = ["entity_type", "canonical", "value", "start", "end", "confidence", "method"]


def extract(
    path: str = typer.Argument(..., help="A text, HTML, PDF or .eml file; - reads stdin."),
    types: list[EntityType] | None = typer.Option(
        None, "--type", "-t", help="Only this entity type (repeatable)."
    ),
    no_ner: bool = typer.Option(
        False, "--no-ner", help="Skip persons, organisations and locations (faster)."
    ),
    mime_type: str | None = typer.Option(
        None, "--mime-type", help="The file's format when its name does not tell it."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Print what extraction finds in a file: type, canonical value, the value as written,
    offsets, confidence and method. Nothing is stored."""
    if path == "-":
        data, filename = sys.stdin.buffer.read(), None
    else:
        file = Path(path)
        if not file.is_file():
            fail(f"{path}: no such file")
        try:
            data = file.read_bytes()
        except OSError as exc:
            fail(f"{path}: cannot read it ({exc.strerror})")
        filename = file.name
    with (
        handled(),
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]Extracting[/] {task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json,
        ) as progress,
    ):
        progress.add_task(filename or "stdin", total=None)
        document, findings = service.extract_file(
            data, filename=filename, mime_type=mime_type, types=types, ner=not no_ner
        )
    rows = [FindingRead.of(finding) for finding in findings]
    if as_json:
        print_json(rows)
        return
    title = f"{document.title or filename or 'stdin'} ({document.mime_type}): {len(rows)} found"
    print_table(
        rows,
        COLUMNS,
        title=title,
        formatters={"confidence": lambda v: f"{v:.2f}", "entity_type": lambda v: v.value},
    )
