"""``krsn collections``: OSINT collections: jobs that gather from public sources."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="OSINT collections: jobs that gather from public sources.", no_args_is_help=True
)
