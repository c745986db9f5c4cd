"""The ``krsn`` command as a whole: every command explains itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from krsn.cli.main import app


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of this command and of every command under it."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


ALL_COMMANDS = list(command_paths(typer.main.get_command(app)))


def test_every_noun_and_verb_of_the_readme_is_registered():
    names = {" ".join(p) for p in ALL_COMMANDS}
    for noun, verbs in {
        "db": ["upgrade", "downgrade", "current"],
        "users": [
            "create",
            "list",
            "show",
            "set-role",
            "disable",
            "enable",
            "reset-password",
            "bootstrap",
        ],
        "apikeys": ["create", "list", "revoke"],
        "config": ["get", "set", "list"],
    }.items():
        assert {f"{noun} {verb}" for verb in verbs} <= names
    assert "serve" in names


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "krsn")
def test_help_works_for_every_command(path: tuple[str, ...]):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
    assert "--help" in result.stdout
