"""Alembic's environment: the platform's engine, the models as target, the shared hooks.

Logging is left to the application (no ``fileConfig``), and the database URL comes from
:func:`krsn.db.migrate.alembic_config` or, failing that, from the settings.
"""

from __future__ import annotations

from alembic import context

from krsn.db import migrate
from krsn.db.engine import make_engine, normalise_url
from krsn.db.models import Base

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from krsn.config import get_settings

    return get_settings().database_url


def run_offline() -> None:
    """Write the SQL to stdout instead of running it (``--sql``)."""
    url = normalise_url(_url())
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **migrate.migration_options(dialect, Base.metadata),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate in one transaction, serialised against other processes doing the same."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection: migrate.Connection) -> None:
    options = migrate.migration_options(
        connection.dialect.name,
        Base.metadata,
        include_all_dialects=bool(config.attributes.get("include_all_dialects")),
    )
    applied: list[str] = []
    with migrate.sqlite_foreign_keys_off(connection):
        context.configure(
            connection=connection,
            on_version_apply=lambda **step: applied.append(step["step"].up_revision_id),
            **options,
        )
        with context.begin_transaction():
            migrate.lock_for_migration(connection)
            context.run_migrations()
            # A full foreign-key scan is only worth it when a revision actually ran.
            if applied:
                migrate.check_constraints_after_migration(connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
