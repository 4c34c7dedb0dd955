"""Changes to the database's clients: register, disable, rotate a secret.

Each takes the caller's unit of work and records its `admin.clients.*` audit event in it,
so a change and its record commit together or not at all. A new secret is returned to
be shown once; only its SHA-256 digest is written, and never to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, or_, select, update
from sqlalchemy import exc as sa_exc

from app.audit.admin import admin_event
from app.audit.events import record
from app.client_secrets import client_secret_digest, generate_client_secret
from app.errors import TokenIdpError
from app.storage import UnitOfWork
from app.storage.schema import client_secrets, clients


class ClientRegistrationError(TokenIdpError):
    """A change to a database client that cannot be made (unknown, taken, disabled, …)."""


@dataclass(frozen=True)
class SecretRotation:
    """A new secret (shown once), and until when the older ones keep working."""

    secret: str
    older_valid_until: int
    older_secrets_shortened: int


def register_client(
    work: UnitOfWork,
    client_id: str,
    *,
    grant_types: Sequence[str],
    scopes: Sequence[str],
    redirect_uris: Sequence[str],
    is_public: bool,
    reason: str | None,
    now: int,
    post_logout_redirect_uris: Sequence[str] = (),
) -> str | None:
    """Add the client; returns its new secret, or None for a public client (it has none)."""
    if _find_row(work, client_id) is not None:
        raise ClientRegistrationError(f"{client_id!r} is already registered in the database")
    try:
        work.execute(
            insert(clients),
            {
                "client_id": client_id,
                "grant_types": " ".join(grant_types),
                "scopes": " ".join(scopes),
                "redirect_uris": "\n".join(redirect_uris),
                "post_logout_redirect_uris": "\n".join(post_logout_redirect_uris),
                "is_public": is_public,
                "created_at": now,
            },
        )
    except sa_exc.IntegrityError:  # registered meanwhile by another command
        raise ClientRegistrationError(
            f"{client_id!r} is already registered in the database"
        ) from None
    secret = None if is_public else generate_client_secret()
    if secret is not None:
        _insert_secret(work, client_id, secret, now=now)
    detail = {
        "grant_types": list(grant_types),
        "redirect_uris": list(redirect_uris),
        "kind": "public" if is_public else "confidential",
    }
    if post_logout_redirect_uris:
        detail["post_logout_redirect_uris"] = list(post_logout_redirect_uris)
    record(
        work,
        admin_event(
            "clients.add", reason=reason, client_id=client_id, scopes=tuple(scopes), detail=detail
        ),
    )
    return secret


def disable_client(work: UnitOfWork, client_id: str, *, reason: str | None, now: int) -> int | None:
    """Disable the client from `now`; returns when it was disabled already (nothing done)."""
    row = _get_row(work, client_id)
    if row.disabled_at is not None:
        return row.disabled_at
    work.execute(
        update(clients)
        .where(clients.c.client_id == client_id, clients.c.disabled_at.is_(None))
        .values(disabled_at=now)
    )
    record(work, admin_event("clients.disable", reason=reason, client_id=client_id))
    return None


def rotate_client_secret(
    work: UnitOfWork, client_id: str, *, overlap_seconds: int, reason: str | None, now: int
) -> SecretRotation:
    """A new secret; every older one keeps working until `now + overlap_seconds`, or until
    its own earlier expiry (an overlap never extends a secret)."""
    row = _get_row(work, client_id)
    if row.is_public:
        raise ClientRegistrationError(f"{client_id!r} is a public client: it has no secret")
    if row.disabled_at is not None:
        raise ClientRegistrationError(f"{client_id!r} is disabled: its secret is not rotated")
    until = now + overlap_seconds
    shortened = work.execute(
        update(client_secrets)
        .where(
            client_secrets.c.client_id == client_id,
            or_(client_secrets.c.expires_at.is_(None), client_secrets.c.expires_at > until),
        )
        .values(expires_at=until)
    ).rowcount
    secret = generate_client_secret()
    _insert_secret(work, client_id, secret, now=now)
    detail = {"secret_overlap_seconds": overlap_seconds, "count": shortened}
    record(
        work,
        admin_event("clients.rotate_secret", reason=reason, client_id=client_id, detail=detail),
    )
    return SecretRotation(secret, until, shortened)


def _insert_secret(work: UnitOfWork, client_id: str, secret: str, *, now: int) -> None:
    work.execute(
        insert(client_secrets),
        {"client_id": client_id, "sha256_digest": client_secret_digest(secret), "created_at": now},
    )


def _find_row(work: UnitOfWork, client_id: str) -> Row[Any] | None:
    """The client's row, locked until the commit (PostgreSQL; SQLite holds the write lock),
    so two commands changing one client run one after the other."""
    return work.execute(
        select(clients).where(clients.c.client_id == client_id).with_for_update()
    ).first()


def _get_row(work: UnitOfWork, client_id: str) -> Row[Any]:
    row = _find_row(work, client_id)
    if row is None:
        raise ClientRegistrationError(
            f"no client {client_id!r} in the database (tokenidp clients list)"
        )
    return row
