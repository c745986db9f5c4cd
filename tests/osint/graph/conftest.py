"""The ``krsn`` command line in-process against each test's own database (as tests/cli does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from krsn.cli.main import app
from krsn.config import get_settings
from krsn.db import Database, get_database, set_database


class GraphCli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, ["graph", *args])

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return json.loads(result.stdout)


@pytest.fixture
def graph_cli(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphCli]:
    monkeypatch.setenv("KRSN_DATABASE_URL", db.url)
    get_settings.cache_clear()
    set_database(None)
    try:
        yield GraphCli()
    finally:
        get_database().dispose()
        set_database(None)
        get_settings.cache_clear()
