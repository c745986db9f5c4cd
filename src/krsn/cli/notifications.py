"""``krsn notifications``: channels (email, webhook, Slack, SMS) and deliveries."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Notification channels (email, webhook, Slack, SMS) and their deliveries.",
    no_args_is_help=True,
)
