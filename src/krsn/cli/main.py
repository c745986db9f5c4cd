"""The ``krsn`` command."""

from __future__ import annotations

import logging

import typer

from krsn.cli import apikeys, config, db, feeds, indicators, users, warninglists
from krsn.cli.ingest import ingest

app = typer.Typer(
    help="KRSN-RT2I: threat intelligence and OSINT investigation.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(apikeys.app, name="apikeys")
app.add_typer(config.app, name="config")
app.add_typer(feeds.app, name="feeds")
app.add_typer(indicators.app, name="indicators")
app.add_typer(warninglists.app, name="warninglists")
app.command("ingest")(ingest)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default KRSN_HOST)."),
    port: int | None = typer.Option(None, help="Port (default KRSN_PORT).", min=1, max=65535),
    workers: int = typer.Option(1, help="Worker processes.", min=1),
) -> None:
    """Serve the API and UI."""
    import uvicorn

    from krsn.config import get_settings

    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # The readiness probe reads the migration state on every call; keep that out of the log.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uvicorn.run(
        "krsn.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=False,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    app()
