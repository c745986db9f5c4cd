"""``krsn entities``: Entities found by investigations: search, show, merge, split, risk."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
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
from krsn.db import get_database
from krsn.enrichment import service as enrichment
from krsn.enrichment.models import EnrichmentType
from krsn.enrichment.schemas import AnalysisRead, EnrichmentRead
from krsn.errors import Invalid, NotFound
from krsn.identity.audit import Actor
from krsn.osint.entities import service
from krsn.osint.entities.models import EntityAlias
from krsn.osint.entities.names import resolution_key
from krsn.osint.entities.schemas import EntityDetail, EntitySort, RiskRead
from krsn.osint.models import EntityType, RiskLevel
from krsn.osint.risk.service import rescore_all

app = typer.Typer(
    help="Entities found by investigations: search, show, merge, split, risk.", no_args_is_help=True
)

CLI = Actor(user_id=None, via="cli")

LIST_COLUMNS = ["name", "entity_type", "risk_score", "risk_level", "last_seen", "id"]
RISK_COLUMNS = ["calculated_at", "score", "level", "reasons"]
EntityKey = typer.Argument(
    ..., help="The entity's id, or TYPE:VALUE (domain:evil[.]com, organization:'Acme Inc')."
)


def find_entity(session: Session, key: str) -> uuid.UUID:
    """An entity by id, or by type and name through the names it resolves by."""
    try:
        return service.get_entity(session, uuid.UUID(key)).id
    except ValueError:
        pass
    kind, separator, value = key.partition(":")
    try:
        entity_type = EntityType(kind.strip().lower())
    except ValueError:
        entity_type = None
    if not separator or entity_type is None:
        raise Invalid("entity", f"{key!r} is neither an id nor TYPE:VALUE")
    resolved = resolution_key(entity_type, value)
    if resolved is None:
        raise Invalid("entity", f"{value!r} is not a valid {entity_type.value}")
    alias = session.get(EntityAlias, (entity_type, resolved.key))
    if alias is None:
        raise NotFound(f"No {entity_type.value} entity {resolved.key!r}.")
    return alias.entity_id


def _reasons(row: RiskRead) -> str:
    parts = [f"{f.factor} +{f.contribution:g}" for f in row.factors if f.contribution]
    return ", ".join(parts) or "no risk factor"


def _show(detail: EntityDetail) -> None:
    console.print(f"[bold]{escape(detail.name)}[/] ({detail.entity_type.value})")
    seen = f"{_when(detail.first_seen)} – {_when(detail.last_seen)}" if detail.first_seen else "-"
    for label, value in (
        ("id", detail.id),
        ("normalised", detail.normalized_name or "-"),
        ("risk", f"{detail.risk_score} ({detail.risk_level.value})"),
        ("seen", seen),
        ("sources", detail.source_count),
        ("tags", ", ".join(detail.tags or []) or "-"),
        ("aliases", ", ".join(a.name for a in detail.aliases) or "-"),
    ):
        console.print(f"  {label}: {value}", markup=False, highlight=False)
    if detail.indicator:
        i = detail.indicator
        console.print(
            f"  indicator: {i.value} ({i.indicator_type}, threat score {i.threat_score}, "
            f"{i.severity or '-'}){'' if i.is_active else ' inactive'}",
            markup=False,
            highlight=False,
        )
    if detail.risk_history:
        latest = detail.risk_history[0]
        console.print("  why:", markup=False)
        for factor in latest.factors:
            if factor.contribution:
                console.print(
                    f"    {factor.factor}: +{factor.contribution:g} "
                    f"({factor.weight} × {factor.value:g}) {json.dumps(factor.evidence)[:160]}",
                    markup=False,
                    highlight=False,
                )
    if detail.sources:
        print_table(
            detail.sources[:20],
            ["source_name", "item_type", "extraction_method", "confidence", "collected_at", "id"],
            title=f"Sources ({detail.source_count})",
        )


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


@app.command("list")
def list_(
    entity_type: EntityType | None = typer.Option(None, "--type", help="Only this type."),
    tag: str | None = typer.Option(None, "--tag", help="Only with this tag."),
    min_risk: int | None = typer.Option(None, "--min-risk", min=0, max=100),
    q: str | None = typer.Option(None, "--name", help="The start of the name, any case."),
    sort: EntitySort = typer.Option(EntitySort.RISK_DESC, "--sort"),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    cursor: str | None = typer.Option(None, "--cursor", help="next_cursor of the last page."),
    as_json: bool = JsonOption,
) -> None:
    """Entities, riskiest first."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.page_entities(
            session,
            limit=limit,
            cursor=cursor,
            sort=sort.value,
            entity_type=entity_type,
            tag=tag,
            min_risk=min_risk,
            q=q,
        )
        rows = [service.entity_read(row) for row in page.items]
    if as_json:
        print_page_json(rows, page)
        return
    print_table(rows, LIST_COLUMNS, title=f"Entities ({page.total:,})")


