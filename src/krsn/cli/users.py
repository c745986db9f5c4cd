"""``krsn users``: create, list, show, change role, disable, reset passwords."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.markup import escape

from krsn.cli.output import JsonOption, console, handled, print_json, print_table
from krsn.db import get_database
from krsn.identity import users as service
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.identity.schemas import UserRead

app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)

CLI = Actor(user_id=None, via="cli")
COLUMNS = ["username", "email", "role", "is_active", "mfa_enabled", "last_login", "id"]


@app.command()
def create(
    username: str = typer.Argument(..., help="Login name: letters, digits, _ . -"),
    email: str = typer.Option(..., "--email", "-e", help="E-mail address."),
    role: Role = typer.Option(Role.USER, "--role", "-r", help="admin, analyst, user or viewer."),
    full_name: str | None = typer.Option(None, "--name", help="Full name."),
    as_json: bool = JsonOption,
) -> None:
    """Create a user with a one-time password, printed once, to change at first login."""
    from krsn.identity.schemas import UserCreate

    with handled():
        try:
            body = UserCreate(username=username, email=email, role=role, full_name=full_name)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise typer.BadParameter(f"{where}: {first['msg']}") from None
        with get_database().transaction() as session:
            user, password = service.create_user(
                session,
                actor=CLI,
                username=body.username,
                email=body.email,
                role=body.role,
                full_name=body.full_name,
            )
            read = UserRead.model_validate(user)
    if as_json:
        print_json({"user": read, "one_time_password": password})
        return
    console.print(f"Created [bold]{read.username}[/] ({read.role.value}).")
    console.print(f"One-time password (shown once, change at first login): [bold]{password}[/]")


@app.command("list")
def list_(
    role: Role | None = typer.Option(None, "--role", help="Only this role."),
    search: str | None = typer.Option(None, "--search", "-q", help="Part of name or e-mail."),
    limit: int = typer.Option(100, "--limit", min=1, max=500, help="How many to show."),
    as_json: bool = JsonOption,
) -> None:
    """List users, newest first."""
    with handled(), get_database().transaction(readonly=True) as session:
        page = service.list_users(session, limit=limit, role=role, q=search)
        rows = [UserRead.model_validate(u) for u in page.items]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS, title=f"Users ({page.total})")


@app.command()
def show(
    username: str = typer.Argument(..., help="Username or e-mail."), as_json: bool = JsonOption
) -> None:
    """Show one user."""
    with handled(), get_database().transaction(readonly=True) as session:
        read = UserRead.model_validate(service.get_user_by_login(session, username))
    if as_json:
        print_json(read)
    else:
        for field, value in read.model_dump().items():
            console.print(f"[bold]{field}[/]: {escape(str(value))}")


@app.command("set-role")
def set_role(
    username: str = typer.Argument(..., help="Username or e-mail."),
    role: Role = typer.Argument(..., help="admin, analyst, user or viewer."),
) -> None:
    """Change a user's role."""
    with handled(), get_database().transaction() as session:
        user = service.get_user_by_login(session, username)
        service.set_role(session, actor=CLI, user_id=user.id, role=role)
    console.print(f"{username} is now {role.value}.")


@app.command()
def disable(username: str = typer.Argument(..., help="Username or e-mail.")) -> None:
    """Disable a user: no more logins or API-key use."""
    with handled(), get_database().transaction() as session:
        user = service.get_user_by_login(session, username)
        service.disable_user(session, actor=CLI, user_id=user.id)
    console.print(f"{username} is disabled.")


@app.command()
def enable(username: str = typer.Argument(..., help="Username or e-mail.")) -> None:
    """Enable a disabled user and clear any lockout."""
    with handled(), get_database().transaction() as session:
        user = service.get_user_by_login(session, username)
        service.update_user(
            session, actor=CLI, user_id=user.id, changes={"is_active": True, "unlock": True}
        )
    console.print(f"{username} is enabled.")


@app.command("reset-password")
def reset_password(
    username: str = typer.Argument(..., help="Username or e-mail."), as_json: bool = JsonOption
) -> None:
    """Give a user a new one-time password (printed once) and clear any lockout."""
    with handled(), get_database().transaction() as session:
        user = service.get_user_by_login(session, username)
        _, password = service.reset_password(session, actor=CLI, user_id=user.id)
    if as_json:
        print_json({"username": username, "one_time_password": password})
    else:
        console.print(f"One-time password for {username} (shown once): [bold]{password}[/]")


@app.command()
def bootstrap(username: str = typer.Option("admin", help="Name of the first admin.")) -> None:
    """Create the first admin if there is none, printing its one-time password."""
    with handled(), get_database().transaction() as session:
        created = service.ensure_first_admin(session, actor=CLI, username=username)
        name = created[0].username if created else None
    if created is None:
        console.print("An admin exists already; nothing to do.")
        return
    console.rule("[bold]First admin created")
    console.print(f"Username: [bold]{name}[/]")
    console.print(f"One-time password: [bold]{created[1]}[/]")
    console.print("Sign in with it; you will be asked to choose a new password.")
    console.rule()
