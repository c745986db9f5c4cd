"""``krsn indicators``: search, show one with its sources and score, look up observables."""

from __future__ import annotations

import json
import sys

import typer

from krsn.cli.output import JsonOption, console, handled, print_json, print_table
from krsn.db import get_database
from krsn.indicators import service
from krsn.indicators.models import IndicatorType, Severity
from krsn.indicators.schemas import IndicatorDetail, IndicatorRead, IntelligenceRead

app = typer.Typer(help="Search and look up threat indicators.", no_args_is_help=True)

COLUMNS = [
    "indicator_value",
    "indicator_type",
    "severity",
    "threat_score",
    "is_active",
    "first_seen_at",
    "last_seen_at",
]


@app.command()
def search(
    q: str | None = typer.Argument(None, help="Value prefix, e.g. 'evil.' or '203.0.113.'."),
    indicator_type: IndicatorType | None = typer.Option(
        None, "--type", help="ip, domain, url, hash or email."
    ),
    severity: Severity | None = typer.Option(None, "--severity"),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="Only active or inactive ones."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """Search indicators, most recently changed first."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.search_indicators(
            session,
            limit=limit,
            q=q,
            indicator_type=indicator_type,
            severity=severity,
            is_active=active,
        )
        rows = [IndicatorRead.model_validate(i) for i in page.items]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS, title=f"Indicators ({page.total})")


@app.command()
def show(
    key: str = typer.Argument(..., help="Id or value (defanged is fine)."),
    as_json: bool = JsonOption,
) -> None:
    """One indicator: its score and why, and what each source said."""
    with handled(), get_database().transaction(readonly=True) as session:
        indicator = service.get_indicator(session, key)
        detail = IndicatorDetail(
            indicator=IndicatorRead.model_validate(indicator),
            intelligence=[
                IntelligenceRead(**r) for r in service.intelligence_of(session, indicator.id)
            ],
        )
    if as_json:
        print_json(detail)
        return
    item = detail.indicator
    console.print(
        f"[bold]{item.indicator_value}[/] ({item.indicator_type.value}) "
        f"severity {item.severity.value if item.severity else '-'}, "
        f"threat score {item.threat_score}, confidence {item.confidence_score}",
        highlight=False,
    )
    console.print(
        f"first seen {item.first_seen_at}, last seen {item.last_seen_at}, "
        f"{'active' if item.is_active else 'inactive'}",
        highlight=False,
    )
    meta = item.metadata or {}
    if meta.get("suppressed_by"):
        console.print(f"suppressed by warninglist {meta['suppressed_by']}", markup=False)
    console.print("why: " + json.dumps(meta.get("score", {}).get("factors", {})), markup=False)
    for record in detail.intelligence:
        console.print(
            f"  {record.source}: {record.status}, confidence {record.source_confidence}",
            markup=False,
        )


@app.command()
def lookup(
    values: list[str] | None = typer.Argument(None, help="Observables; none reads stdin."),
    as_json: bool = JsonOption,
) -> None:
    """Which observables are known active indicators (exact, or IP inside a range)."""
    given = values or [line.strip() for line in sys.stdin if line.strip()]
    with handled(), get_database().transaction(readonly=True) as session:
        hits, unreadable = service.lookup(session, values=given)
        found = [
            {
                "value": h.value,
                "matched": h.matched,
                "severity": h.indicator.severity.value if h.indicator.severity else None,
                "threat_score": float(h.indicator.threat_score)
                if h.indicator.threat_score is not None
                else None,
            }
            for h in hits
        ]
    if as_json:
        print_json({"matches": found, "unreadable": unreadable})
        return
    for hit in found:
        console.print(
            f"{hit['value']} → {hit['matched']} ({hit['severity']}, {hit['threat_score']})",
            markup=False,
        )
    console.print(
        f"{len(found)} match(es) among {len(given)} value(s); {len(unreadable)} unreadable."
    )
