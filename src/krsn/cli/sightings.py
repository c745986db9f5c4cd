"""``krsn sightings``: observables seen in your environment, matched as they arrive."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Sightings: observables seen in your environment, matched against indicators "
    "and watchlists.",
    no_args_is_help=True,
)
