"""Database clients for tests: an IdP environment on a migrated database of each engine, the
CLI that registers clients in it, and a clock the test moves."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from idp_support import AddedCertificate, CertStore, invoke_tokenidp, migrate_database
from sqlalchemy import select

from app.documents import TOKEN_PATH
from app.storage.engine import create_storage_engine, database_url
from app.storage.schema import audit_events

FORM = {"content-type": "application/x-www-form-urlencoded"}


class MovableClock:
    """The IdP's clock (`create_app(clock=...)`): now when made, then only where moved."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def idp_environ(
    store: CertStore, config_dir: Path, signing: AddedCertificate, url: str
) -> dict[str, str]:
    """Production settings with the configured client `orders-service`, on the database at
    `url` brought up to date, as the IdP and the CLI read them."""
    migrate_database(database_url(url, config_dir))
    return {
        **store.environ(CertificateThumbprint=signing.thumbprint),
        "TOKENIDP_DATABASE_URL": url,
        "TOKENIDP_CONFIG_DIR": str(config_dir),
    }


def without_configured_clients(environ: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if not name.startswith("Clients__")}


def add_client(environ: dict[str, str], client_id: str, *options: str) -> str:
    """`tokenidp clients add` with one grant and scope unless given; returns the printed secret."""
    if "--grant" not in options:
        options = ("--grant", "client_credentials", "--scope", "billing.read", *options)
    result = invoke_tokenidp("clients", "add", client_id, *options, environ=environ)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": f"Basic {base64.b64encode(f'{client_id}:{secret}'.encode()).decode()}"}


def token_answer(client, client_id: str, secret: str) -> tuple[int, dict]:
    """A client_credentials request through Flask's test client (the WSGI adapter)."""
    response = client.post(
        TOKEN_PATH, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    return response.status_code, response.get_json()


def audit_rows(url: str, config_dir: Path) -> list[dict]:
    engine = create_storage_engine(database_url(url, config_dir))
    with engine.connect() as connection:
        rows = connection.execute(select(audit_events).order_by(audit_events.c.id)).mappings()
        found = [dict(row) for row in rows]
    engine.dispose()
    return found
