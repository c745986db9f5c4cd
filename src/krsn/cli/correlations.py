"""``krsn correlations``: Threat correlations: discover, list, verify and annotate."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Threat correlations: discover, list, verify and annotate.", no_args_is_help=True
)