@app.command()
def show(key: str = EntityKey, as_json: bool = JsonOption) -> None:
    """One entity: where it was found, its indicator, its names and why its risk is what it is."""
    with handled(), get_database().transaction(readonly=True) as session:
        detail = service.entity_detail(session, find_entity(session, key))
    if as_json:
        print_json(detail)
        return
    _show(detail)


@app.command()
def search(
    query: str = typer.Argument(..., help='Words, "a phrase", a prefix*, or an IOC.'),
    entity_type: EntityType | None = typer.Option(None, "--type", help="Only this type."),
    tag: str | None = typer.Option(None, "--tag"),
    min_risk: int | None = typer.Option(None, "--min-risk", min=0, max=100),
    limit: int = typer.Option(20, "--limit", min=1, max=100),
    as_json: bool = JsonOption,
) -> None:
    """Full-text search over entity names, ranked, with highlights."""
    from krsn.osint.search.schemas import SearchIndex
    from krsn.osint.search.service import search as run_search

    with handled(), get_database().transaction(readonly=True) as session:
        result = run_search(
            session,
            q=query,
            indices=[SearchIndex.ENTITIES],
            type=entity_type.value if entity_type else None,
            tag=tag,
            min_risk=min_risk,
            limit=limit,
        )
    if as_json:
        print_json(result)
        return
    print_table(
        result.items,
        ["title", "type", "match", "risk", "snippet", "id"],
        title=f"Entities matching {result.query} "
        f"({len(result.items)} of ~{result.total_estimate:,})",
    )


def _confirm(message: str, yes: bool) -> None:
    if not yes and not typer.confirm(message, default=False):
        fail("cancelled: nothing changed")


