"""``krsn indicators``: search, show one with its sources and score, look up observables, edit
one as an analyst, expire the ones unseen past their lifetime."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import typer
from sqlalchemy.orm import Session

from krsn.cli.output import JsonOption, console, fail, handled, print_json, print_table
from krsn.db import get_database
from krsn.identity.audit import Actor
from krsn.indicators import decay, service
from krsn.indicators import lookup as lookups
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator
from krsn.indicators.schemas import (
    IndicatorDetail,
    IndicatorRead,
    IndicatorSort,
    IntelligenceRead,
)

app = typer.Typer(help="Search, look up and edit threat indicators.", no_args_is_help=True)

CLI = Actor(user_id=None, via="cli")

COLUMNS = [
    "indicator_value",
    "indicator_type",
    "severity",
    "threat_score",
    "is_active",
    "first_seen_at",
    "last_seen_at",
]


def _moment(option: str, given: str | None) -> datetime | None:
    """An ISO 8601 time from the command line, in UTC; naive times are read as UTC."""
    if given is None:
        return None
    try:
        moment = datetime.fromisoformat(given)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        fail(f"{option}: {given!r} is not a time such as 2024-05-01 or 2024-05-01T12:00:00Z.")


@app.command()
def search(
    q: str | None = typer.Argument(
        None, help="Start of the value, defanged or not, e.g. 'evil.' or 'hxxp://evil[.]'."
    ),
    indicator_type: IndicatorType | None = typer.Option(
        None, "--type", help="ip, domain, url, hash or email."
    ),
    severity: Severity | None = typer.Option(None, "--severity"),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="Only active or inactive ones."
    ),
    source: str | None = typer.Option(
        None, "--source", help="A threat source's name or id: indicators it reported."
    ),
    feed: str | None = typer.Option(
        None, "--feed", help="A feed's name or id: indicators it reported."
    ),
    tag: list[str] | None = typer.Option(
        None, "--tag", help="A tag it carries, exactly as stored (repeat: all must be there)."
    ),
    malware_family: str | None = typer.Option(
        None, "--malware-family", help="A malware family it is tied to, exactly as stored."
    ),
    first_seen_after: str | None = typer.Option(
        None,
        "--first-seen-after",
        help="First seen at or after this ISO 8601 time (UTC unless it says).",
    ),
    first_seen_before: str | None = typer.Option(
        None, "--first-seen-before", help="First seen before this time."
    ),
    last_seen_after: str | None = typer.Option(
        None, "--last-seen-after", help="Last seen at or after this time."
    ),
    last_seen_before: str | None = typer.Option(
        None, "--last-seen-before", help="Last seen before this time."
    ),
    sort: IndicatorSort = typer.Option(
        IndicatorSort.UPDATED_DESC,
        "--sort",
        help="A field ascending, or descending with a leading '-' (write --sort=-threat_score). "
        "Those missing the value come last.",
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = JsonOption,
) -> None:
    """Search indicators, most recently changed first unless --sort says otherwise."""
    times: dict[str, Any] = {
        "first_seen_after": _moment("--first-seen-after", first_seen_after),
        "first_seen_before": _moment("--first-seen-before", first_seen_before),
        "last_seen_after": _moment("--last-seen-after", last_seen_after),
        "last_seen_before": _moment("--last-seen-before", last_seen_before),
    }
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.search_indicators(
            session,
            limit=limit,
            sort=sort,
            q=q,
            indicator_type=indicator_type,
            severity=severity,
            is_active=active,
            source=source,
            feed=feed,
            tags=tag or (),
            malware_family=malware_family,
            **times,
        )
        rows = [IndicatorRead.model_validate(i) for i in page.items]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS, title=f"Indicators ({page.total})")


def _detail(session: Session, indicator: ThreatIndicator) -> IndicatorDetail:
    return IndicatorDetail(
        indicator=IndicatorRead.model_validate(indicator),
        intelligence=[
            IntelligenceRead(**r) for r in service.intelligence_of(session, indicator.id)
        ],
    )


@app.command()
def show(
    key: str = typer.Argument(..., help="Id or value (defanged is fine)."),
    as_json: bool = JsonOption,
) -> None:
    """One indicator: its score and why, and what each source said."""
    with handled(), get_database().transaction(readonly=True) as session:
        detail = _detail(session, service.get_indicator(session, key))
    if as_json:
        print_json(detail)
        return
    _describe(detail)


def _describe(detail: IndicatorDetail) -> None:
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
    analyst = meta.get("analyst") or {}
    if analyst.get("false_positive"):
        marked = analyst["false_positive"]
        console.print(f"false positive (marked {marked.get('at')})", markup=False)
    if analyst.get("tags"):
        console.print("analyst tags: " + ", ".join(analyst["tags"]), markup=False)
    if analyst.get("confidence_override") is not None:
        console.print(f"confidence set by an analyst: {analyst['confidence_override']}")
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
        hits, unreadable = lookups.lookup(session, values=given)
        found = [
            {
                "value": h.value,
                "matched": h.matched,
                "severity": h.indicator.severity.value if h.indicator.severity else None,
                "threat_score": h.indicator.threat_score,
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


@app.command()
def edit(
    key: str = typer.Argument(..., help="Id or value (defanged is fine)."),
    false_positive: bool | None = typer.Option(
        None,
        "--false-positive/--not-false-positive",
        help="Mark it a false positive (inactive, its records too), or undo that.",
    ),
    tag: list[str] | None = typer.Option(None, "--tag", help="Add an analyst tag (repeatable)."),
    untag: list[str] | None = typer.Option(
        None, "--untag", help="Remove an analyst tag (repeatable)."
    ),
    confidence: float | None = typer.Option(
        None, "--confidence", min=0, max=100, help="Your confidence, 0-100, used for its score."
    ),
    clear_confidence: bool = typer.Option(
        False, "--clear-confidence", help="Drop your confidence: score from the sources again."
    ),
    status: str | None = typer.Option(
        None, "--status", help="Status of its intelligence records: verified or processed."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Edit an indicator as an analyst; every change is audited."""
    if confidence is not None and clear_confidence:
        fail("Give --confidence or --clear-confidence, not both.")
    changes: dict[str, Any] = {}
    if false_positive is not None:
        changes["false_positive"] = false_positive
    if tag:
        changes["tags_add"] = tag
    if untag:
        changes["tags_remove"] = untag
    if confidence is not None:
        changes["confidence_override"] = confidence
    elif clear_confidence:
        changes["confidence_override"] = None
    if status is not None:
        changes["status"] = status
    if not changes:
        fail("Nothing to change: give --false-positive, --tag, --untag, --confidence...")
    with handled(), get_database().transaction() as session:
        indicator = service.update_indicator(session, actor=CLI, key=key, changes=changes)
        detail = _detail(session, indicator)
    if as_json:
        print_json(detail)
        return
    _describe(detail)


@app.command()
def expire(as_json: bool = JsonOption) -> None:
    """Mark inactive the indicators unseen for longer than their type's lifetime."""
    with handled(), get_database().transaction() as session:
        count = decay.expire_indicators(session, actor=CLI)
    if as_json:
        print_json({"expired": count})
    else:
        console.print(f"{count} indicator(s) expired.")
