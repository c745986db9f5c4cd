"""``krsn watchlists``: Watchlists: blacklists and whitelists of values, with items that expire."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Watchlists: blacklists and whitelists of values, with items that expire.",
    no_args_is_help=True,
)
