"""The ``krsn`` command."""

from __future__ import annotations

import typer

from krsn.cli import (
    alerts,
    apikeys,
    attack,
    collections,
    config,
    correlations,
    db,
    entities,
    feeds,
    graph,
    incidents,
    indicators,
    misp,
    notifications,
    rules,
    search,
    sightings,
    stix,
    taxii,
    users,
    warninglists,
    watchlists,
)
from krsn.cli.extract import extract
from krsn.cli.ingest import ingest
from krsn.heap import tune_for_batches

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
app.add_typer(attack.app, name="attack")
app.add_typer(stix.app, name="stix")
app.add_typer(misp.app, name="misp")
app.add_typer(taxii.app, name="taxii")
app.add_typer(watchlists.app, name="watchlists")
app.add_typer(sightings.app, name="sightings")
app.add_typer(rules.app, name="rules")
app.add_typer(correlations.app, name="correlations")
app.add_typer(alerts.app, name="alerts")
app.add_typer(incidents.app, name="incidents")
app.add_typer(notifications.app, name="notifications")
app.add_typer(collections.app, name="collections")
app.add_typer(entities.app, name="entities")
app.add_typer(graph.app, name="graph")
app.add_typer(search.app, name="search")
app.command("ingest")(ingest)
app.command("extract")(extract)


@app.callback()
def main() -> None:
    """KRSN-RT2I: threat intelligence and OSINT investigation."""
    # Commands ingest and look up in batches; the collector is tuned for that (see heap).
    tune_for_batches()
    _publish_changes()


def _publish_changes() -> None:
    """With Redis configured, what a command changes (alerts raised by an ingest, an
    incident promoted) reaches the live stream of the running servers."""
    from krsn.config import get_settings
    from krsn.detection.stream.bus import start_publisher

    try:
        start_publisher(get_settings())
    except Exception as exc:  # the settings may be broken; the command itself says how
        import logging

        logging.getLogger(__name__).debug("no stream publisher: %s", exc)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default KRSN_HOST)."),
    port: int | None = typer.Option(None, help="Port (default KRSN_PORT).", min=1, max=65535),
    workers: int = typer.Option(1, help="Worker processes.", min=1),
    scheduler: bool | None = typer.Option(
        None,
        "--scheduler/--no-scheduler",
        help="Run due feeds in the background (default KRSN_SCHEDULER_ENABLED). Each worker "
        "runs one; they claim feeds, so none runs twice.",
    ),
) -> None:
    """Serve the API and UI, with the feed scheduler in the background."""
    import copy
    import os

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from krsn.config import get_settings

    if scheduler is not None:
        # Worker processes read their settings afresh from the environment.
        os.environ["KRSN_SCHEDULER_ENABLED"] = "true" if scheduler else "false"
        get_settings.cache_clear()
    settings = get_settings()
    # Given to uvicorn rather than set here, so each worker process logs the same way: the
    # scheduler's lines come from the workers.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["formatters"]["krsn"] = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    log_config["handlers"]["krsn"] = {
        "class": "logging.StreamHandler",
        "formatter": "krsn",
        "stream": "ext://sys.stderr",
    }
    log_config["root"] = {"handlers": ["krsn"], "level": settings.log_level.upper()}
    # The readiness probe reads the migration state on every call; keep that out of the log.
    log_config["loggers"]["alembic"] = {"level": "WARNING"}
    uvicorn.run(
        "krsn.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=False,
        log_level=settings.log_level.lower(),
        log_config=log_config,
    )


if __name__ == "__main__":
    app()
