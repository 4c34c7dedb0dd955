"""`tokenidp clients add|list|disable|rotate-secret`: a secret shown once and stored as its
digest, configuration clients left to the configuration, usage errors with exit 2, tables
in 80 columns, and one audit event per change, with who and why."""

from __future__ import annotations

import hashlib
import json

import pytest
from clients_support import add_client, audit_rows, idp_environ, without_configured_clients
from idp_support import CLIENT_ID, invoke_tokenidp
from sqlalchemy import select

from app.storage.engine import create_storage_engine, database_url
from app.storage.schema import client_secrets, clients


@pytest.fixture
def environ(store, config_dir, signing_certificate, database_url):
    return idp_environ(store, config_dir, signing_certificate, database_url)


def stored_rows(environ: dict, config_dir) -> tuple[list[dict], list[dict]]:
    engine = create_storage_engine(database_url(environ["TOKENIDP_DATABASE_URL"], config_dir))
    with engine.connect() as connection:
        client_rows = [dict(row) for row in connection.execute(select(clients)).mappings()]
        secret_rows = [
            dict(row)
            for row in connection.execute(
                select(client_secrets).order_by(client_secrets.c.id)
            ).mappings()
        ]
    engine.dispose()
    return client_rows, secret_rows


def test_clients_add_prints_a_256_bit_secret_once_and_stores_only_its_digest(environ, config_dir):
    result = invoke_tokenidp(
        "clients", "add", "billing-service", "--grant", "client_credentials",
        "--scope", "billing.read", "--scope", "billing.write",
        "--redirect-uri", "https://billing.example.com/callback",
        "--redirect-uri", "http://127.0.0.1:8400/callback",
        environ=environ,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    secret = result.stdout.strip()
    assert result.stdout == f"{secret}\n" and len(secret) >= 43  # token_urlsafe(32)
    assert "will not be shown again" in result.stderr and secret not in result.stderr
    [client], [stored] = stored_rows(environ, config_dir)
    assert client["grant_types"] == "client_credentials"
    assert client["scopes"] == "billing.read billing.write"
    assert client["redirect_uris"].splitlines() == [
        "https://billing.example.com/callback",
        "http://127.0.0.1:8400/callback",
    ]
    assert bytes(stored["sha256_digest"]) == hashlib.sha256(secret.encode()).digest()
    assert stored["expires_at"] is None
    audit = audit_rows(environ["TOKENIDP_DATABASE_URL"], config_dir)
    assert secret not in repr(stored_rows(environ, config_dir)) + repr(audit)


def test_every_client_change_is_audited_with_the_operator_and_the_reason(environ, config_dir):
    as_alice = {**environ, "LOGNAME": "alice", "USER": "alice", "SUDO_USER": None}
    add_client(as_alice, "billing-service", "--reason", "TICKET-1 new service")
    rotated = invoke_tokenidp(
        "clients", "rotate-secret", "billing-service", "--overlap", "2h",
        "--reason", "TICKET-2 leaked in a log", environ=as_alice,
    )  # fmt: skip
    disabled = invoke_tokenidp(
        "clients", "disable", "billing-service", "--reason", "TICKET-3 retired", environ=as_alice
    )

    assert (rotated.exit_code, disabled.exit_code) == (0, 0)
    rows = audit_rows(environ["TOKENIDP_DATABASE_URL"], config_dir)
    assert [
        (row["event"], row["actor"], row["client_id"], row["reason"], row["detail"])
        for row in rows
    ] == [
        (
            "admin.clients.add", "alice", "billing-service", "TICKET-1 new service",
            '{"grant_types": ["client_credentials"], "kind": "confidential", "redirect_uris": []}',
        ),
        (
            "admin.clients.rotate_secret", "alice", "billing-service", "TICKET-2 leaked in a log",
            '{"count": 1, "secret_overlap_seconds": 7200}',
        ),
        ("admin.clients.disable", "alice", "billing-service", "TICKET-3 retired", None),
    ]  # fmt: skip
    assert rows[0]["scopes"] == "billing.read"


@pytest.mark.parametrize(
    "command",
    [
        ("add", CLIENT_ID, "--grant", "client_credentials", "--scope", "orders.read"),
        ("disable", CLIENT_ID),
        ("rotate-secret", CLIENT_ID),
    ],
    ids=["add", "disable", "rotate-secret"],
)
def test_configuration_clients_are_changed_only_in_the_configuration(environ, config_dir, command):
    result = invoke_tokenidp("clients", *command, environ=environ)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"tokenidp: '{CLIENT_ID}' is a configuration client (Clients:0")
    assert len(result.stderr.splitlines()) == 1
    assert stored_rows(environ, config_dir) == ([], [])
    assert audit_rows(environ["TOKENIDP_DATABASE_URL"], config_dir) == []


