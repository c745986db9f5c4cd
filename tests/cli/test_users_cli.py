"""``krsn users``: accounts made and changed from the command line, each change audited."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from krsn.identity.models import AuditLog, Role, User
from krsn.security.passwords import verify_password


def stored_user(cli, username: str) -> User:
    from krsn.identity.users import get_user_by_login

    with cli.database.transaction(readonly=True) as session:
        return get_user_by_login(session, username)


def test_create_prints_a_one_time_password_that_signs_the_user_in_once(cli):
    result = cli.ok("users", "create", "alice", "--email", "alice@example.org", "--role", "analyst")
    password = result.stdout.split("One-time password")[1].split(":", 1)[1].split()[0]
    assert "alice" in result.stdout
    user = stored_user(cli, "alice")
    assert user.role == Role.ANALYST
    assert user.must_change_password is True
    assert verify_password(user.password_hash, password)
    [row] = cli.audit("user.create", user.id)
    assert "password_hash" not in (row.new_values or {})


def test_create_as_json_returns_the_user_and_its_password(cli):
    created = cli.json("users", "create", "bob", "--email", "Bob@Example.org", "--name", "Bob B")
    assert created["user"]["username"] == "bob"
    assert created["user"]["email"] == "bob@example.org"
    assert created["user"]["role"] == "user"
    assert created["user"]["full_name"] == "Bob B"
    assert created["user"]["must_change_password"] is True
    uuid.UUID(created["user"]["id"])
    assert verify_password(stored_user(cli, "bob").password_hash, created["one_time_password"])
    assert cli.audit("user.create", created["user"]["id"])


def test_a_taken_username_is_refused_with_a_message_not_a_traceback(cli):
    cli.ok("users", "create", "carol", "--email", "carol@example.org")
    result = cli.failed("users", "create", "Carol", "--email", "other@example.org")
    assert "taken" in result.stderr
    assert len(cli.audit("user.create")) == 1


def test_a_registered_email_is_refused(cli):
    cli.ok("users", "create", "dave", "--email", "dave@example.org")
    result = cli.failed("users", "create", "dave2", "--email", "DAVE@example.org")
    assert "already registered" in result.stderr


def test_an_invalid_email_role_or_username_is_refused_and_creates_nothing(cli):
    bad_email = cli.failed("users", "create", "erin", "--email", "not-an-email")
    assert "email" in bad_email.stderr
    bad_role = cli.failed("users", "create", "erin", "--email", "erin@example.org", "-r", "god")
    assert "god" in bad_role.stderr
    bad_name = cli.failed("users", "create", "-erin", "--email", "erin@example.org")
    assert "username" in bad_name.stderr
    assert cli.json("users", "list") == []
    assert cli.audit("user.create") == []


def test_list_as_json_shows_every_user_and_filters_by_role(cli):
    cli.ok("users", "create", "ann", "--email", "ann@example.org", "--role", "analyst")
    cli.ok("users", "create", "vic", "--email", "vic@example.org", "--role", "viewer")
    cli.ok("users", "create", "ulf", "--email", "ulf@example.org")
    everyone = cli.json("users", "list")
    assert sorted(u["username"] for u in everyone) == ["ann", "ulf", "vic"]
    analysts = cli.json("users", "list", "--role", "analyst")
    assert [u["username"] for u in analysts] == ["ann"]
    assert [u["username"] for u in cli.json("users", "list", "--search", "VI")] == ["vic"]


def test_list_as_a_table_names_the_users(cli):
    cli.ok("users", "create", "ann", "--email", "ann@example.org")
    assert "ann" in cli.ok("users", "list").stdout
    assert "Nothing to show" in cli.ok("users", "list", "--role", "admin").stdout


def test_show_as_json_finds_a_user_by_username_or_email(cli):
    created = cli.json("users", "create", "fay", "--email", "fay@example.org")
    by_name = cli.json("users", "show", "fay")
    assert by_name["id"] == created["user"]["id"]
    assert cli.json("users", "show", "FAY@example.org")["id"] == by_name["id"]
    assert "password_hash" not in by_name


def test_show_of_an_unknown_user_fails_clearly_even_with_markup_like_input(cli):
    assert "No user" in cli.failed("users", "show", "nobody").stderr
    # Square brackets are Rich markup; they must come out as text, not crash the command.
    assert "[/]" in cli.failed("users", "show", "[/]").stderr


def test_show_prints_free_text_fields_as_they_are(cli):
    cli.ok("users", "create", "gus", "--email", "gus@example.org", "--name", "Gus [/b] [red]")
    assert "Gus [/b] [red]" in cli.ok("users", "show", "gus").stdout


def test_set_role_changes_the_role_and_audits_it(cli):
    created = cli.json("users", "create", "hal", "--email", "hal@example.org")
    cli.ok("users", "set-role", "hal", "analyst")
    assert stored_user(cli, "hal").role == Role.ANALYST
    [row] = cli.audit("user.update", created["user"]["id"])
    assert row.old_values == {"role": "user"}
    assert row.new_values == {"role": "analyst"}
    assert cli.failed("users", "set-role", "hal", "emperor").exit_code != 0


def test_disable_then_enable_switches_the_account_off_and_on(cli):
    created = cli.json("users", "create", "ivy", "--email", "ivy@example.org")
    cli.ok("users", "disable", "ivy")
    assert stored_user(cli, "ivy").is_active is False
    assert cli.json("users", "show", "ivy")["is_active"] is False
    cli.ok("users", "enable", "ivy")
    assert stored_user(cli, "ivy").is_active is True
    rows = cli.audit("user.update", created["user"]["id"])
    assert [r.new_values["is_active"] for r in rows] == [False, True]


def test_enable_clears_a_lockout(cli):
    from krsn.db.types import utcnow

    cli.ok("users", "create", "jo", "--email", "jo@example.org")
    with cli.database.transaction() as session:
        user = session.get(User, stored_user(cli, "jo").id)
        assert user is not None
        user.failed_login_count = 5
        user.locked_until = utcnow()
    cli.ok("users", "enable", "jo")
    user = stored_user(cli, "jo")
    assert user.failed_login_count == 0
    assert user.locked_until is None


def test_the_last_admin_cannot_be_disabled(cli):
    cli.ok("users", "create", "root", "--email", "root@example.org", "--role", "admin")
    assert "last active admin" in cli.failed("users", "disable", "root").stderr
    assert stored_user(cli, "root").is_active is True


def test_reset_password_gives_a_new_one_time_password_that_verifies(cli):
    created = cli.json("users", "create", "kai", "--email", "kai@example.org")
    with cli.database.transaction() as session:
        user = session.get(User, uuid.UUID(created["user"]["id"]))
        assert user is not None
        user.must_change_password = False
    reset = cli.json("users", "reset-password", "kai")
    assert reset["username"] == "kai"
    user = stored_user(cli, "kai")
    assert verify_password(user.password_hash, reset["one_time_password"])
    assert not verify_password(user.password_hash, created["one_time_password"])
    assert user.must_change_password is True
    assert cli.audit("user.reset_password", user.id)
    plain = cli.ok("users", "reset-password", "kai").stdout
    assert plain.split(":", 1)[1].split()[0] not in (reset["one_time_password"], "")


def test_commands_on_an_unknown_user_fail_clearly(cli):
    for command in (["set-role", "ghost", "admin"], ["disable", "ghost"], ["enable", "ghost"]):
        assert "ghost" in cli.failed("users", *command).stderr
    assert "ghost" in cli.failed("users", "reset-password", "ghost").stderr


def test_bootstrap_creates_the_first_admin_once(cli):
    first = cli.ok("users", "bootstrap")
    assert "First admin created" in first.stdout
    password = first.stdout.split("One-time password:")[1].split()[0]
    admin = stored_user(cli, "admin")
    assert admin.role == Role.ADMIN
    assert admin.must_change_password is True
    assert verify_password(admin.password_hash, password)

    again = cli.ok("users", "bootstrap")
    assert "nothing to do" in again.stdout
    assert verify_password(stored_user(cli, "admin").password_hash, password)
    assert [u["username"] for u in cli.json("users", "list")] == ["admin"]

    # The first admin is made from the command line, and its audit row says so.
    with cli.database.transaction(readonly=True) as session:
        rows = session.scalars(
            select(AuditLog).where(
                AuditLog.action == "user.create", AuditLog.resource_id == str(admin.id)
            )
        ).all()
    assert [r.metadata_ for r in rows] == [{"via": "cli"}]


def test_bootstrap_with_a_name_promotes_an_existing_user_to_admin(cli):
    cli.ok("users", "create", "lea", "--email", "lea@example.org")
    result = cli.ok("users", "bootstrap", "--username", "lea")
    password = result.stdout.split("One-time password:")[1].split()[0]
    lea = stored_user(cli, "lea")
    assert lea.role == Role.ADMIN
    assert verify_password(lea.password_hash, password)
    promotions = cli.audit("user.update", lea.id)
    assert promotions and promotions[-1].new_values["role"] == "admin"
