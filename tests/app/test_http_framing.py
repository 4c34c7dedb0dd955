"""What the server does with a request whose framing is wrong: each adapter in-process, and
a real gunicorn under TokenIDP's configuration."""

from __future__ import annotations

import socket

import pytest
from asgi_support import asgi_request
from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore, Gunicorn, new_key

from app import create_app
from app.documents import JWKS_PATH, TOKEN_PATH
from app.http.application import serve

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BODY = f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}".encode()


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("framing")
    store = CertStore(folder / "certstores")
    signing = store.add(key=new_key("ec"))
    return store.environ(CertificateThumbprint=signing.thumbprint), store, folder


@pytest.fixture(scope="module")
def application(configured):
    _, store, folder = configured
    signing = next(store.folder.glob("*.pfx")).stem
    return serve(create_app(store.settings(folder, CertificateThumbprint=signing)))


@pytest.fixture(scope="module")
def server(configured):
    environ, _, folder = configured
    gunicorn = Gunicorn(environ, cwd=folder)
    gunicorn.wait_ready()
    yield gunicorn
    gunicorn.stop()


def test_a_body_cut_short_by_a_disconnect_is_refused_by_the_asgi_adapter(application):
    """RFC 9112 §6.3: a message closed before its announced length is incomplete."""
    answer = asgi_request(
        application.asgi,
        "POST",
        TOKEN_PATH,
        headers={**FORM, "Content-Length": "300"},
        body=BODY,
        disconnect_after_body=True,
    )
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_request"
    assert "shorter than its Content-Length" in answer.json()["error_description"]


def test_a_stopping_worker_answers_every_request_with_connection_close(configured):
    """On SIGTERM a worker drains before gunicorn's shutdown (app/serving.py): no answer then
    invites another request on a connection the worker is about to close, whether the
    protocol endpoints or Flask answer it."""
    _, store, folder = configured
    signing = next(store.folder.glob("*.pfx")).stem
    application = serve(create_app(store.settings(folder, CertificateThumbprint=signing)))
    assert "connection" not in asgi_request(application.asgi, "GET", JWKS_PATH).headers

    application.asgi.drain()
    for path in (JWKS_PATH, "/healthz"):
        answer = asgi_request(application.asgi, "GET", path)
        assert answer.status == 200
        assert answer.headers["connection"] == "close"


def test_a_body_shorter_than_its_content_length_is_refused_by_the_wsgi_adapter(application):
    client = application.flask_app.test_client()
    environ_overrides = {"CONTENT_LENGTH": "300"}
    response = client.post(TOKEN_PATH, data=BODY, headers=FORM, environ_overrides=environ_overrides)
    assert response.status_code == 400
    assert "shorter than its Content-Length" in response.get_json()["error_description"]


def test_a_client_that_closes_before_its_content_length_gets_no_token(server):
    head = (
        f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 300\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(head + BODY)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert b"access_token" not in answer
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]
