"""`tokenidp users add|disable|set-password|list`: argon2id hashes with the stated
parameters, a random subject, passwords never echoed or stored, every change audited."""

from __future__ import annotations

import json

from clients_support import audit_rows
from idp_support import invoke_tokenidp
from sqlalchemy import select

from app.storage.engine import create_storage_engine, database_url
from app.storage.schema import users

PASSWORD = "tr0ub4dor&3 but longer"


def user_rows(environ: dict, config_dir) -> list[dict]:
    engine = create_storage_engine(database_url(environ["TOKENIDP_DATABASE_URL"], config_dir))
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(select(users)).mappings()]
    engine.dispose()
    return rows


def add_alice(environ: dict, *options: str):
    return invoke_tokenidp(
        "users", "add", "alice", "--name", "Alice Liddell", "--email", "alice@example.com",
        "--password-stdin", *options, environ=environ, stdin=f"{PASSWORD}\n",
    )  # fmt: skip


def test_users_add_stores_an_argon2id_hash_and_a_random_subject(environ, config_dir):
    result = add_alice(environ)

    assert result.exit_code == 0, result.stderr
    [row] = user_rows(environ, config_dir)
    assert row["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert row["subject"] != "alice" and len(row["subject"]) >= 22
    assert (row["name"], row["email"], row["disabled_at"]) == (
        "Alice Liddell",
        "alice@example.com",
        None,
    )
    assert PASSWORD not in result.output


def test_users_add_twice_is_refused_with_exit_1(environ):
    add_alice(environ)
    again = add_alice(environ)
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_users_add_without_a_terminal_or_stdin_flag_is_a_usage_error(environ):
    result = invoke_tokenidp("users", "add", "bob", environ=environ, stdin="")
    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr


def test_a_short_password_is_refused(environ, config_dir):
    result = invoke_tokenidp(
        "users", "add", "bob", "--password-stdin", environ=environ, stdin="short\n"
    )
    assert result.exit_code == 2
    assert "8 to 1024 characters" in result.stderr
    assert user_rows(environ, config_dir) == []


def test_every_user_change_is_audited_without_the_password(environ, config_dir):
    as_alice = {**environ, "LOGNAME": "ops", "USER": "ops", "SUDO_USER": None}
    add_alice(as_alice, "--reason", "TICKET-7")
    changed = invoke_tokenidp(
        "users", "set-password", "alice", "--password-stdin",
        environ=as_alice, stdin="a brand new passphrase\n",
    )  # fmt: skip
    disabled = invoke_tokenidp("users", "disable", "alice", environ=as_alice)
    again = invoke_tokenidp("users", "disable", "alice", environ=as_alice)

    assert (changed.exit_code, disabled.exit_code, again.exit_code) == (0, 0, 0)
    assert "disabled already" in again.stdout
    [row] = user_rows(environ, config_dir)
    assert row["disabled_at"] is not None and row["password_changed_at"] >= row["created_at"]
    audit = audit_rows(environ["TOKENIDP_DATABASE_URL"], config_dir)
    assert [(event["event"], event["actor"], event["subject"]) for event in audit] == [
        ("admin.users.add", "ops", row["subject"]),
        ("admin.users.set_password", "ops", row["subject"]),
        ("admin.users.disable", "ops", row["subject"]),
    ]
    assert audit[0]["reason"] == "TICKET-7"
    assert json.loads(audit[0]["detail"]) == {"username": "alice"}
    assert PASSWORD not in repr(audit) and "brand new" not in repr(audit)


def test_set_password_for_an_unknown_user_exits_1(environ):
    result = invoke_tokenidp(
        "users", "set-password", "nobody", "--password-stdin", environ=environ,
        stdin=f"{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no user 'nobody'" in result.stderr


def test_users_list_fits_80_columns_and_has_json(environ):
    add_alice(environ)
    table = invoke_tokenidp("users", "list", environ=environ)
    as_json = invoke_tokenidp("users", "list", "--json", environ=environ)

    assert table.exit_code == 0
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    assert "alice" in table.stdout and "active" in table.stdout
    [listed] = json.loads(as_json.stdout)["users"]
    assert listed["username"] == "alice" and listed["disabled"] is False
    assert "password_hash" not in listed and "$argon2" not in as_json.stdout


def test_clients_add_registers_post_logout_redirect_uris(environ):
    result = invoke_tokenidp(
        "clients", "add", "spa", "--grant", "client_credentials", "--scope", "orders.read",
        "--redirect-uri", "https://app.example.com/callback",
        "--post-logout-redirect-uri", "https://app.example.com/signed-out",
        environ=environ,
    )  # fmt: skip
    listed = invoke_tokenidp("clients", "list", "--json", environ=environ)
    bad = invoke_tokenidp(
        "clients", "add", "spa2", "--grant", "client_credentials", "--scope", "orders.read",
        "--post-logout-redirect-uri", "http://app.example.com/bye", environ=environ,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    [client] = [c for c in json.loads(listed.stdout)["clients"] if c["client_id"] == "spa"]
    assert client["post_logout_redirect_uris"] == ["https://app.example.com/signed-out"]
    assert bad.exit_code == 2 and "--post-logout-redirect-uri" in bad.stderr
