"""Migrations: the packaged revisions build, drop and rebuild the schema on both engines."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations, ops
from sqlalchemy.dialects import postgresql
from typer.testing import CliRunner

import krsn.db.types
from krsn.cli.main import app
from krsn.config import get_settings
from krsn.db import migrate
from krsn.db.base import NAMING_CONVENTION
from krsn.db.engine import make_engine
from krsn.db.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of this test's own, on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'krsn.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_model_table_and_base_removes_them(empty_url: str) -> None:
    model_tables = set(Base.metadata.tables)
    assert migrate.current(empty_url) is None

    migrate.upgrade(empty_url)
    assert model_tables - table_names(empty_url) == set()
    assert migrate.current(empty_url) == migrate.head()
    assert migrate.is_at_head(empty_url)

    migrate.downgrade(empty_url, "base")
    assert table_names(empty_url) <= {"alembic_version"}
    assert migrate.current(empty_url) is None
    assert not migrate.is_at_head(empty_url)

    migrate.upgrade(empty_url)
    assert model_tables - table_names(empty_url) == set()
    assert migrate.current(empty_url) == migrate.head()


def test_migrated_schema_matches_the_models(empty_url: str) -> None:
    migrate.upgrade(empty_url)

    assert migrate.schema_drift(empty_url) == []


def test_drift_check_notices_an_index_missing_from_the_database(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP INDEX idx_users_email"))
    engine.dispose()

    drift = migrate.schema_drift(empty_url)

    assert [(diff[0], diff[1].name) for diff in drift] == [("add_index", "idx_users_email")]


def test_upgrading_an_up_to_date_database_changes_nothing(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    migrate.upgrade(empty_url)

    assert migrate.current(empty_url) == migrate.head()


def test_revisions_form_one_numbered_line_from_the_initial_one() -> None:
    chain = migrate.applied_revisions(migrate.head())

    assert chain[-1] == migrate.INITIAL_REVISION
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+", revision) for revision in chain)
    # alembic_version.version_num holds 32 characters.
    assert all(len(revision) <= 32 for revision in chain)
    numbers = [int(revision[:4]) for revision in reversed(chain)]
    assert numbers == list(range(1, len(chain) + 1))


# --- rendering: what autogenerate writes must run on both engines ---------------------------


def sample_metadata() -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    table = sa.Table(
        "samples",
        metadata,
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("seen_at", krsn.db.types.UTCDateTime()),
        sa.Column("address", krsn.db.types.Inet()),
        sa.Column("secret", krsn.db.types.EncryptedString()),
        sa.Column("credentials", krsn.db.types.EncryptedJSON()),
        sa.Column("attributes", krsn.db.types.JSONType),
        sa.Column("tags", krsn.db.types.TextArray),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("hits", sa.Integer(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", krsn.db.types.UTCDateTime(), server_default=sa.func.now()),
    )
    sa.Index("idx_samples_attributes", table.c.attributes, postgresql_using="gin").ddl_if(
        dialect="postgresql"
    )
    sa.Index("idx_samples_seen_at", table.c.seen_at)
    return metadata, table


def render_upgrade(dialect: str) -> str:
    metadata, table = sample_metadata()
    upgrade_ops = ops.UpgradeOps(
        ops=[
            ops.CreateTableOp.from_table(table),
            ops.ModifyTableOps(
                table.name, [ops.CreateIndexOp.from_index(index) for index in table.indexes]
            ),
        ]
    )
    migrate.wrap_dialect_only_ops(upgrade_ops, migrate.dialect_only_indexes(metadata))
    options = migrate.migration_options(dialect, metadata)
    context = MigrationContext.configure(dialect_name=dialect, opts=options)
    code = render_python_code(
        upgrade_ops,
        render_as_batch=True,
        render_item=options["render_item"],
        migration_context=context,
    )
    # The first line is Alembic's unindented banner comment; the rest is a function body.
    return textwrap.dedent(code.partition("\n")[2])


@pytest.mark.parametrize("autogenerated_on", ["sqlite", "postgresql"])
def test_rendered_migration_code_runs_on_the_target_engine(
    autogenerated_on: str, empty_url: str
) -> None:
    code = render_upgrade(autogenerated_on)
    assert "krsn.db.types.Inet()" in code
    assert "if op.get_context().dialect.name == 'postgresql':" in code

    engine = make_engine(empty_url)
    with engine.begin() as connection:
        namespace = {
            "op": Operations(MigrationContext.configure(connection)),
            "sa": sa,
            "krsn": krsn,
            "postgresql": postgresql,
        }
        exec(compile(code, "<migration>", "exec"), namespace)  # noqa: S102 - our rendered code
        indexes = {index["name"] for index in sa.inspect(connection).get_indexes("samples")}
        dialect = connection.dialect.name
    engine.dispose()

    expected = {"idx_samples_seen_at"}
    if dialect == "postgresql":
        expected.add("idx_samples_attributes")
    assert indexes == expected


def test_postgresql_only_index_is_not_drift_on_sqlite() -> None:
    metadata, table = sample_metadata()
    gin = next(index for index in table.indexes if index.name == "idx_samples_attributes")

    def included(dialect: str) -> bool:
        include = migrate.migration_options(dialect, metadata)["include_object"]
        return bool(include(gin, gin.name, "index", False, None))

    assert not included("sqlite")
    assert included("postgresql")


# --- the krsn db command --------------------------------------------------------------------


@pytest.fixture
def cli_url(monkeypatch: pytest.MonkeyPatch, empty_url: str) -> Iterator[str]:
    """Point the settings at an empty database for the CLI under test."""
    monkeypatch.setenv("KRSN_DATABASE_URL", empty_url)
    get_settings.cache_clear()
    yield empty_url
    get_settings.cache_clear()


def test_cli_upgrade_then_current_reports_at_head(cli_url: str) -> None:
    runner = CliRunner()

    upgraded = runner.invoke(app, ["db", "upgrade"])
    status = runner.invoke(app, ["db", "current", "--json"])

    assert upgraded.exit_code == 0, upgraded.output
    assert json.loads(status.stdout) == {
        "database": json.loads(status.stdout)["database"],
        "current": migrate.head(),
        "head": migrate.head(),
        "at_head": True,
    }


def test_cli_current_on_an_empty_database_is_not_at_head(cli_url: str) -> None:
    result = CliRunner().invoke(app, ["db", "current", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["current"] is None
    assert json.loads(result.stdout)["at_head"] is False


def test_cli_refuses_to_downgrade_to_base_without_yes(cli_url: str) -> None:
    runner = CliRunner()
    runner.invoke(app, ["db", "upgrade"])

    refused = runner.invoke(app, ["db", "downgrade", "base"])
    assert refused.exit_code == 1
    assert "--yes" in refused.stderr
    assert migrate.current(cli_url) == migrate.head()

    # Step back to the first revision; from there, one more step would reach base.
    first = migrate.applied_revisions(migrate.head())[-1]
    assert runner.invoke(app, ["db", "downgrade", first]).exit_code == 0
    one_step_to_base = runner.invoke(app, ["db", "downgrade", "-1"])
    assert one_step_to_base.exit_code == 1

    confirmed = runner.invoke(app, ["db", "downgrade", "base", "--yes"])
    assert confirmed.exit_code == 0, confirmed.output
    assert migrate.current(cli_url) is None


def test_cli_reports_an_unreachable_database_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KRSN_DATABASE_URL", "postgresql://krsn:hunter2@127.0.0.1:1/krsn")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "current"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert "hunter2" not in result.output
    assert "krsn:***@127.0.0.1:1/krsn" in result.stderr
