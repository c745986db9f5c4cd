"""``krsn apikeys``: keys shown once, stored as a hash, listed without the key, revoked."""

from __future__ import annotations

import hashlib
import uuid

from krsn.identity.models import ApiKey


def stored_key(cli, key_id: str) -> ApiKey:
    with cli.database.transaction(readonly=True) as session:
        key = session.get(ApiKey, uuid.UUID(key_id))
        assert key is not None
        return key


def make_user(cli, username: str, role: str = "analyst") -> str:
    created = cli.json(
        "users", "create", username, "--email", f"{username}@example.org", "-r", role
    )
    return str(created["user"]["id"])


def test_create_as_json_returns_a_key_stored_only_as_its_sha256(cli):
    user_id = make_user(cli, "alice")
    created = cli.json("apikeys", "create", "--user", "alice", "--name", "siem")
    key = created["key"]
    assert key.startswith("krsn_")
    assert created["api_key"]["user_id"] == user_id
    assert created["api_key"]["name"] == "siem"
    assert created["api_key"]["is_active"] is True
    stored = stored_key(cli, created["api_key"]["id"])
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(stored.key_prefix or "-")
    [row] = cli.audit("api_key.create", stored.id)
    assert key not in str(row.new_values) and "key_hash" not in (row.new_values or {})


def test_create_prints_the_key_once_for_people(cli):
    make_user(cli, "alice")
    result = cli.ok("apikeys", "create", "-u", "alice@example.org", "-n", "[/] odd name")
    key = result.stdout.split("Key (shown once):")[1].split()[0]
    assert key.startswith("krsn_")
    assert "[/] odd name" in result.stdout


def test_create_with_scopes_expiry_and_rate_limit(cli):
    make_user(cli, "alice")
    created = cli.json(
        "apikeys",
        "create",
        "--user",
        "alice",
        "--name",
        "reader",
        "--scope",
        "read",
        "--expires-in-days",
        "30",
        "--rate-limit",
        "7",
    )["api_key"]
    assert created["scopes"] == ["read"]
    assert created["rate_limit"] == 7
    assert created["expires_at"] is not None


def test_a_scope_beyond_the_role_or_unknown_is_refused(cli):
    make_user(cli, "vic", role="viewer")
    assert "admin" in cli.failed("apikeys", "create", "-u", "vic", "-n", "x", "-s", "admin").stderr
    assert "bogus" in cli.failed("apikeys", "create", "-u", "vic", "-n", "x", "-s", "bogus").stderr
    assert cli.json("apikeys", "list") == []


def test_an_unknown_user_is_refused(cli):
    result = cli.failed("apikeys", "create", "--user", "ghost", "--name", "siem")
    assert "ghost" in result.stderr
    assert cli.failed("apikeys", "list", "--user", "ghost").exit_code == 1
    assert cli.audit("api_key.create") == []


def test_list_never_shows_the_key_itself(cli):
    make_user(cli, "alice")
    make_user(cli, "bob")
    alice_key = cli.json("apikeys", "create", "--user", "alice", "--name", "one")
    bob_key = cli.json("apikeys", "create", "--user", "bob", "--name", "two")
    listed = cli.ok("apikeys", "list", "--json").stdout
    table = cli.ok("apikeys", "list").stdout
    for created in (alice_key, bob_key):
        assert created["key"] not in listed
        assert created["key"] not in table
        assert stored_key(cli, created["api_key"]["id"]).key_hash not in listed
    assert {k["name"] for k in cli.json("apikeys", "list")} == {"one", "two"}
    assert [k["name"] for k in cli.json("apikeys", "list", "--user", "bob")] == ["two"]


def test_revoke_turns_the_key_off_and_audits_it(cli):
    make_user(cli, "alice")
    key_id = cli.json("apikeys", "create", "--user", "alice", "--name", "siem")["api_key"]["id"]
    assert key_id in cli.ok("apikeys", "revoke", key_id).stdout
    assert stored_key(cli, key_id).is_active is False
    [listed] = cli.json("apikeys", "list")
    assert listed["is_active"] is False
    [row] = cli.audit("api_key.revoke", key_id)
    assert row.new_values == {"is_active": False}
    # Revoking again is harmless and writes nothing more.
    cli.ok("apikeys", "revoke", key_id)
    assert len(cli.audit("api_key.revoke", key_id)) == 1


def test_revoke_refuses_what_is_not_a_key_id(cli):
    assert "not a key id" in cli.failed("apikeys", "revoke", "not-a-uuid").stderr
    assert "[/x]" in cli.failed("apikeys", "revoke", "[/x]").stderr
    assert "No API key" in cli.failed("apikeys", "revoke", str(uuid.uuid4())).stderr
