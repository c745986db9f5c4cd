"""``krsn incidents``: numbered cases with linked alerts and indicators, and a timeline."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Incidents: numbered cases with linked alerts and indicators, and their timeline.",
    no_args_is_help=True,
)
