"""``krsn graph``: The link graph: neighbours, paths, rankings."""

from __future__ import annotations

import typer

app = typer.Typer(help="The link graph: neighbours, paths, rankings.", no_args_is_help=True)
