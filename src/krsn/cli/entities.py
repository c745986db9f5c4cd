"""``krsn entities``: Entities found by investigations: search, show, merge, split, risk."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Entities found by investigations: search, show, merge, split, risk.", no_args_is_help=True
)
