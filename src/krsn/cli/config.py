"""``krsn config``: read and set system configuration values."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from krsn.cli.output import JsonOption, console, handled, print_json, print_table
from krsn.db import get_database
from krsn.identity import configuration as service
from krsn.identity.audit import Actor
from krsn.identity.models import ConfigCategory
from krsn.identity.schemas import ConfigRead

app = typer.Typer(help="Read and set system configuration.", no_args_is_help=True)

CLI = Actor(user_id=None, via="cli")


def _parse(value: str) -> Any:
    # JSON when it parses (numbers, booleans, lists, objects), a plain string otherwise.
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


@app.command()
def get(
    key: str = typer.Argument(..., help="Configuration key."), as_json: bool = JsonOption
) -> None:
    """Show one value."""
    with handled(), get_database().transaction(readonly=True) as session:
        read = ConfigRead.model_validate(service.get_config(session, key))
    if as_json:
        print_json(read)
    else:
        console.print(
            f"[bold]{read.key}[/] = {escape(json.dumps(read.value))}  "
            f"[dim]({read.category.value})[/]"
        )


@app.command("set")
def set_(
    key: str = typer.Argument(..., help="Configuration key."),
    value: str = typer.Argument(..., help="JSON value, or plain text."),
    category: ConfigCategory | None = typer.Option(None, "--category", help="Where it belongs."),
    description: str | None = typer.Option(None, "--description", help="What it does."),
) -> None:
    """Create or replace a value."""
    with handled(), get_database().transaction() as session:
        entry = service.set_config(
            session,
            actor=CLI,
            key=key,
            value=_parse(value),
            category=category,
            description=description,
        )
        shown = json.dumps(entry.value)
    console.print(f"{key} = {escape(shown)}")


@app.command("list")
def list_(
    category: ConfigCategory | None = typer.Option(None, "--category"), as_json: bool = JsonOption
) -> None:
    """List every value."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.list_config(session, category=category, limit=500)
        rows = [ConfigRead.model_validate(e) for e in page.items]
    if as_json:
        print_json(rows)
    else:
        print_table(
            rows,
            ["key", "value", "category", "description", "updated_at"],
            title="System configuration",
            formatters={"value": lambda v: json.dumps(v)},
        )
