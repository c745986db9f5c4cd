"""The command line against the test's database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from krsn.cli.main import app
from krsn.config import get_settings
from krsn.db import Database, get_database, set_database


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Any:
        return self.runner.invoke(app, list(args))


@pytest.fixture
def cli(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """``krsn`` in-process against the test's database."""
    monkeypatch.setenv("KRSN_DATABASE_URL", db.url)
    get_settings.cache_clear()
    set_database(None)
    try:
        yield Cli()
    finally:
        get_database().dispose()
        set_database(None)
        get_settings.cache_clear()