def test_clients_add_refuses_an_id_already_in_the_database(environ, config_dir):
    add_client(environ, "billing-service")

    result = invoke_tokenidp(
        "clients", "add", "billing-service", "--grant", "client_credentials", "--scope", "x",
        environ=environ,
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == "tokenidp: 'billing-service' is already registered in the database\n"
    assert len(stored_rows(environ, config_dir)[1]) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ("--grant", "client_credentials", "--scope", "x", "--public"),
            "a public client has no secret, so it cannot use client_credentials",
        ),
        (("--grant", "password", "--scope", "x"), "'password' is not supported"),
        (("--grant", "client_credentials", "--scope", "a b"), "'a b' is not a scope"),
        (("--grant", "client_credentials", "--scope", 'say"hi'), "is not a scope"),
        (
            ("--grant", "client_credentials", "--scope", "x", "--redirect-uri", "http://a.test/cb"),
            "only loopback hosts may",
        ),
        (
            (
                "--grant",
                "client_credentials",
                "--scope",
                "x",
                "--redirect-uri",
                "https://a.test/#f",
            ),
            "has a fragment",
        ),
        (
            ("--grant", "client_credentials", "--scope", "x", "--redirect-uri", "/callback"),
            "is not an absolute https URL",
        ),
        (("--scope", "x"), "Missing option '--grant'"),
    ],
    ids=[
        "public-client-credentials",
        "unknown-grant",
        "scope-with-space",
        "scope-with-quote",
        "http-redirect",
        "fragment",
        "relative-redirect",
        "no-grant",
    ],
)
def test_clients_add_refuses_bad_usage_with_exit_2_and_stores_nothing(
    store, config_dir, options, message
):
    environ = {**store.environ(), "TOKENIDP_CONFIG_DIR": str(config_dir)}  # SQLite suffices

    result = invoke_tokenidp("clients", "add", "billing-service", *options, environ=environ)

    assert result.exit_code == 2
    assert message in result.stderr
    assert stored_rows(environ, config_dir) == ([], [])


def test_clients_list_shows_both_sources_in_80_columns_and_as_json(environ):
    add_client(environ, "billing-service-with-a-rather-long-identifier")
    add_client(environ, "reports", "--grant", "client_credentials", "--scope", "reports.read")
    invoke_tokenidp("clients", "rotate-secret", "reports", environ=environ)
    invoke_tokenidp("clients", "disable", "billing-service-with-a-rather-long-identifier",
                    environ=environ)  # fmt: skip

    table = invoke_tokenidp("clients", "list", environ=environ)
    listed = invoke_tokenidp("clients", "list", "--json", environ=environ)

    assert table.exit_code == 0, table.stderr
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    assert table.stdout.splitlines()[0].split() == [
        "CLIENT", "ID", "SOURCE", "STATUS", "SECRETS", "GRANT", "TYPES"
    ]  # fmt: skip
    document = json.loads(listed.stdout)
    assert [
        (c["client_id"], c["source"], c["disabled"], c["active_secrets"], c["scopes"])
        for c in document["clients"]
    ] == [
        (CLIENT_ID, "configuration", False, 1, ["orders.read", "orders.write"]),
        ("billing-service-with-a-rather-long-identifier", "database", True, 1, ["billing.read"]),
        ("reports", "database", False, 2, ["reports.read"]),
    ]
    assert len(document["clients"][2]["secrets_expire_at"]) == 1
    wide = invoke_tokenidp("clients", "list", "--wide", environ=environ)
    assert [line.split()[:3] for line in wide.stdout.splitlines()[2:]] == [
        [CLIENT_ID, "configuration", "active"],
        ["billing-service-with-a-rather-long-identifier", "database", "disabled"],
        ["reports", "database", "active"],
    ]


def test_rotation_never_extends_an_older_secrets_expiry(environ, config_dir):
    add_client(environ, "billing-service")
    for overlap in ("1h", "7d"):
        result = invoke_tokenidp(
            "clients", "rotate-secret", "billing-service", "--overlap", overlap, environ=environ
        )
        assert result.exit_code == 0, result.stderr

    _, (first, second, third) = stored_rows(environ, config_dir)
    assert first["expires_at"] == second["created_at"] + 3600
    assert second["expires_at"] - third["created_at"] == 7 * 86400
    assert third["expires_at"] is None


def test_disabling_twice_changes_and_audits_nothing_the_second_time(environ, config_dir):
    add_client(environ, "billing-service")
    first = invoke_tokenidp("clients", "disable", "billing-service", environ=environ)
    second = invoke_tokenidp("clients", "disable", "billing-service", environ=environ)

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert "was disabled already" in second.stdout and "no change" in second.stdout
    events = [row["event"] for row in audit_rows(environ["TOKENIDP_DATABASE_URL"], config_dir)]
    assert events == ["admin.clients.add", "admin.clients.disable"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ((), "no client 'billing-service' in the database"),
        (("disable",), "'billing-service' is disabled"),
    ],
    ids=["unknown", "disabled"],
)
def test_rotate_secret_fails_for_a_client_it_cannot_rotate(environ, config_dir, setup, message):
    if setup:
        add_client(environ, "billing-service")
        invoke_tokenidp("clients", *setup, "billing-service", environ=environ)

    result = invoke_tokenidp("clients", "rotate-secret", "billing-service", environ=environ)

    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""


def test_a_client_id_in_both_places_makes_tokenidp_check_refuse_with_exit_2(environ):
    add_client(without_configured_clients(environ), CLIENT_ID)

    result = invoke_tokenidp("check", environ=environ)

    assert result.exit_code == 2
    assert result.stderr.startswith(f"tokenidp: Clients:0:ClientId: '{CLIENT_ID}' is also")
    assert len(result.stderr.splitlines()) == 1
