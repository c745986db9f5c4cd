"""``krsn apikeys``: create (shown once), list and revoke API keys."""

from __future__ import annotations

import uuid

import typer
from rich.markup import escape

from krsn.cli.output import JsonOption, console, fail, handled, print_json, print_table
from krsn.db import get_database
from krsn.identity import api_keys as service
from krsn.identity.audit import Actor
from krsn.identity.schemas import ApiKeyRead
from krsn.identity.users import get_user_by_login

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)

CLI = Actor(user_id=None, via="cli")
COLUMNS = [
    "id",
    "name",
    "key_prefix",
    "scopes",
    "is_active",
    "expires_at",
    "last_used",
    "usage_count",
    "rate_limit",
]


@app.command()
def create(
    user: str = typer.Option(..., "--user", "-u", help="Owner's username or e-mail."),
    name: str = typer.Option(..., "--name", "-n", help="What the key is for."),
    scope: list[str] | None = typer.Option(
        None, "--scope", "-s", help="read, account, write or admin; repeat. Default: the role's."
    ),
    expires_in_days: int | None = typer.Option(
        None, "--expires-in-days", min=1, max=3650, help="Days until the key stops working."
    ),
    rate_limit: int = typer.Option(100, "--rate-limit", min=1, help="Requests per minute."),
    as_json: bool = JsonOption,
) -> None:
    """Create a key; it is printed once, store it now."""
    with handled(), get_database().transaction() as session:
        owner = get_user_by_login(session, user)
        key, plaintext = service.create_api_key(
            session,
            actor=CLI,
            user_id=owner.id,
            name=name,
            scopes=scope or None,
            expires_in_days=expires_in_days,
            rate_limit=rate_limit,
        )
        read = ApiKeyRead.model_validate(key)
    if as_json:
        print_json({"api_key": read, "key": plaintext})
        return
    name = escape(read.name or "")
    console.print(f"Created key [bold]{name}[/] ({read.id}) for {escape(user)}.")
    console.print(f"Key (shown once): [bold]{plaintext}[/]")


@app.command("list")
def list_(
    user: str | None = typer.Option(None, "--user", "-u", help="Only this user's keys."),
    limit: int = typer.Option(100, "--limit", min=1, max=500, help="How many to show."),
    as_json: bool = JsonOption,
) -> None:
    """List keys (never the keys themselves)."""
    with handled(), get_database().transaction(readonly=True) as session:
        owner = get_user_by_login(session, user).id if user else None
        page = service.list_api_keys(session, owner_id=owner, limit=limit)
        rows = [ApiKeyRead.model_validate(k) for k in page.items]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS, title=f"API keys ({page.total})")


@app.command()
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (from 'krsn apikeys list')."),
) -> None:
    """Revoke a key at once."""
    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        fail(f"{key_id!r} is not a key id; ids look like 3f2b…-…, see 'krsn apikeys list'.")
    with handled(), get_database().transaction() as session:
        service.revoke_api_key(session, actor=CLI, key_id=parsed, owner_id=None)
    console.print(f"Key {key_id} is revoked.")
