"""An IdP on a migrated database (SQLite or PostgreSQL) with three clients, and the calls its
introspection and revocation tests make: over WSGI (Flask's test client) or ASGI."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from asgi_support import asgi_request
from idp_support import (
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    CertStore,
    client_environ,
    migrate_database,
)
from sqlalchemy import select

from app import create_app
from app.config import load_config
from app.documents import INTROSPECTION_PATH, REVOCATION_PATH, TOKEN_PATH
from app.http.application import serve
from app.storage.engine import database_url
from app.storage.schema import audit_events, revocation_rules
from app.tokens.claims import build_access_token_claims
from app.tokens.signer import ACCESS_TOKEN_TYPE, TokenSigner

OTHER_CLIENT_ID = "billing-service"
OTHER_CLIENT_SECRET = "another correct horse"
RESOURCE_SERVER_ID = "orders-api"  # allowed the scope `introspect`
RESOURCE_SERVER_SECRET = "the api's own secret"
UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/none"
FORM_TYPE = "application/x-www-form-urlencoded"


def idp_environ(store: CertStore, config_dir: Path, url: str, **token_options: str) -> dict:
    """Production settings on the database at `url` (migrated here), with three clients."""
    if url != UNREACHABLE_DATABASE:
        migrate_database(database_url(url, config_dir))
    environ = store.environ(**token_options)
    environ["TOKENIDP_DATABASE_URL"] = url
    environ["TOKENIDP_CONFIG_DIR"] = str(config_dir)
    environ.update(client_environ(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, index=1))
    environ.update(client_environ(RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET, index=2))
    environ["Clients__2__AllowedScopes__2"] = "introspect"
    return environ


@dataclass
class Answer:
    """Status, headers (names in lower case) and body, whichever adapter answered."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Idp:
    """The IdP built from `environ`, called through one adapter ("wsgi" or "asgi")."""

    def __init__(
        self,
        environ: dict,
        config_dir: Path,
        *,
        adapter: str = "wsgi",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.flask_app = create_app(load_config(environ, config_dir=config_dir), clock=clock)
        self.services = self.flask_app.extensions["tokenidp"]
        self.adapter = adapter
        self.application = serve(self.flask_app)

    def post(self, path: str, form: dict, *, auth: tuple[str, str] | None) -> Answer:
        headers = {"Content-Type": FORM_TYPE}
        if auth is not None:
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {credentials}"
        if self.adapter == "asgi":
            body = urlencode(form).encode()
            answer = asgi_request(self.application, "POST", path, headers=headers, body=body)
            return Answer(answer.status, _lower(answer.headers.items()), answer.body)
        response = self.flask_app.test_client().post(path, data=form, headers=headers)
        return Answer(response.status_code, _lower(response.headers.items()), response.data)

    def issue(self, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
        answer = self.post(
            TOKEN_PATH, {"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert answer.status == 200, answer.body
        return answer.json()["access_token"]

    def introspect(
        self, token: str, *, auth: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET), **form: str
    ) -> Answer:
        return self.post(INTROSPECTION_PATH, {"token": token, **form}, auth=auth)

    def is_active(self, token: str, *, auth: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET)) -> bool:
        answer = self.introspect(token, auth=auth)
        assert answer.status == 200, answer.body
        return answer.json()["active"]

    def revoke(
        self, token: str, *, auth: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET), **form: str
    ) -> Answer:
        return self.post(REVOCATION_PATH, {"token": token, **form}, auth=auth)

    def rules(self) -> list[dict]:
        with self.services.storage.reading() as connection:
            rows = connection.execute(select(revocation_rules).order_by(revocation_rules.c.id))
            return [dict(row._mapping) for row in rows]

    def audit(self, event: str) -> list[dict]:
        with self.services.storage.reading() as connection:
            rows = connection.execute(
                select(audit_events)
                .where(audit_events.c.event == event)
                .order_by(audit_events.c.id)
            )
            return [dict(row._mapping) for row in rows]


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def claims_of(token: str) -> dict:
    """The payload as written (tests read what the IdP put in the token)."""
    return _segment(token, 1)


def header_of(token: str) -> dict:
    return _segment(token, 0)


def _segment(token: str, index: int) -> dict:
    segment = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def signed_token(private_key, *, kid: str, algorithm: str = "RS256", **overrides) -> str:
    """An access token signed with `private_key` under `kid`: the IdP's claims by default,
    each overridable (iss, aud, exp, …); signed by our own signer."""
    now = int(time.time())
    claims = build_access_token_claims(
        issuer=ISSUER,
        audience=AUDIENCE,
        client_id=CLIENT_ID,
        subject=CLIENT_ID,
        scopes=("orders.read",),
        issued_at=now,
        lifetime_seconds=3600,
    )
    claims.update(overrides)
    signer = TokenSigner(private_key, kid=kid, algorithm=algorithm)
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return signer.sign(payload, token_type=ACCESS_TOKEN_TYPE)
