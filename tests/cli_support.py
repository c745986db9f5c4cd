"""The ``krsn`` command run in-process, against the test's own database on each engine.

Imported by the conftest of every test folder that runs commands (``from cli_support import
cli``), so there is one way to run one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from krsn.cli.main import app
from krsn.config import get_settings
from krsn.db import Database, get_database, set_database
from krsn.identity.models import AuditLog


class Cli:
    """Runs ``krsn …`` as a user would type it, and reads back what it left in the database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input)

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run a command that must succeed; ``input`` answers its prompts."""
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
        # A deliberate exit, not an exception escaping the command.
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.stderr
        assert result.stderr.strip()
        return result

    def audit(self, action: str, resource_id: object = None) -> list[AuditLog]:
        """The audit rows of this action (on this resource) written by the command line."""
        statement = select(AuditLog).where(AuditLog.action == action)
        if resource_id is not None:
            statement = statement.where(AuditLog.resource_id == str(resource_id))
        with self.database.transaction(readonly=True) as session:
            rows = session.scalars(statement.order_by(AuditLog.created_at)).all()
        return [r for r in rows if (r.metadata_ or {}).get("via") == "cli"]


@pytest.fixture
def cli(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The command line pointed at a fresh, migrated database (SQLite and PostgreSQL)."""
    monkeypatch.setenv("KRSN_DATABASE_URL", db.url)
    get_settings.cache_clear()
    set_database(None)
    try:
        yield Cli(db)
    finally:
        # The commands opened their own engine on the URL; close it before the database goes.
        get_database().dispose()
        set_database(None)
        get_settings.cache_clear()
