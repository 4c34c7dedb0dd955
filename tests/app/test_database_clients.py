"""Clients registered in the database, at the token endpoint: tokens with the printed secret,
a change in effect within the refresh interval, no query per request, secrets that overlap
while rotated, start-up refused for an id in both places, and configuration clients that
keep working while the database cannot be read."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading

import pytest
from asgi_support import asgi_request
from clients_support import (
    FORM,
    MovableClock,
    add_client,
    basic,
    idp_environ,
    token_answer,
    without_configured_clients,
)
from idp_support import CLIENT_ID, CLIENT_SECRET, invoke_tokenidp
from sqlalchemy import event, insert

from app import create_app
from app.client_secrets import client_secret_digest
from app.clients import CLIENT_CACHE_MAX_STALE_SECONDS, CLIENT_REFRESH_SECONDS
from app.config import load_config
from app.documents import TOKEN_PATH
from app.errors import ConfigError
from app.http.application import serve
from app.storage.engine import create_storage_engine, database_url
from app.storage.schema import client_secrets, clients


@pytest.fixture
def environ(store, config_dir, signing_certificate, database_url):
    return idp_environ(store, config_dir, signing_certificate, database_url)


@pytest.fixture
def clock():
    return MovableClock()


@pytest.fixture
def idp(environ, config_dir, clock):
    """The IdP as gunicorn serves it (ASGI and WSGI), on the moved clock."""
    return serve(create_app(load_config(environ, config_dir=config_dir), clock=clock))


def asgi_token(idp, client_id: str, secret: str, scope: str = "billing.read"):
    """A client_credentials request through the ASGI adapter, under an event loop."""
    return asgi_request(
        idp.asgi,
        "POST",
        TOKEN_PATH,
        headers={**FORM, **basic(client_id, secret)},
        body=f"grant_type=client_credentials&scope={scope}".encode(),
    )


def claims(access_token: str) -> dict:
    segment = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def statements_on(engine) -> list[tuple[str, str]]:
    """(thread name, SQL) of every statement the engine runs from now on."""
    seen: list[tuple[str, str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def remember(connection, cursor, statement, parameters, context, executemany):
        seen.append((threading.current_thread().name, statement))

    return seen


class LoggedMessages(logging.Handler):
    """The messages of the `tokenidp` logger while in a `with` block."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def containing(self, text: str) -> list[str]:
        return [message for message in self.messages if text in message]

    def __enter__(self) -> LoggedMessages:
        logging.getLogger("tokenidp").addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        logging.getLogger("tokenidp").removeHandler(self)


def client_reads(statements: list[tuple[str, str]]) -> list[str]:
    """The threads that read the clients table."""
    return [thread for thread, sql in statements if "FROM clients" in sql]


def test_a_client_added_with_the_cli_gets_a_token_with_the_printed_secret(environ, idp, clock):
    secret = add_client(environ, "billing-service")
    clock.advance(CLIENT_REFRESH_SECONDS)

    answer = asgi_token(idp, "billing-service", secret)

    assert answer.status == 200, answer.body
    token = claims(answer.json()["access_token"])
    assert (token["client_id"], token["sub"], token["scope"]) == (
        "billing-service",
        "billing-service",
        "billing.read",
    )


def test_a_fresh_copy_of_the_database_clients_costs_no_query_and_a_stale_one_one_read_off_the_loop(
    environ, idp, clock
):
    secret = add_client(environ, "billing-service")
    clock.advance(CLIENT_REFRESH_SECONDS)
    statements = statements_on(idp.services.storage.engine)

    for _ in range(3):  # the first finds the copy stale; the others use what it read
        assert asgi_token(idp, "billing-service", secret).status == 200
    assert asgi_token(idp, "stranger", secret).status == 401  # unknown ids read nothing either

    [reader] = client_reads(statements)
    assert reader.startswith("tokenidp-storage-reader"), "read in the loop's thread"


def test_requests_that_find_the_copy_stale_together_share_one_read(environ, idp, clock):
    add_client(environ, "billing-service")
    registry = idp.services.clients
    clock.advance(CLIENT_REFRESH_SECONDS)
    statements = statements_on(idp.services.storage.engine)

    async def burst():
        return await asyncio.gather(*(registry.find("billing-service") for _ in range(20)))

    found = asyncio.run(burst())

    assert {client.client_id for client in found} == {"billing-service"}
    assert len(client_reads(statements)) == 1


def test_a_disabled_client_is_refused_within_the_refresh_interval(environ, idp, clock):
    secret = add_client(environ, "billing-service")
    client = idp.flask_app.test_client()
    clock.advance(CLIENT_REFRESH_SECONDS)
    assert token_answer(client, "billing-service", secret)[0] == 200

    result = _invoke(environ, "clients", "disable", "billing-service")
    clock.advance(CLIENT_REFRESH_SECONDS)

    status, body = token_answer(client, "billing-service", secret)
    assert (status, body["error"]) == (401, "invalid_client")
    assert body["error_description"] == "this client is disabled"
    assert f"within {CLIENT_REFRESH_SECONDS:g} s" in result.stdout


