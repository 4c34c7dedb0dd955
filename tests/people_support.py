"""People-side fixtures: clients that use the authorization endpoint, users, PKCE pairs, and
the rows the endpoint writes, on a real database through our own registration functions."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from app.client_registration import register_client
from app.oauth.codes import code_digest
from app.storage import Storage
from app.storage.engine import create_storage_engine, database_url
from app.storage.schema import audit_events, authorization_codes
from app.users.accounts import add_user

PUBLIC_CLIENT = "spa"
CONFIDENTIAL_CLIENT = "portal"
REDIRECT_URI = "https://app.example.test/callback"
LOGOUT_URI = "https://app.example.test/signed-out"
USERNAME = "alice"
PASSWORD = "correct horse battery staple 2026"


def open_test_storage(url: str, config_dir) -> Storage:
    return Storage(create_storage_engine(database_url(url, config_dir)))


def register_web_clients(storage: Storage, redirect_uri: str = REDIRECT_URI) -> None:
    """A public client (PKCE required) and a confidential one, both allowed the code grant
    (registered as `tokenidp clients add` registers them)."""
    with storage.transaction() as work:
        for client_id, public in ((PUBLIC_CLIENT, True), (CONFIDENTIAL_CLIENT, False)):
            register_client(
                work,
                client_id,
                grant_types=("authorization_code", "refresh_token"),
                scopes=("orders.read",),
                redirect_uris=(redirect_uri,),
                post_logout_redirect_uris=(LOGOUT_URI,),
                is_public=public,
                reason=None,
                now=int(time.time()),
            )


def add_test_user(storage: Storage, username: str = USERNAME, password: str = PASSWORD) -> str:
    """The user's subject."""
    with storage.transaction() as work:
        user = add_user(
            work,
            username,
            password=password,
            name="Alice Liddell",
            email="alice@example.com",
            reason=None,
            now=int(time.time()),
        )
    return user.subject


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorization_parameters(**overrides: str | None) -> dict[str, str]:
    """A valid request of the public client; an override of None leaves a parameter out."""
    _, challenge = pkce_pair()
    parameters: dict[str, str | None] = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile email orders.read",
        "state": "st-" + secrets.token_urlsafe(8),
        "nonce": "n-" + secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {name: value for name, value in parameters.items() if value is not None}


def redirect_query(location: str) -> dict[str, str]:
    """The query a client's redirect URI receives, one value per name."""
    query = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in query.values()), query
    return {name: values[0] for name, values in query.items()}


def code_row(storage: Storage, code: str) -> dict | None:
    with storage.reading() as connection:
        row = connection.execute(
            select(authorization_codes).where(
                authorization_codes.c.code_sha256 == code_digest(code)
            )
        ).first()
    return None if row is None else dict(row._mapping)


def audit_events_named(storage: Storage, *names: str) -> list[dict]:
    with storage.reading() as connection:
        rows = connection.execute(
            select(audit_events).where(audit_events.c.event.in_(names)).order_by(audit_events.c.id)
        ).mappings()
        return [dict(row) for row in rows]


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value") or ""


def form_fields(html: str) -> tuple[str | None, dict[str, str]]:
    """The form's action and its inputs' values, as a browser would submit them."""
    parser = _Form()
    parser.feed(html)
    return parser.action, parser.fields
