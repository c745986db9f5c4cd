"""``krsn warninglists``: import MISP lists, list what is in force, check why a value is stopped."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from krsn.cli.output import JsonOption, console, fail, handled, print_json
from krsn.config import get_settings
from krsn.indicators.normalise import Indicator, normalise
from krsn.indicators.warninglists import (
    Warninglist,
    WarninglistHit,
    default_index,
    import_warninglists,
)

app = typer.Typer(
    help="Warninglists: known-benign values that suppress or annotate indicators.",
    no_args_is_help=True,
)


class ModeChoice(enum.StrEnum):
    ANNOTATE = "annotate"
    SUPPRESS = "suppress"


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="A MISP warninglists folder, one list folder or file."),
    mode: ModeChoice = typer.Option(
        ModeChoice.ANNOTATE,
        "--mode",
        help="annotate (the default) only names the values a list holds; suppress stops them "
        "at ingestion: keep it for lists that never hold a real threat.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Validate MISP lists and copy them into the platform (a list of the same name is replaced)."""
    settings = get_settings()
    with handled():
        names = import_warninglists(path, settings, mode=mode.value)
    if as_json:
        print_json({"imported": names, "mode": mode.value})
        return
    console.print(
        f"{len(names)} list(s) imported to {mode.value}: {', '.join(names)}", markup=False
    )


def _row(wl: Warninglist, mode: str) -> dict[str, Any]:
    return {
        "name": wl.name,
        "type": wl.type,
        "mode": mode,
        "entries": len(wl.entries),
        "origin": "imported" if wl.origin else "built-in",
        "file": Path(wl.origin).name if wl.origin else None,
        "version": wl.version,
        "kinds": sorted(k.value for k in wl.kinds),
        "description": wl.description,
    }


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """The lists in force: built-in and imported, with type, mode, entry count and origin."""
    with handled():
        index = default_index(get_settings(), reload=True)
    rows = [_row(wl, "suppress") for wl in index.lists]
    rows += [_row(wl, "annotate") for wl in index.annotating]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Warninglists ({len(rows)})")
    for column in ("name", "type", "mode", "entries", "origin"):
        table.add_column(column)
    for row in rows:
        origin = row["origin"] + (f" ({row['file']})" if row["file"] else "")
        table.add_row(row["name"], row["type"], row["mode"], str(row["entries"]), origin)
    console.print(table)


def _hit(hit: WarninglistHit) -> dict[str, str]:
    return {"list": hit.name, "entry": hit.entry, "matched": hit.matched}


@app.command()
def check(
    value: str = typer.Argument(..., help="An IP, range, domain, URL, hash or e-mail."),
    as_json: bool = JsonOption,
) -> None:
    """Which lists stop a value and which only annotate it, with the entry that matched."""
    result = normalise(value)
    if not isinstance(result, Indicator):
        fail(f"{value!r} is not an indicator: {result.reason}")
    with handled():
        index = default_index(get_settings(), reload=True)
        stopped = [_hit(h) for h in index.explain(result.kind, result.value)]
        noted = [_hit(h) for h in index.explain_annotations(result.kind, result.value)]
    if as_json:
        print_json(
            {
                "value": value,
                "canonical": result.value,
                "kind": result.kind.value,
                "suppressed_by": stopped,
                "annotations": noted,
            }
        )
        return
    console.print(f"{result.value} ({result.kind.value})", markup=False)
    if not stopped and not noted:
        console.print("on no warninglist: it would be stored as reported.")
    for hit in stopped:
        console.print(
            f"  stopped by {hit['list']}: entry {hit['entry']!r} matches {hit['matched']!r}",
            markup=False,
        )
    for hit in noted:
        console.print(
            f"  annotated by {hit['list']}: entry {hit['entry']!r} matches {hit['matched']!r}",
            markup=False,
        )
