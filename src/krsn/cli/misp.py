"""``krsn misp``: import MISP events, export a selection as an event, publish a MISP feed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from krsn.cli.output import console, fail, handled, print_json
from krsn.config import get_settings
from krsn.db import get_database
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor

app = typer.Typer(
    help="MISP: import events (file, feed or instance), export a selection, publish a feed.",
    no_args_is_help=True,
)
feed_app = typer.Typer(help="MISP feeds a MISP instance subscribes to.", no_args_is_help=True)
app.add_typer(feed_app, name="feed")

CLI = Actor(user_id=None, via="cli")


@app.command("import")
def import_(
    target: str = typer.Argument(
        ...,
        help="Event JSON file, feed folder or manifest.json, feed or event URL, or a MISP "
        "instance's base URL (with --api-key).",
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar="KRSN_MISP_API_KEY",
        help="The instance's API key: search its events through /events/restSearch. "
        "Read from KRSN_MISP_API_KEY when not given.",
        show_envvar=False,
    ),
    source_name: str | None = typer.Option(
        None, "--source", "-s", help="Provider to credit (default: 'MISP')."
    ),
    reliability: float | None = typer.Option(
        None, "--reliability", min=0, max=100, help="Reliability of a new source, 0–100."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Instance only: events changed since then (MISP's timestamp filter: 7d, 24h or "
        "an epoch).",
    ),
    page_size: int = typer.Option(
        100, "--page-size", min=1, max=10_000, help="Instance only: events per request."
    ),
    to_ids_only: bool = typer.Option(
        False, "--to-ids-only", help="Only attributes flagged for detection (to_ids)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Import MISP events: attributes become indicators; galaxies link actors and techniques."""
    from krsn.db.types import utcnow
    from krsn.detection.correlations.after_import import correlate_since
    from krsn.sharing.misp.documents import open_events
    from krsn.sharing.misp.events import MispImportSummary, import_document, record_import

    if since is not None and not api_key:
        fail("--since filters an instance's search; give --api-key with the instance's URL")
    settings = get_settings()
    started = utcnow()
    filters = {"timestamp": since} if since else None
    rules = {"to_ids_only": to_ids_only}
    with handled():
        documents = open_events(
            target, settings=settings, api_key=api_key, filters=filters, page_size=page_size
        )
        database = get_database()
        with database.transaction() as session:
            source = ensure_source(
                session,
                actor=CLI,
                name=source_name or "MISP",
                reliability=reliability,
            )
        summary = MispImportSummary(source=source.name)
        suppressor = _suppressor()
        with Progress(
            TextColumn("[bold]MISP[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[indicators]} indicators"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress:
            task = progress.add_task(documents.kind, total=documents.total, indicators=0)
            for document in documents:
                progress.update(task, description=escape(document.label))
                # One transaction per document: a long pull keeps what it stored so far.
                with database.transaction() as session:
                    import_document(
                        session,
                        document=document.content,
                        source=source,
                        actor=CLI,
                        summary=summary,
                        suppressor=suppressor,
                        rules=rules,
                        batch_size=settings.ingest_batch_rows,
                    )
                stored = summary.indicators.new + summary.indicators.updated
                progress.update(task, advance=1, indicators=f"{stored:,}")
        with database.transaction() as session:
            record_import(session, actor=CLI, summary=summary, target=_shown(target))
        correlations = correlate_since(database, actor=CLI, since=started)
    result = {
        "target": _shown(target),
        "kind": documents.kind,
        **summary.as_dict(),
        "correlations": correlations,
    }
    if as_json:
        print_json(result)
        return
    _print_import(result)


def _shown(target: str) -> str:
    # A URL's query string may carry credentials; never echo it.
    return target.split("?", 1)[0]


def _print_import(result: dict[str, Any]) -> None:
    table = Table(title=f"{escape(result['target'])} → {escape(result['source'])}")
    columns = ("events", "attributes", "new", "updated", "rejected", "suppressed")
    for column in columns:
        table.add_column(column, justify="right")
    counts = {**result, **result["indicators"]}
    table.add_row(*(f"{counts[c]:,}" for c in columns))
    console.print(table)
    facts = {
        "sightings": f"{result['sightings']:,} on {result['sighted_attributes']:,} attributes",
        "actors created": ", ".join(result["actors_created"]),
        "actor links": f"{result['actor_links']:,}",
        "technique links": f"{result['technique_links']:,}",
        "unknown techniques": ", ".join(result["unknown_techniques"])
        + (" (import ATT&CK with 'krsn attack import')" if result["unknown_techniques"] else ""),
        "correlations": "{created:,} new, {updated:,} updated".format(**result["correlations"]),
    }
    for key, value in facts.items():
        if value and value != "0":
            console.print(f"[bold]{key}[/]: {escape(value)}", highlight=False)
    console.print(f"[dim]{result['duration_s']:.2f} s[/]")
    for error in result["errors"][:10]:
        console.print(f"  attribute {error['line']}: {error['reason']}", markup=False)
    if result["indicators"]["rejected"] > 10:
        console.print(f"  … and {result['indicators']['rejected'] - 10} more (see --json)")


def _suppressor() -> Any:
    from krsn.indicators.warninglists import default_index

    return default_index(get_settings())


_COLLECTION = typer.Option(None, "--collection", "-c", help="An IOC collection (name or id).")
_ACTOR = typer.Option(None, "--actor", "-a", help="A threat actor (name or id).")
_CAMPAIGN = typer.Option(None, "--campaign", help="A campaign (name or id).")
_REPORT = typer.Option(None, "--report", help="A threat report (title or id).")
_QUERY = typer.Option(
    None, "--query", "-q", help="Indicator filters, e.g. 'type=ip,severity=high,tag=emotet'."
)
_LIMIT = typer.Option(None, "--limit", min=1, help="At most this many indicators, latest first.")
_ORG = typer.Option("KRSN-RT2I", "--org", help="The organisation named as the event's creator.")
_MAX_TLP = typer.Option(
    "green",
    "--max-tlp",
    help="The most restrictive TLP the feed carries: clear, green (the default), amber or "
    "amber+strict. TLP:RED never goes into a feed; what is above is withheld and counted.",
)


def _selection(
    session: Any,
    *,
    collection: str | None,
    actor: str | None,
    campaign: str | None,
    report: str | None,
    query: str | None,
    limit: int | None,
    audience: Any = None,
) -> Any:
    from krsn.sharing.selection import parse_query, select
    from krsn.sharing.tlp import OPERATOR_EXPORT

    if sum(v is not None for v in (collection, actor, campaign, report, query)) != 1:
        fail("give exactly one of --collection, --actor, --campaign, --report or --query")
    selection = select(
        session,
        collection=collection,
        actor=actor,
        campaign=campaign,
        report=report,
        query=parse_query(query) if query is not None else None,
        limit=limit,
        audience=audience or OPERATOR_EXPORT,
    )
    selection.check_released()
    return selection


@app.command("export")
def export(
    output: Path = typer.Option(
        ..., "--output", "-o", dir_okay=False, help="Where to write the event JSON."
    ),
    collection: str | None = _COLLECTION,
    actor: str | None = _ACTOR,
    campaign: str | None = _CAMPAIGN,
    report: str | None = _REPORT,
    query: str | None = _QUERY,
    limit: int | None = _LIMIT,
    org: str = _ORG,
    as_json: bool = typer.Option(False, "--json", help="Print a summary as one JSON object."),
) -> None:
    """Write a selection as one MISP event ({"Event": …}) that MISP and PyMISP load."""
    from krsn.sharing.misp.export import export_event, galaxy_refs

    with handled(), get_database().transaction(readonly=True) as session:
        selection = _selection(
            session,
            collection=collection,
            actor=actor,
            campaign=campaign,
            report=report,
            query=query,
            limit=limit,
        )
        event = export_event(session, selection=selection, org=org)
    try:
        output.write_text(json.dumps(event, ensure_ascii=False, indent=2), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    body = event["Event"]
    result = {
        "output": str(output),
        "event_uuid": body["uuid"],
        "info": body["info"],
        "attributes": len(body["Attribute"]),
        "tags": [t["name"] for t in body["Tag"]],
        "galaxy_tags": galaxy_refs(event),
        "withheld_by_tlp": selection.withheld_total,
    }
    if as_json:
        print_json(result)
        return
    console.print(
        f"Wrote [bold]{escape(body['info'])}[/] ({len(body['Attribute']):,} attributes, "
        f"event {body['uuid']}) to {escape(str(output))}; withheld by TLP: "
        f"{selection.withheld_total:,}",
        highlight=False,
    )


@feed_app.command("publish")
def publish(
    directory: Path = typer.Argument(
        ..., file_okay=False, help="The feed folder (created if missing); other events stay."
    ),
    collection: str | None = _COLLECTION,
    actor: str | None = _ACTOR,
    campaign: str | None = _CAMPAIGN,
    report: str | None = _REPORT,
    query: str | None = _QUERY,
    limit: int | None = _LIMIT,
    org: str = _ORG,
    max_tlp: str = _MAX_TLP,
    as_json: bool = typer.Option(False, "--json", help="Print a summary as one JSON object."),
) -> None:
    """Publish a selection into a MISP feed folder: <uuid>.json, manifest.json, hashes.csv.

    A feed is for outside subscribers: only what TLP releases to a feed, up to --max-tlp,
    goes in; the rest is withheld and counted."""
    from krsn.sharing.misp.feed import publish_feed
    from krsn.sharing.tlp import feed_audience

    with (
        handled(),
        Progress(
            TextColumn("[bold]MISP feed[/] {task.description}"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress,
    ):
        task = progress.add_task("selecting", total=None)
        audience = feed_audience(max_tlp)
        with get_database().transaction(readonly=True) as session:
            selection = _selection(
                session,
                collection=collection,
                actor=actor,
                campaign=campaign,
                report=report,
                query=query,
                limit=limit,
                audience=audience,
            )
            progress.update(task, description="writing")
            published = publish_feed(
                session,
                selection=selection,
                directory=directory,
                org=org,
                max_tlp=audience.max_level,
            )
        progress.update(task, description="done")
    if as_json:
        print_json(published.as_dict())
        return
    state = "updated" if published.changed else "unchanged"
    console.print(
        f"Event [bold]{escape(published.info)}[/] {published.event_uuid} {state}: "
        f"{published.attributes:,} attributes; the feed in {escape(published.directory)} "
        f"lists {published.feed_events} event(s); withheld by TLP: "
        f"{published.withheld_by_tlp:,} (max {published.max_tlp}).",
        highlight=False,
    )
