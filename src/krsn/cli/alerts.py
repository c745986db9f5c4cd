"""``krsn alerts``: Alerts: the triage queue."""

from __future__ import annotations

import typer

app = typer.Typer(help="Alerts: the triage queue.", no_args_is_help=True)
