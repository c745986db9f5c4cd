"""``krsn search``: Full-text search across entities, documents, indicators and the audit log."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Full-text search across entities, documents, indicators and the audit log.",
    no_args_is_help=True,
)