def test_a_wrong_secret_for_a_disabled_client_only_fails_authentication(environ, idp, clock):
    """Whether a client exists, or is disabled, is said only to a caller who knows its secret."""
    add_client(environ, "billing-service")
    _invoke(environ, "clients", "disable", "billing-service")
    clock.advance(CLIENT_REFRESH_SECONDS)

    status, body = token_answer(idp.flask_app.test_client(), "billing-service", "guess")

    assert (status, body["error_description"]) == (401, "client authentication failed")


def test_after_rotation_both_secrets_work_during_the_overlap_and_the_old_one_fails_after(
    environ, config_dir, clock
):
    old = add_client(environ, "billing-service")
    client = create_app(load_config(environ, config_dir=config_dir), clock=clock).test_client()

    new = _invoke(environ, "clients", "rotate-secret", "billing-service", "--overlap", "1h")
    new = new.stdout.strip()
    clock.advance(CLIENT_REFRESH_SECONDS)
    assert token_answer(client, "billing-service", old)[0] == 200
    assert token_answer(client, "billing-service", new)[0] == 200

    clock.advance(3600)
    status, body = token_answer(client, "billing-service", old)
    assert (status, body["error"]) == (401, "invalid_client")
    assert body["error_description"] == "this client secret has expired (it was rotated out)"
    assert token_answer(client, "billing-service", new)[0] == 200


def test_a_client_id_in_the_configuration_and_the_database_refuses_start_up(environ, config_dir):
    add_client(without_configured_clients(environ), CLIENT_ID)

    with pytest.raises(ConfigError) as refused:
        create_app(load_config(environ, config_dir=config_dir))

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"Clients:0:ClientId: '{CLIENT_ID}' is also registered in the")


def test_a_public_client_cannot_get_client_credentials_tokens(environ, config_dir, idp, clock):
    """Written behind the CLI's back (which refuses it), with a secret and client_credentials:
    a public client still has no secret, so it fails client authentication."""
    engine = create_storage_engine(database_url(environ["TOKENIDP_DATABASE_URL"], config_dir))
    with engine.begin() as connection:
        connection.execute(
            insert(clients),
            {
                "client_id": "spa",
                "grant_types": "client_credentials",
                "scopes": "billing.read",
                "is_public": True,
                "created_at": 1,
            },
        )
        connection.execute(
            insert(client_secrets),
            {"client_id": "spa", "sha256_digest": client_secret_digest("s"), "created_at": 1},
        )
    engine.dispose()
    clock.advance(CLIENT_REFRESH_SECONDS)

    answer = asgi_token(idp, "spa", "s")

    assert (answer.status, answer.json()["error"]) == (401, "invalid_client")


def test_configuration_clients_work_while_the_database_cannot_be_read_and_database_clients_for_a_while(  # noqa: E501
    store, config_dir, signing_certificate, tmp_path, clock
):
    path = tmp_path / "clients.sqlite3"
    environ = idp_environ(store, config_dir, signing_certificate, f"sqlite:///{path}")
    secret = add_client(environ, "billing-service")
    idp = serve(create_app(load_config(environ, config_dir=config_dir), clock=clock))
    registry = idp.services.clients
    idp.services.storage.engine.dispose()
    path.unlink()
    path.mkdir()  # a directory where the database was: every connection now fails

    def find(client_id: str):
        return asyncio.run(registry.find(client_id))

    logged = LoggedMessages()
    with logged:
        clock.advance(CLIENT_REFRESH_SECONDS)
        assert find(CLIENT_ID).source == "configuration"
        assert find("billing-service").source == "database"  # the last good read
        assert find("billing-service").source == "database"  # no new attempt for a while
        assert len(logged.containing("database clients not refreshed")) == 1
        clock.advance(CLIENT_CACHE_MAX_STALE_SECONDS)
        assert find(CLIENT_ID).source == "configuration"
        assert find("billing-service") is None
        assert len(logged.containing("they are refused until it answers")) == 1
    # At the endpoint a configuration client authenticates; its token cannot be recorded.
    answer = asgi_token(idp, CLIENT_ID, CLIENT_SECRET, scope="orders.read")
    assert (answer.status, answer.json()["error"]) == (503, "temporarily_unavailable")
    assert asgi_token(idp, "billing-service", secret).status == 401


def _invoke(environ: dict, *args: str):
    result = invoke_tokenidp(*args, environ=environ)
    assert result.exit_code == 0, result.stderr
    return result
