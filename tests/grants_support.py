"""An IdP with people: a confidential web client and a public one registered with the CLI,
a user row, and authorization codes stored with `store_code` as the authorization endpoint
stores them (the login page lands separately), then redeemed over HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from asgi_support import exchange, http_scope
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


def code_flow_tokens(idp, web_secret: str, *, now: float, scopes=ALL_SCOPES) -> dict:
    """Tokens from a code redeemed by the web client (the code stored as authorize stores it)."""
    from app.documents import TOKEN_PATH

    code = issue_code(idp.services.storage, now=now, scopes=scopes)
    answer = idp.post(
        TOKEN_PATH,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(WEB_CLIENT_ID, web_secret),
    )
    assert answer.status == 200, answer.body
    return answer.json()


def refresh_form(refresh_token: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}


async def asgi_post_many(application, path: str, form: dict[str, str], *, auth, count: int):
    """`count` identical form POSTs in flight at once on one event loop, through the ASGI
    adapter gunicorn's asgi worker calls; returns (status, JSON body) for each."""
    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": f"Basic {credentials}",
    }
    scope = http_scope("POST", path, headers)
    incoming = [{"type": "http.request", "body": urlencode(form).encode(), "more_body": False}]

    async def one() -> tuple[int, dict]:
        answer = await exchange(application, scope, incoming)
        return answer.status, answer.json()

    try:
        return await asyncio.gather(*(one() for _ in range(count)))
    finally:
        await application.on_shutdown()
