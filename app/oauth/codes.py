"""Authorization codes (RFC 6749 §4.1.2): random, short-lived, stored only as SHA-256 digests,
redeemed at most once.

Redemption is one conditional UPDATE (`… WHERE redeemed_at IS NULL AND expires_at > now
RETURNING …`), so two concurrent redemptions can never both succeed. A code presented again
after its redemption is a replay: the caller revokes what the first redemption issued,
which the code's row remembers (`record_issued`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from app.storage.schema import authorization_codes
from app.storage.unit_of_work import UnitOfWork

CODE_LIFETIME_SECONDS = 60


@dataclass(frozen=True)
class CodeGrant:
    """What an authorization code stands for."""

    client_id: str
    subject: str
    redirect_uri: str
    scopes: tuple[str, ...]
    auth_time: int
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


@dataclass(frozen=True)
class Replayed:
    """A code redeemed before: what that redemption issued, to be revoked now."""

    client_id: str
    issued_jti: str | None
    issued_refresh_family: str | None


def new_code() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def code_digest(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def store_code(work: UnitOfWork, code: str, grant: CodeGrant, *, now: int) -> None:
    work.execute(
        insert(authorization_codes),
        {
            "code_sha256": code_digest(code),
            "client_id": grant.client_id,
            "subject": grant.subject,
            "redirect_uri": grant.redirect_uri,
            "scopes": " ".join(grant.scopes),
            "nonce": grant.nonce,
            "code_challenge": grant.code_challenge,
            "code_challenge_method": grant.code_challenge_method,
            "auth_time": grant.auth_time,
            "created_at": now,
            "expires_at": now + CODE_LIFETIME_SECONDS,
        },
    )


def find_code(connection: Connection, code: str, *, now: int) -> CodeGrant | Replayed | None:
    """What a code stands for, read without redeeming it (the grant checks it and signs
    before `redeem_code` decides in the transaction that records the issue): `Replayed`
    for a code redeemed before, None for one unknown or expired."""
    table = authorization_codes
    row = connection.execute(
        select(
            *_GRANT,
            table.c.expires_at,
            table.c.redeemed_at,
            table.c.issued_jti,
            table.c.issued_refresh_family,
        ).where(table.c.code_sha256 == code_digest(code))
    ).first()
    if row is None:
        return None
    if row.redeemed_at is not None:
        return Replayed(row.client_id, row.issued_jti, row.issued_refresh_family)
    if row.expires_at <= now:
        return None
    return _grant(row)


def redeem_code(work: UnitOfWork, code: str, *, now: int) -> CodeGrant | Replayed | None:
    """The grant on the code's first redemption; `Replayed` on a later one; None when the
    code is unknown or expired unredeemed."""
    digest = code_digest(code)
    table = authorization_codes
    redeemed = work.execute(
        update(table)
        .where(
            table.c.code_sha256 == digest,
            table.c.redeemed_at.is_(None),
            table.c.expires_at > now,
        )
        .values(redeemed_at=now)
        .returning(*_GRANT)
    ).first()
    if redeemed is not None:
        return _grant(redeemed)
    earlier = work.execute(
        select(table.c.client_id, table.c.issued_jti, table.c.issued_refresh_family).where(
            table.c.code_sha256 == digest, table.c.redeemed_at.is_not(None)
        )
    ).first()
    if earlier is None:
        return None
    return Replayed(earlier.client_id, earlier.issued_jti, earlier.issued_refresh_family)


def record_issued(work: UnitOfWork, code: str, *, jti: str, refresh_family: str | None) -> None:
    """Remember what the code's redemption issued, in the transaction that issues it."""
    work.execute(
        update(authorization_codes)
        .where(authorization_codes.c.code_sha256 == code_digest(code))
        .values(issued_jti=jti, issued_refresh_family=refresh_family)
    )


# The columns a CodeGrant is read from.
_GRANT = (
    authorization_codes.c.client_id,
    authorization_codes.c.subject,
    authorization_codes.c.redirect_uri,
    authorization_codes.c.scopes,
    authorization_codes.c.auth_time,
    authorization_codes.c.nonce,
    authorization_codes.c.code_challenge,
    authorization_codes.c.code_challenge_method,
)


def _grant(row: object) -> CodeGrant:
    return CodeGrant(
        client_id=row.client_id,  # type: ignore[attr-defined]
        subject=row.subject,  # type: ignore[attr-defined]
        redirect_uri=row.redirect_uri,  # type: ignore[attr-defined]
        scopes=tuple(row.scopes.split()),  # type: ignore[attr-defined]
        auth_time=row.auth_time,  # type: ignore[attr-defined]
        nonce=row.nonce,  # type: ignore[attr-defined]
        code_challenge=row.code_challenge,  # type: ignore[attr-defined]
        code_challenge_method=row.code_challenge_method,  # type: ignore[attr-defined]
    )
