"""``krsn rules``: Correlation rules: create, switch on and off, and test against past data."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Correlation rules: create, switch on and off, and test against past data.",
    no_args_is_help=True,
)
