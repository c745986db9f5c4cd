"""``krsn rules``: Correlation rules: create, switch on and off, and test against past data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from krsn.cli.output import JsonOption, console, fail, handled, print_json, print_table
from krsn.db import get_database
from krsn.db.types import utcnow
from krsn.detection.models import RuleType
from krsn.detection.rules import dryrun, service
from krsn.detection.rules.schemas import DryRunRead, RuleRead, RuleSort
from krsn.identity.audit import Actor

app = typer.Typer(
    help="Correlation rules: create, switch on and off, and test against past data.",
    no_args_is_help=True,
)

CLI = Actor(user_id=None, via="cli")

COLUMNS = ["name", "rule_type", "is_active", "time_window_minutes", "confidence_threshold", "id"]

RuleArgument = typer.Argument(..., help="The rule's name or id.")
DefinitionOption = typer.Option(
    None, "--definition", help="The rule definition as JSON (see docs/rules.md)."
)
FileOption = typer.Option(
    None, "--file", help="A file holding the rule definition as JSON.", dir_okay=False
)
WindowOption = typer.Option(
    None, "--window", help="The window in minutes (required by threshold and time_based rules)."
)
ConfidenceOption = typer.Option(
    None,
    "--confidence-threshold",
    help="Only observations whose indicator has at least this confidence (0-100) count.",
)
ParametersOption = typer.Option(
    None, "--parameters", help="Free JSON copied into each firing's evidence."
)


def _document(option: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{option}: not JSON ({exc}).")


def _definition(definition: str | None, file: Path | None) -> Any:
    if definition is not None and file is not None:
        fail("Give the definition with --definition or --file, not both.")
    if file is not None:
        try:
            return _document("--file", file.read_text(encoding="utf-8"))
        except OSError as exc:
            fail(f"--file: cannot read {file}: {exc.strerror}.")
    if definition is not None:
        return _document("--definition", definition)
    return None


def _show(rule: RuleRead) -> None:
    state = "active" if rule.is_active else "inactive"
    console.print(
        f"[bold]{escape(rule.name)}[/] ({rule.rule_type.value}, {state})", highlight=False
    )
    console.print(f"id {rule.id}", highlight=False)
    if rule.description:
        console.print(rule.description, markup=False)
    threshold = "-" if rule.confidence_threshold is None else rule.confidence_threshold
    console.print(
        f"window {rule.time_window_minutes or '-'} min, confidence threshold {threshold}",
        highlight=False,
    )
    console.print(json.dumps(rule.rule_definition, indent=2), markup=False)
    if rule.parameters:
        console.print("parameters: " + json.dumps(rule.parameters), markup=False)


@app.command("list")
def list_(
    rule_type: RuleType | None = typer.Option(
        None, "--type", help="pattern, threshold, time_based or ml."
    ),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="Only active or inactive ones."
    ),
    q: str | None = typer.Option(None, "--name", help="Part of the name, any case."),
    sort: RuleSort = typer.Option(
        RuleSort.NAME, "--sort", help="name, created, updated; '-' first for descending."
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """The correlation rules, by name."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.page_rules(
            session, limit=limit, sort=sort, rule_type=rule_type, is_active=active, q=q
        )
        rows = [RuleRead.model_validate(r) for r in page.items]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS, title=f"Correlation rules ({page.total})")


@app.command()
def show(rule: str = RuleArgument, as_json: bool = JsonOption) -> None:
    """One rule, with its definition."""
    with handled(), get_database().transaction(readonly=True) as session:
        read = RuleRead.model_validate(service.find_rule(session, rule))
    if as_json:
        print_json(read)
    else:
        _show(read)


