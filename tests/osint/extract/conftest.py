"""The ``krsn`` command line run in-process, pointed at the test's database on each engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from krsn.cli.main import app
from krsn.config import get_settings
from krsn.db import Database, get_database, set_database


class Cli:
    """Runs ``krsn …`` as a user would type it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input)

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run a command that must succeed."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        """Run a command with ``--json`` that must succeed, and parse its output."""
        return json.loads(self.ok(*args, "--json").stdout)

    def failed(self, *args: str) -> Result:
        """Run a command that must fail cleanly: non-zero, a message, no traceback."""
        result = self(*args)
        assert result.exit_code != 0, result.stdout
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.stderr
        assert result.stderr.strip()
        return result


@pytest.fixture
def cli(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The command line on a fresh, migrated database (SQLite and PostgreSQL)."""
    monkeypatch.setenv("KRSN_DATABASE_URL", db.url)
    get_settings.cache_clear()
    set_database(None)
    try:
        yield Cli(db)
    finally:
        get_database().dispose()
        set_database(None)
        get_settings.cache_clear()
