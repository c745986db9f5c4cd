"""``krsn stix``: import STIX 2.1 bundles (indicators, knowledge objects, everything else kept)
and export a selection as one."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from krsn.cli.output import console, handled, print_json, staged_progress, to_plain
from krsn.config import get_settings
from krsn.db import get_database
from krsn.identity.audit import Actor
from krsn.sharing.selection import parse_query, resolve
from krsn.sharing.stix.export import write_bundle
from krsn.sharing.stix.schemas import TypeCounts
from krsn.sharing.stix.service import DEFAULT_SOURCE, STAGES, import_bundle

app = typer.Typer(help="STIX 2.1 bundles: import and export", no_args_is_help=True)

CLI = Actor(user_id=None, via="cli")


@app.command("import")
def import_(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="A STIX 2.1 (or 2.0) bundle, .json or .json.gz.",
    ),
    source_name: str = typer.Option(
        DEFAULT_SOURCE, "--source", help="The threat source the indicators are reported by."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Import a bundle: new objects created, newer versions applied, older ones ignored."""
    from krsn.db.types import utcnow
    from krsn.detection.correlations.after_import import correlate_since
    from krsn.feeds.sources import ensure_source
    from krsn.indicators.warninglists import default_index

    started = utcnow()
    with (
        handled(),
        staged_progress("STIX", STAGES, first=f"reading {file.name}", quiet=as_json) as advance,
        get_database().transaction() as session,
    ):
        source = ensure_source(session, actor=CLI, name=source_name)
        summary = import_bundle(
            session,
            bundle=file,
            source=source,
            actor=CLI,
            suppressor=default_index(get_settings()),
            on_progress=advance,
        )
    with handled():
        correlations = correlate_since(get_database(), actor=CLI, since=started)
    if as_json:
        print_json({**to_plain(summary), "correlations": correlations})
        return
    table = Table(title=f"{file.name} → {summary.source}: {summary.objects:,} objects")
    table.add_column("type")
    for column in TypeCounts.COLUMNS:
        table.add_column(column, justify="right")
    for kind, counts in [*summary.types.items(), ("total", summary.total)]:
        table.add_row(escape(kind), *(f"{getattr(counts, c):,}" for c in TypeCounts.COLUMNS))
    console.print(table)
    console.print(
        f"correlations: {correlations['created']:,} new, {correlations['updated']:,} updated",
        highlight=False,
    )
    values = summary.indicators
    links = summary.links
    console.print(
        f"indicator values: {values.new:,} new, {values.updated:,} known, "
        f"{values.rejected:,} rejected, {values.suppressed:,} on warninglists; "
        f"{values.patterns:,} complex patterns kept as STIX",
        highlight=False,
    )
    console.print(
        f"links: {links.actor_indicators:,} actor, {links.campaign_indicators:,} campaign, "
        f"{links.indicator_techniques:,} technique, {links.campaign_actors:,} campaign "
        f"attributions; [dim]{summary.duration_s:.2f} s[/]",
        highlight=False,
    )
    for error in summary.errors[:10]:
        console.print(f"  object {error.position}: {error.reason}", markup=False)
    rejected = summary.total.rejected
    if rejected > 10:
        console.print(f"  … and {rejected - 10:,} more (see --json)")


@app.command("export")
def export(
    collection: str | None = typer.Option(
        None, "--collection", help="An IOC collection's name (any case) or id."
    ),
    actor: str | None = typer.Option(
        None,
        "--actor",
        help="A threat actor's name or id: with its indicators, campaigns and techniques.",
    ),
    campaign: str | None = typer.Option(
        None,
        "--campaign",
        help="A campaign's name or id: with its indicators, actors and techniques.",
    ),
    query: str | None = typer.Option(
        None,
        "--query",
        help="Indicator filters as key=value,…: 'type=ip,severity=high,tag=emotet'. Keys: "
        "type, severity, active, source, feed, tag, malware_family, q, first_seen_after, "
        "first_seen_before, last_seen_after, last_seen_before.",
    ),
    report: str | None = typer.Option(
        None, "--report", help="A threat report's title or id: with the indicators it cites."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        dir_okay=False,
        writable=True,
        help="The bundle file to write (.json); replaced only once the export succeeds.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print a summary of the export as one JSON object."
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="At most this many indicators, most recently changed first."
    ),
    observables: bool = typer.Option(
        False, "--observables", help="Add each indicator's cyber observable (SCO)."
    ),
) -> None:
    """Export one selection as a STIX 2.1 bundle: objects, relationships, TLP markings."""
    partial = output.with_name(output.name + ".part")
    with handled():
        filters = parse_query(query) if query is not None else None
        with (
            get_database().transaction(readonly=True) as session,
            Progress(
                TextColumn("[bold]STIX[/] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=as_json,
            ) as progress,
        ):
            selection = resolve(
                session,
                collection=collection,
                actor=actor,
                campaign=campaign,
                report=report,
                query=filters,
                limit=limit,
                load_indicators=False,
            )
            # The command line is the local operator: an admin's direct export.
            selection.check_released()
            task = progress.add_task("indicators", total=selection.indicator_total or 0)
            try:
                summary = write_bundle(
                    session,
                    selection=selection,
                    output=partial,
                    observables=observables,
                    on_progress=lambda done: progress.update(task, completed=done),
                )
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        partial.replace(output)
        summary.output = str(output)
    withheld = selection.withheld_total
    if as_json:
        print_json({**summary.as_dict(), "withheld_by_tlp": withheld})
        return
    table = Table(title=f"{escape(summary.title)}: {summary.objects:,} STIX objects")
    table.add_column("type")
    table.add_column("objects", justify="right")
    for kind, count in sorted(summary.by_type.items()):
        table.add_row(kind, f"{count:,}")
    console.print(table)
    console.print(
        f"Wrote {escape(str(output))} in {summary.duration_s:.2f} s; withheld by TLP: {withheld:,}",
        highlight=False,
    )