@app.command()
def create(
    name: str = typer.Argument(..., help="A name no other rule has."),
    rule_type: RuleType = typer.Option(..., "--type", help="pattern, threshold, time_based or ml."),
    definition: str | None = DefinitionOption,
    file: Path | None = FileOption,
    window: int | None = WindowOption,
    confidence_threshold: float | None = ConfidenceOption,
    parameters: str | None = ParametersOption,
    description: str | None = typer.Option(None, "--description"),
    inactive: bool = typer.Option(
        False, "--inactive", help="Save it switched off (test it first with 'krsn rules test')."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a rule; it is checked whole, and a fault names its JSON path."""
    document = _definition(definition, file)
    if document is None:
        fail("Give the rule definition with --definition JSON or --file PATH.")
    values: dict[str, Any] = {
        "name": name,
        "description": description,
        "rule_type": rule_type,
        "rule_definition": document,
        "is_active": not inactive,
        "confidence_threshold": confidence_threshold,
        "time_window_minutes": window,
        "parameters": None if parameters is None else _document("--parameters", parameters),
    }
    with handled(), get_database().transaction() as session:
        read = RuleRead.model_validate(service.create_rule(session, actor=CLI, values=values))
    if as_json:
        print_json(read)
    else:
        state = "active" if read.is_active else "inactive"
        console.print(f"Created rule {read.name!r} ({read.id}), {state}.", markup=False)


@app.command()
def update(
    rule: str = RuleArgument,
    name: str | None = typer.Option(None, "--name", help="A new name."),
    rule_type: RuleType | None = typer.Option(None, "--type"),
    definition: str | None = DefinitionOption,
    file: Path | None = FileOption,
    window: int | None = WindowOption,
    confidence_threshold: float | None = ConfidenceOption,
    parameters: str | None = ParametersOption,
    description: str | None = typer.Option(None, "--description"),
    as_json: bool = JsonOption,
) -> None:
    """Change the fields given; the rule is checked whole again."""
    changes: dict[str, Any] = {}
    document = _definition(definition, file)
    if document is not None:
        changes["rule_definition"] = document
    if parameters is not None:
        changes["parameters"] = _document("--parameters", parameters)
    for key, value in (
        ("name", name),
        ("rule_type", rule_type),
        ("time_window_minutes", window),
        ("confidence_threshold", confidence_threshold),
        ("description", description),
    ):
        if value is not None:
            changes[key] = value
    if not changes:
        fail("Nothing to change: give at least one option (see --help).")
    _change(rule, changes, as_json=as_json, done="Updated")


def _change(rule: str, changes: dict[str, Any], *, as_json: bool, done: str) -> None:
    with handled(), get_database().transaction() as session:
        row = service.update_rule(
            session, service.find_rule(session, rule), actor=CLI, changes=changes
        )
        read = RuleRead.model_validate(row)
    if as_json:
        print_json(read)
    else:
        state = "active" if read.is_active else "inactive"
        console.print(f"{done} rule {read.name!r}: {state}.", markup=False)


@app.command()
def enable(rule: str = RuleArgument, as_json: bool = JsonOption) -> None:
    """Switch a rule on: it runs on every ingest and sighting from now on."""
    _change(rule, {"is_active": True}, as_json=as_json, done="Enabled")


@app.command()
def disable(rule: str = RuleArgument, as_json: bool = JsonOption) -> None:
    """Switch a rule off; it is kept, and can still be tested."""
    _change(rule, {"is_active": False}, as_json=as_json, done="Disabled")


@app.command()
def delete(rule: str = RuleArgument) -> None:
    """Delete a rule; its alerts stay, no longer linked to it."""
    with handled(), get_database().transaction() as session:
        row = service.find_rule(session, rule)
        name = row.name
        service.delete_rule(session, row, actor=CLI)
    console.print(f"Deleted rule {name!r}.", markup=False)


@app.command()
def test(
    rule: str = RuleArgument,
    since: str = typer.Option(
        "7d", "--since", help="Start: a duration back from now (30m, 12h, 7d) or an ISO 8601 time."
    ),
    until: str | None = typer.Option(None, "--until", help="End (default: now), as --since."),
    limit: int = typer.Option(
        dryrun.DEFAULT_LIMIT, "--limit", min=1, max=dryrun.MAX_LIMIT, help="The most events read."
    ),
    samples: int = typer.Option(10, "--samples", min=0, max=dryrun.MAX_SAMPLES),
    as_json: bool = JsonOption,
) -> None:
    """What a rule (active or not) would have fired on past sightings and ingested records;
    nothing is written."""
    now = utcnow()
    with (
        handled(),
        get_database().transaction(readonly=True) as session,
        Progress(
            TextColumn("[bold]Replaying[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as bar,
    ):
        task = bar.add_task("events", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        found = service.find_rule(session, rule)
        start, end = dryrun.parse_period(since, until, now=now, prefix="--")
        report = dryrun.dry_run_rule(
            session,
            found,
            since=start,
            until=end,
            limit=limit,
            samples=samples,
            progress=advance,
        )
        read = DryRunRead.model_validate(report)
    if as_json:
        print_json(read)
        return
    _report(read)


def _report(report: DryRunRead) -> None:
    console.print(
        f"{report.rule_name}: {report.firings} firing(s) over {report.distinct_keys} key(s) in "
        f"{report.events_scanned} event(s) ({report.sightings_scanned} sightings, "
        f"{report.ingests_scanned} ingested) from {report.since:%Y-%m-%d %H:%M} to "
        f"{report.until:%Y-%m-%d %H:%M} UTC.",
        markup=False,
    )
    if report.capped:
        console.print(
            f"Capped: {report.events_total} events in the period; read up to "
            f"{report.scanned_until}. Raise --limit or shorten the period.",
            markup=False,
        )
    if report.keys:
        console.print("Keys that fired most:")
        for item in report.keys[:10]:
            console.print(f"  {item.count:>6}  {item.key}", markup=False)
    if report.samples:
        console.print("First firings:")
        for sample in report.samples:
            console.print(
                f"  {sample.observed_at:%Y-%m-%d %H:%M:%S}  {sample.severity:<8} "
                f"{sample.origin:<8} {sample.title}",
                markup=False,
            )