@app.command()
def merge(
    survivor: str = typer.Argument(..., help="The entity that stays (id or TYPE:VALUE)."),
    merged: list[str] = typer.Argument(..., help="The entities folded into it."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Merge entities into one: sources, edges, enrichments, risk history and names move."""
    database = get_database()
    with handled(), database.transaction(readonly=True) as session:
        keep = service.get_entity(session, find_entity(session, survivor))
        going = [service.get_entity(session, find_entity(session, m)) for m in merged]
        summary = ", ".join(f"{g.name} ({g.id})" for g in going)
        keep_name = keep.name
        keep_id, going_ids = keep.id, [g.id for g in going]
    _confirm(f"Merge {summary} into {keep_name}? They are deleted.", yes)
    with handled(), database.transaction() as session:
        result = service.merge_entities(
            session, actor=CLI, survivor_id=keep_id, merged_ids=going_ids
        )
        row = service.entity_read(result.survivor)
    if as_json:
        print_json(
            {
                "survivor": row,
                "merged": [str(i) for i in result.merged],
                "moved_sources": result.moved_sources,
                "moved_edges": result.moved_edges,
            }
        )
        return
    console.print(
        f"Merged {len(result.merged)} into {escape(row.name)}: {result.moved_sources} sources "
        f"and {result.moved_edges} edges moved; risk {row.risk_score} ({row.risk_level.value})"
    )


@app.command()
def split(
    key: str = EntityKey,
    sources: list[uuid.UUID] = typer.Option(
        ..., "--source", help="A source link id (see `show`) to move; repeat for more."
    ),
    name: str | None = typer.Option(None, "--name", help="The new entity's name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Move some of an entity's sources to a new entity."""
    database = get_database()
    with handled(), database.transaction(readonly=True) as session:
        entity = service.get_entity(session, find_entity(session, key))
        entity_id, label = entity.id, entity.name
    _confirm(f"Move {len(sources)} source(s) of {label} to a new entity?", yes)
    with handled(), database.transaction() as session:
        result = service.split_entity(
            session, actor=CLI, entity_id=entity_id, source_link_ids=sources, name=name
        )
        original = service.entity_read(result.original)
        created = service.entity_read(result.created)
    if as_json:
        print_json(
            {"original": original, "created": created, "moved_sources": result.moved_sources}
        )
        return
    console.print(
        f"Split {escape(original.name)}: {result.moved_sources} source(s) now on "
        f"{escape(created.name)} ({created.id})"
    )


@app.command()
def rescore(
    keys: list[str] | None = typer.Argument(None, help="Entities to rescore (id or TYPE:VALUE)."),
    all_: bool = typer.Option(False, "--all", help="Rescore every entity."),
    as_json: bool = JsonOption,
) -> None:
    """Recompute risk scores now."""
    if not keys and not all_:
        fail("name entities to rescore, or pass --all")
    with handled(), get_database().transaction() as session:
        if all_:
            with Progress(
                TextColumn("[bold]Rescoring[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=as_json,
            ) as progress:
                task = progress.add_task("entities", total=None)

                def moved(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                count = rescore_all(session, progress=moved)
            scores: list[RiskRead] = []
        else:
            ids = [find_entity(session, k) for k in keys or []]
            scores = service.rescore_entities(session, actor=CLI, entity_ids=ids)
            count = len(scores)
    if as_json:
        print_json({"rescored": count, "scores": scores})
        return
    console.print(f"Rescored {count:,} entities")
    for row in scores:
        console.print(
            f"  {row.score} ({row.level.value if row.level else '-'}): {_reasons(row)}",
            markup=False,
        )


@app.command()
def risk(
    key: str = EntityKey,
    limit: int = typer.Option(20, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """An entity's risk history, newest first, with the factors of each computation."""
    with handled(), get_database().transaction(readonly=True) as session:
        rows = service.risk_history(session, find_entity(session, key), limit=limit)
    if as_json:
        print_json(rows)
        return
    lines = [
        _RiskLine(calculated_at=r.calculated_at, score=r.score, level=r.level, reasons=_reasons(r))
        for r in rows
    ]
    print_table(lines, RISK_COLUMNS, title="Risk history")


class _RiskLine(BaseModel):
    """One line of the risk history table."""

    calculated_at: datetime | None
    score: int
    level: RiskLevel | None
    reasons: str


def _data(value: str) -> Any:
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--data is not JSON: {exc}")


@app.command()
def enrich(
    key: str = EntityKey,
    data: str | None = typer.Option(
        None, "--data", help="What the enricher said, as JSON or @file; without it, list them."
    ),
    enrichment_type: EnrichmentType = typer.Option(EnrichmentType.REPUTATION, "--type"),
    enricher: str = typer.Option("analyst", "--enricher", help="What produced it."),
    version: str | None = typer.Option(None, "--version"),
    confidence: float | None = typer.Option(None, "--confidence", min=0, max=1),
    expires: datetime | None = typer.Option(None, "--expires", help="When it is stale (UTC)."),
    include_expired: bool = typer.Option(False, "--expired", help="List expired ones too."),
    as_json: bool = JsonOption,
) -> None:
    """Attach an enrichment to an entity (--data), or list its enrichments."""
    if data is None:
        with handled(), get_database().transaction(readonly=True) as session:
            page = enrichment.page_enrichments(
                session,
                limit=100,
                entity_id=find_entity(session, key),
                include_expired=include_expired,
            )
            rows = [enrichment.enrichment_read(r) for r in page.items]
        if as_json:
            print_page_json(rows, page)
            return
        print_table(
            rows,
            ["enrichment_type", "enricher", "version", "confidence", "enriched_at", "expired"],
            title=f"Enrichments ({page.total})",
        )
        return
    payload = _data(data)
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    with handled(), get_database().transaction() as session:
        row: EnrichmentRead = enrichment.enrichment_read(
            enrichment.add_enrichment(
                session,
                actor=CLI,
                entity_id=find_entity(session, key),
                enrichment_type=enrichment_type,
                enricher=enricher,
                version=version,
                confidence=confidence,
                data=payload,
                expires_at=expires,
            )
        )
    if as_json:
        print_json(row)
        return
    console.print(f"Added {row.enrichment_type.value} enrichment {row.id}")


@app.command()
def analyses(
    key: str | None = typer.Argument(None, help="Only analyses of this entity."),
    analysis_type: str | None = typer.Option(None, "--type"),
    show_id: uuid.UUID | None = typer.Option(None, "--show", help="Show one analysis whole."),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """Analysis results, newest first (or one with --show)."""
    with handled(), get_database().transaction(readonly=True) as session:
        if show_id is not None:
            one = enrichment.analysis_read(enrichment.get_analysis(session, show_id))
        else:
            entity_id = find_entity(session, key) if key else None
            page = enrichment.page_analyses(
                session, limit=limit, entity_id=entity_id, analysis_type=analysis_type
            )
            rows: list[AnalysisRead] = [enrichment.analysis_read(r) for r in page.items]
    if show_id is not None:
        if as_json:
            print_json(one)
            return
        console.print(f"[bold]{escape(one.analysis_type)}[/] {one.analysis_id}")
        console.print(f"  inputs: {', '.join(str(i) for i in one.input_entities) or '-'}")
        console.print(f"  metrics: {json.dumps(one.metrics)}", markup=False)
        for insight in one.insights:
            console.print(f"  - {insight}", markup=False)
        return
    if as_json:
        print_page_json(rows, page)
        return
    print_table(rows, ["analysis_type", "created_at", "input_entities", "id"], title="Analyses")
