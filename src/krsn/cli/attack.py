"""``krsn attack``: import MITRE ATT&CK bundles, list techniques, show one with who uses it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from krsn.cli.output import (
    JsonOption,
    console,
    handled,
    print_json,
    print_table,
    staged_progress,
)
from krsn.db import get_database
from krsn.identity.audit import Actor
from krsn.sharing.attack import STAGES, get_technique, import_attack, list_techniques

app = typer.Typer(
    help="MITRE ATT&CK: import a bundle, list techniques, show one.", no_args_is_help=True
)

CLI = Actor(user_id=None, via="cli")


@app.command("import")
def import_(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="An ATT&CK STIX bundle (Enterprise, ICS or Mobile), .json or .json.gz.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Import or update ATT&CK: techniques, groups, campaigns, software and who uses what."""
    with (
        handled(),
        staged_progress("ATT&CK", STAGES, first=f"reading {file.name}", quiet=as_json) as advance,
        get_database().transaction() as session,
    ):
        summary = import_attack(session, bundle=file, actor=CLI, on_progress=advance)
    if as_json:
        print_json(summary)
        return
    version = f" v{summary.attack_version}" if summary.attack_version else ""
    table = Table(title=f"{file.name}: {summary.domain}{version}, {summary.objects:,} objects")
    table.add_column("")
    for column in ("created", "updated", "unchanged", "revoked", "removed"):
        table.add_column(column, justify="right")
    for kind, counts in summary.counts().items():
        removed = f"{counts.removed:,}" if kind == "relationships" else "-"
        table.add_row(
            kind,
            f"{counts.created:,}",
            f"{counts.updated:,}",
            f"{counts.unchanged:,}",
            f"{counts.revoked:,}",
            removed,
        )
    console.print(table)
    console.print(
        f"[dim]{summary.duration_s:.2f} s; revoked counts revoked or deprecated objects, "
        "kept and flagged[/]"
    )
    for warning in summary.warnings[:10]:
        console.print(f"  {escape(warning)}")


@app.command()
def techniques(
    tactic: str | None = typer.Option(
        None, "--tactic", "-t", help="Only this tactic: short name, name or id (TA0005)."
    ),
    include_flagged: bool = typer.Option(
        False, "--all", help="Include revoked and deprecated techniques."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Techniques and sub-techniques, by id."""
    with handled(), get_database().transaction(readonly=True) as session:
        rows = list_techniques(session, tactic=tactic, include_flagged=include_flagged)
    if as_json:
        print_json(rows)
        return
    columns = ["technique_id", "technique_name", "tactics", "platforms"]
    if include_flagged:
        columns.append("status")
    print_table(rows, columns, title=f"ATT&CK techniques ({len(rows)})")


@app.command()
def show(
    technique_id: str = typer.Argument(..., help="An ATT&CK id such as T1059 or T1059.001."),
    as_json: bool = JsonOption,
) -> None:
    """One technique: tactics, platforms, sub-techniques, and the groups and software using it."""
    with handled(), get_database().transaction(readonly=True) as session:
        technique = get_technique(session, technique_id)
    if as_json:
        print_json(technique)
        return
    status = "" if technique.status == "active" else f" [red]({technique.status})[/]"
    if technique.revoked_by:
        status += f" [red]replaced by {technique.revoked_by}[/]"
    console.print(
        f"[bold]{technique.technique_id}[/] {escape(technique.technique_name)}{status}",
        highlight=False,
    )
    facts = {
        "domain": technique.domain,
        "tactics": ", ".join(technique.tactics),
        "platforms": ", ".join(technique.platforms),
        "data sources": ", ".join(technique.data_sources),
        "defenses bypassed": ", ".join(technique.defenses_bypassed),
        "parent": technique.parent and f"{technique.parent.attack_id} {technique.parent.name}",
        "sub-techniques": ", ".join(f"{s.attack_id} {s.name}" for s in technique.subtechniques),
        "analyst links": str(technique.analyst_links),
        "url": technique.url,
    }
    for key, value in facts.items():
        if value:
            console.print(f"[bold]{key}[/]: {escape(value)}", highlight=False)
    groups = Table(title=f"Groups using it ({len(technique.groups)})")
    for column in ("id", "name"):
        groups.add_column(column)
    for group in technique.groups:
        groups.add_row(group.attack_id, escape(group.name))
    console.print(groups)
    if technique.software:
        console.print(
            f"[bold]software[/] ({len(technique.software)}): "
            + escape(", ".join(f"{s.attack_id} {s.name}" for s in technique.software)),
            highlight=False,
        )
