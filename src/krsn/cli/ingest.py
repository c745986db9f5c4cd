"""``krsn ingest FILE``: read a saved feed offline, exactly as the live feed would be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from krsn.cli.output import console, fail, handled, print_json
from krsn.config import get_settings
from krsn.db import get_database
from krsn.feeds.formats.registry import get_format
from krsn.feeds.pipeline import ingest as run_ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor

CLI = Actor(user_id=None, via="cli")


def _rules(rules_file: Path | None) -> dict[str, Any]:
    if rules_file is None:
        return {}
    try:
        loaded = json.loads(rules_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read the rules file {rules_file}: {exc}")
    if not isinstance(loaded, dict):
        fail(f"the rules file {rules_file} must hold a JSON object")
    return loaded


def ingest(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="A saved feed: CSV, text, JSON, XML, STIX or MISP.",
    ),
    template: str | None = typer.Option(
        None, "--template", "-t", help="Read it as this feed template does."
    ),
    format_name: str | None = typer.Option(
        None, "--format", "-f", help="csv, text, json, xml, stix or misp."
    ),
    rules_file: Path | None = typer.Option(
        None, "--rules", exists=True, dir_okay=False, help="A JSON file of parsing rules."
    ),
    source_name: str | None = typer.Option(
        None, "--source", "-s", help="Provider to credit (default: the template's)."
    ),
    reliability: float | None = typer.Option(
        None, "--reliability", min=0, max=100, help="Reliability of a new source, 0–100."
    ),
    confidence: float | None = typer.Option(
        None, "--confidence", min=0, max=100, help="Default confidence of the rows, 0–100."
    ),
    param: list[str] | None = typer.Option(
        None, "--param", "-p", help="A template parameter as NAME=VALUE; repeat as needed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Ingest a feed file: normalise, check warninglists, store, and summarise."""
    if (template is None) == (format_name is None):
        fail("give exactly one of --template NAME or --format FORMAT")
    rules = _rules(rules_file)
    default_confidence = confidence
    with handled():
        if template is not None:
            from krsn.feeds.templates import get_template

            chosen = get_template(template)
            rendered = chosen.render(_params(param))
            format_name = rendered.format
            rules = {**rendered.parsing_rules, **rules}
            default_confidence = (
                confidence if confidence is not None else float(chosen.default_confidence)
            )
            reliability = (
                reliability if reliability is not None else float(chosen.source_reliability)
            )
            source_name = source_name or chosen.provider
        assert format_name is not None
        parser = get_format(format_name)
        rules = parser.validate_rules(rules)
        database = get_database()
        with database.transaction() as session:
            source = ensure_source(
                session, actor=CLI, name=source_name or "manual import", reliability=reliability
            )
        size = file.stat().st_size
        with (
            file.open("rb") as stream,
            Progress(
                TextColumn("[bold]Ingesting[/] {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%  {task.fields[rows]} rows"),
                TimeElapsedColumn(),
                console=console,
                disable=as_json,
                transient=False,
            ) as progress,
        ):
            task = progress.add_task(file.name, total=size or 1, rows=0)

            def advance(rows: int) -> None:
                progress.update(task, completed=stream.tell(), rows=f"{rows:,}")

            summary = run_ingest(
                database,
                rows=parser.parse(stream, rules),
                source=source,
                suppressor=_suppressor(),
                on_progress=advance,
                default_confidence=default_confidence,
                batch_size=get_settings().ingest_batch_rows,
            )
            progress.update(task, completed=size or 1)
    result = {"file": str(file), "format": format_name, "source": source.name, **summary.as_dict()}
    if as_json:
        print_json(result)
        return
    table = Table(title=f"{file.name} → {source.name}")
    for column in ("parsed", "new", "updated", "unchanged", "rejected", "suppressed"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            f"{result[c]:,}"
            for c in ("parsed", "new", "updated", "unchanged", "rejected", "suppressed")
        )
    )
    console.print(table)
    console.print(f"[dim]{summary.duration_s:.2f} s[/]")
    for error in summary.errors[:10]:
        console.print(f"  line {error['line']}: {error['reason']}", markup=False)
    if summary.rejected > 10:
        console.print(f"  … and {summary.rejected - 10} more (see --json)")


def _params(given: list[str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in given or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--param takes NAME=VALUE, not {item!r}")
        values[name.strip()] = value
    return values


def _suppressor() -> Any:
    from krsn.indicators.warninglists import default_index

    return default_index(get_settings())
