"""``krsn search``: Full-text search across entities, documents, indicators and the audit log.

``krsn search QUERY`` prints the best hits with their highlights; ``krsn search --rebuild``
re-reads every searched table into the indices (after a restore or a bulk load that
bypassed them). The command line is the operator's, so it searches the audit log too.
"""

from __future__ import annotations

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from krsn.cli.output import JsonOption, console, fail, handled, print_json
from krsn.db import get_database
from krsn.osint.search import schema, service
from krsn.osint.search.schemas import SearchIndex, SearchResult

app = typer.Typer(
    help="Full-text search across entities, documents, indicators and the audit log.",
    no_args_is_help=True,
    invoke_without_command=True,
    # A group's options normally stop at its first argument (a sub-command's name); this
    # one has none, so options may follow the query: krsn search evil --json.
    context_settings={"allow_interspersed_args": True},
)


def _table(result: SearchResult) -> None:
    count = len(result.items)
    title = Text(f"{count} hit{'' if count == 1 else 's'} for {result.query}")
    table = Table(title=title, title_justify="left")
    for column in ("index", "type", "title", "match", "score", "highlight"):
        table.add_column(column)
    for hit in result.items:
        highlight = Text()
        for fragment in hit.fragments:
            # Text, not markup: '[' in a document is shown, never interpreted.
            highlight.append(fragment.text, style="bold yellow" if fragment.match else "")
        table.add_row(
            Text(hit.index.value),
            Text(hit.type or "-"),
            Text(hit.title[:80]),
            Text(hit.match.value),
            Text(f"{hit.score:.3f}"),
            highlight,
        )
    console.print(table)
    if not result.items:
        console.print("[dim]Nothing found.[/]")
    if result.approximate:
        console.print(
            f"[dim]Best of the first {result.ranked_of:,} matches ranked; "
            f"about {result.total_estimate:,} match in all.[/]"
        )


def _rebuild() -> None:
    stages = [spec.table for spec in schema.INDEXED]
    with (
        Progress(
            TextColumn("[bold]Rebuilding search indices[/] {task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
        get_database().transaction() as session,
    ):
        task = progress.add_task(stages[0], total=len(stages))
        schema.install(session.connection())
        for done, spec in enumerate(schema.INDEXED, start=1):
            schema.rebuild(session.connection(), only=spec)
            progress.update(task, completed=done, description=spec.table)
    console.print("Search indices rebuilt.")


@app.callback()
def search(
    query: str = typer.Argument(
        None, help='Words (all must match), "phrases", prefix*, -excluded.', show_default=False
    ),
    index: list[SearchIndex] = typer.Option(
        [], "--index", "-i", help="Index to search (repeat for several); all by default."
    ),
    type_: str | None = typer.Option(
        None, "--type", help="Entity, document or indicator type, or audited resource type."
    ),
    tag: str | None = typer.Option(None, "--tag", help="Only hits carrying this tag."),
    min_risk: float | None = typer.Option(None, "--min-risk", help="Risk/threat score ≥ this."),
    max_risk: float | None = typer.Option(None, "--max-risk", help="Risk/threat score ≤ this."),
    limit: int = typer.Option(20, "--limit", "-n", help="Hits to show (1-100)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild the indices instead."),
    as_json: bool = JsonOption,
) -> None:
    """Search entities, documents, indicators and the audit log; best hits first."""
    with handled():
        if rebuild:
            _rebuild()
            return
        if not query or not query.strip():
            fail("give a query, e.g. krsn search evil.example.com")
        with get_database().transaction(readonly=True) as session:
            result = service.search(
                session,
                q=query,
                indices=index or tuple(SearchIndex),
                type=type_,
                tag=tag,
                min_risk=min_risk,
                max_risk=max_risk,
                limit=limit,
            )
    if as_json:
        print_json(result)
    else:
        _table(result)
