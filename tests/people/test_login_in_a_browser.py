"""Acceptance: a person signs in at the login page in a real browser (headless Debian
Chromium through Playwright) against the IdP under gunicorn, and the client's loopback
redirect URI receives a code and its state.

The screenshots go to `test-output/` at the top of the checkout (ignored by git), one set
per database engine, where CI can keep them as artifacts. The client then redeems the code
at the token endpoint with its PKCE verifier, as a browser app would.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from clients_support import idp_environ
from idp_support import ROOT, Gunicorn, free_port
from jose import jwt
from people_support import (
    PASSWORD,
    PUBLIC_CLIENT,
    USERNAME,
    add_test_user,
    audit_events_named,
    authorization_parameters,
    code_row,
    open_test_storage,
    pkce_pair,
    register_web_clients,
)
from playwright.sync_api import expect

from app.oauth.authorize import AUTHORIZE_PATH, SIGN_IN_FAILED

OUTPUT = ROOT / "test-output"
pytestmark = pytest.mark.browser  # runs last: see tests/conftest.py


class ClientCallback:
    """The client's redirect URI: a loopback HTTP server that records each query it gets."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[str]]] = []
        received = self.queries

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                if parts.path == "/callback":  # not the browser's /favicon.ico
                    received.append(parse_qs(parts.query))
                body = b"<!doctype html><title>client</title><p>signed in"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def callback():
    server = ClientCallback()
    yield server
    server.stop()


@pytest.fixture
def idp(store, config_dir, signing_certificate, database_url, callback, tmp_path):
    """The IdP under gunicorn with a loopback issuer, a public client and one user."""
    port = free_port()
    environ = {
        **idp_environ(store, config_dir, signing_certificate, database_url),
        "TokenOptions__Issuer": f"http://127.0.0.1:{port}",
    }
    storage = open_test_storage(environ["TOKENIDP_DATABASE_URL"], config_dir)
    register_web_clients(storage, redirect_uri=callback.url)
    add_test_user(storage)
    server = Gunicorn(environ, cwd=tmp_path, port=port)
    try:
        server.wait_ready()
        yield server, storage
    finally:
        server.stop()
        storage.engine.dispose()


def test_a_person_fails_once_then_signs_in_and_the_client_gets_code_and_state(
    chromium, idp, callback, database_url
):
    server, storage = idp
    engine = database_url.split(":", 1)[0]  # sqlite or postgresql: one set of pictures each
    verifier, challenge = pkce_pair()
    parameters = authorization_parameters(redirect_uri=callback.url, code_challenge=challenge)
    url = f"{server.url}{AUTHORIZE_PATH}?" + "&".join(
        f"{name}={value}" for name, value in parameters.items()
    )
    OUTPUT.mkdir(exist_ok=True)
    context = chromium.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    try:
        page.goto(url)

        # The page a person sees, at 320 px wide: labelled fields in order, nothing cut off.
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.screenshot(path=str(OUTPUT / f"login-page-320px-{engine}.png"), full_page=True)
        username, password = page.get_by_label("Username"), page.get_by_label("Password")
        expect(username).to_be_focused()
        page.keyboard.press("Tab")
        expect(password).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Sign in")).to_be_focused()
        for element in (username, password, page.get_by_role("button", name="Sign in")):
            box = element.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320

        # A wrong password: the one message, announced to screen readers, and audited.
        username.fill(USERNAME)
        password.fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text(SIGN_IN_FAILED)
        expect(password).to_be_focused()
        page.screenshot(path=str(OUTPUT / f"login-page-failed-320px-{engine}.png"), full_page=True)
        [failed] = audit_events_named(storage, "user.sign_in_failed")
        assert failed["client_id"] == PUBLIC_CLIENT and '"username": "alice"' in failed["detail"]
        assert callback.queries == []

        # The right password: the browser lands on the client with a code and the state.
        password.fill(PASSWORD)
        with page.expect_navigation(url=f"{callback.url}?*"):
            page.get_by_role("button", name="Sign in").click()
        [query] = callback.queries
        assert set(query) == {"code", "state"}
        assert query["state"] == [parameters["state"]]
        row = code_row(storage, query["code"][0])
        assert row is not None and row["redeemed_at"] is None
        assert (row["client_id"], row["redirect_uri"]) == (PUBLIC_CLIENT, callback.url)
        assert row["nonce"] == parameters["nonce"]
        assert (row["code_challenge"], row["code_challenge_method"]) == (
            parameters["code_challenge"],
            "S256",
        )
        [signed_in] = audit_events_named(storage, "user.signed_in")
        assert signed_in["subject"] == row["subject"]

        # The client redeems the code with its verifier (a public client: client_id alone).
        tokens = requests.post(
            f"{server.url}/connect/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": callback.url,
                "client_id": PUBLIC_CLIENT,
                "code_verifier": verifier,
            },
            timeout=10,
        )
        assert tokens.status_code == 200, tokens.text
        jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=5).json()
        id_token = jwt.decode(
            tokens.json()["id_token"],
            jwks,
            algorithms=["RS256"],
            audience=PUBLIC_CLIENT,
            issuer=server.url,
            access_token=tokens.json()["access_token"],
        )
        assert id_token["sub"] == row["subject"] and id_token["nonce"] == parameters["nonce"]
        assert id_token["auth_time"] == row["auth_time"]

        # A second authorization in the same browser skips the login page.
        again = authorization_parameters(redirect_uri=callback.url)
        page.goto(
            f"{server.url}{AUTHORIZE_PATH}?"
            + "&".join(f"{name}={value}" for name, value in again.items())
        )
        assert len(callback.queries) == 2 and callback.queries[1]["state"] == [again["state"]]
    finally:
        context.close()
    assert Path(OUTPUT / f"login-page-320px-{engine}.png").stat().st_size > 1000
