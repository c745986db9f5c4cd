"""``krsn extract``: what entity extraction finds in a file, without storing it."""

from __future__ import annotations

import typer


def extract(path: str = typer.Argument(..., help="A text, HTML, PDF or .eml file.")) -> None:
    """Print what extraction finds in a file (to be built)."""
    raise typer.Exit(2)
