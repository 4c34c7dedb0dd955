"""An IdP with people: a confidential web client and a public one registered with the CLI,
a user row, and authorization codes stored with `store_code` as the authorization endpoint
stores them (the login page lands separately), then redeemed over HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from clients_support import add_client
from sqlalchemy import insert

from app.oauth.codes import CodeGrant, new_code, store_code
from app.storage import Storage
from app.storage.schema import users

WEB_CLIENT_ID = "web-app"
PUBLIC_CLIENT_ID = "spa"
REDIRECT_URI = "https://app.example/callback"
PUBLIC_REDIRECT_URI = "http://127.0.0.1:8400/callback"
USER_SUBJECT = "u-7f3a9c"
USER_NAME = "Ada Lovelace"
USER_EMAIL = "ada@example.test"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
ALL_SCOPES = (*OIDC_SCOPES, "orders.read")


def register_people_clients(environ: dict[str, str]) -> str:
    """`tokenidp clients add` for the web client (its secret is returned) and the public one."""
    grants = ("--grant", "authorization_code", "--grant", "refresh_token")
    scopes = tuple(part for scope in ALL_SCOPES for part in ("--scope", scope))
    secret = add_client(environ, WEB_CLIENT_ID, *grants, *scopes, "--redirect-uri", REDIRECT_URI)
    add_client(
        environ,
        PUBLIC_CLIENT_ID,
        *grants,
        *scopes,
        "--redirect-uri",
        PUBLIC_REDIRECT_URI,
        "--public",
    )
    return secret


def add_user(
    storage: Storage,
    subject: str = USER_SUBJECT,
    *,
    name: str | None = USER_NAME,
    email: str | None = USER_EMAIL,
    disabled_at: int | None = None,
) -> None:
    """A users row as `tokenidp users add` writes it; the password hash is never read here."""
    now = int(time.time())
    with storage.transaction() as work:
        work.execute(
            insert(users),
            {
                "username": f"user-{subject}",
                "subject": subject,
                "password_hash": "$argon2id$unused-by-these-tests",
                "name": name,
                "email": email,
                "email_verified": True,
                "created_at": now,
                "password_changed_at": now,
                "disabled_at": disabled_at,
            },
        )


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def issue_code(
    storage: Storage,
    *,
    now: float,
    client_id: str = WEB_CLIENT_ID,
    redirect_uri: str = REDIRECT_URI,
    scopes: tuple[str, ...] = ALL_SCOPES,
    subject: str = USER_SUBJECT,
    nonce: str | None = "n-0S6_WzA2Mj",
    pkce: Pkce | None = None,
) -> str:
    """A code as the authorization endpoint stores it after a login (store_code)."""
    code = new_code()
    grant = CodeGrant(
        client_id=client_id,
        subject=subject,
        redirect_uri=redirect_uri,
        scopes=scopes,
        auth_time=int(now) - 5,
        nonce=nonce,
        code_challenge=pkce.challenge if pkce else None,
        code_challenge_method="S256" if pkce else None,
    )
    with storage.transaction() as work:
        store_code(work, code, grant, now=int(now))
    return code


def config_path(environ: dict[str, str]) -> Path:
    return Path(environ["TOKENIDP_CONFIG_DIR"])
