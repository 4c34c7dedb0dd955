"""Refresh tokens: opaque, 256 random bits, stored only as SHA-256 digests, rotated on every
use, and a family revoked when a spent one comes back (RFC 9700 §4.14.2).

Rotation is one conditional UPDATE (`… SET used_at = now WHERE … used_at IS NULL AND
revoked_at IS NULL AND expires_at > now RETURNING …`): of concurrent uses exactly one gets
the row back (reading first and updating after double-spends: up to 14 of 16 concurrent
requests won on PostgreSQL, 16 of 16 on SQLite, measured here). A spent token presented
again within the grace window is a client's retry: `invalid_grant`, nothing revoked. After
it, a replay: the caller revokes the whole family and audits it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, and_, insert, select, update

from app.oauth.revocation_rules import RevocationRule, RuleKind
from app.storage.schema import refresh_tokens
from app.storage.unit_of_work import UnitOfWork

REUSE_GRACE_SECONDS = 10


@dataclass(frozen=True)
class RefreshGrant:
    """What a refresh token stands for, and the key that signed what it came with."""

    family_id: str
    client_id: str
    subject: str
    scopes: tuple[str, ...]
    kid: str
    auth_time: int | None = None
    expires_at: int | None = None


@dataclass(frozen=True)
class RetriedInGrace:
    """A spent token presented again within the grace window: refused, nothing revoked."""

    family_id: str


@dataclass(frozen=True)
class Reused:
    """A spent token presented after the grace window: the family must be revoked."""

    family_id: str
    client_id: str
    subject: str


def new_refresh_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def new_family_id() -> str:
    return secrets.token_hex(16)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def store_refresh_token(
    work: UnitOfWork, token: str, grant: RefreshGrant, *, now: int, lifetime_seconds: int
) -> None:
    work.execute(
        insert(refresh_tokens),
        {
            "token_sha256": token_digest(token),
            "family_id": grant.family_id,
            "client_id": grant.client_id,
            "subject": grant.subject,
            "scopes": " ".join(grant.scopes),
            "auth_time": grant.auth_time,
            "kid": grant.kid,
            "created_at": now,
            "expires_at": now + lifetime_seconds,
        },
    )


def spend(
    work: UnitOfWork, token: str, *, now: int, grace_seconds: int = REUSE_GRACE_SECONDS
) -> RefreshGrant | RetriedInGrace | Reused | None:
    """Use a refresh token once: its grant, or why not (None: unknown, expired or revoked)."""
    digest = token_digest(token)
    table = refresh_tokens
    spent = work.execute(
        update(table).where(*_live(digest, now=now)).values(used_at=now).returning(*_GRANT)
    ).first()
    if spent is not None:
        return _grant(spent)
    earlier = work.execute(
        select(
            table.c.family_id,
            table.c.client_id,
            table.c.subject,
            table.c.used_at,
            table.c.revoked_at,
        ).where(table.c.token_sha256 == digest)
    ).first()
    if earlier is None or earlier.used_at is None or earlier.revoked_at is not None:
        return None
    if now - earlier.used_at <= grace_seconds:
        return RetriedInGrace(earlier.family_id)
    return Reused(earlier.family_id, earlier.client_id, earlier.subject)


def revoke_family(work: UnitOfWork, family_id: str, *, now: int) -> int:
    """Every live token of the family, in one UPDATE; how many were live."""
    table = refresh_tokens
    return work.execute(
        update(table)
        .where(table.c.family_id == family_id, table.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount


def revoke_matching(
    work: UnitOfWork,
    *,
    now: int,
    client_id: str | None = None,
    subject: str | None = None,
    kid: str | None = None,
    issued_before: int | None = None,
) -> int:
    """Revoke the live tokens matching every given selector (none given: all of them)."""
    table = refresh_tokens
    conditions = [table.c.revoked_at.is_(None)]
    if client_id is not None:
        conditions.append(table.c.client_id == client_id)
    if subject is not None:
        conditions.append(table.c.subject == subject)
    if kid is not None:
        conditions.append(table.c.kid == kid)
    if issued_before is not None:
        conditions.append(table.c.created_at < issued_before)
    return work.execute(update(table).where(and_(*conditions)).values(revoked_at=now)).rowcount


def revoke_covered(work: UnitOfWork, rule: RevocationRule, *, now: int) -> int:
    """Revoke the live refresh tokens a revocation rule covers: its client, subject or kid
    (or all), issued before its time. A jti rule names an access token: none."""
    if rule.kind is RuleKind.JTI:
        return 0
    return revoke_matching(work, now=now, issued_before=rule.issued_before, **rule.matched_fields())


def find_live(connection: Connection, token: str, *, now: int) -> RefreshGrant | None:
    """The grant of a refresh token that is neither spent, revoked nor expired (introspection)."""
    row = connection.execute(select(*_GRANT).where(*_live(token_digest(token), now=now))).first()
    return _grant(row) if row is not None else None


def find_stored(connection: Connection, token: str) -> RefreshGrant | None:
    """The grant of a stored refresh token in any state (the revocation endpoint)."""
    row = connection.execute(
        select(*_GRANT).where(refresh_tokens.c.token_sha256 == token_digest(token))
    ).first()
    return _grant(row) if row is not None else None


# The columns a RefreshGrant is read from.
_GRANT = (
    refresh_tokens.c.family_id,
    refresh_tokens.c.client_id,
    refresh_tokens.c.subject,
    refresh_tokens.c.scopes,
    refresh_tokens.c.kid,
    refresh_tokens.c.auth_time,
    refresh_tokens.c.expires_at,
)


def _live(digest: bytes, *, now: int) -> tuple:
    """The refresh token with this digest, if neither spent, revoked nor expired."""
    table = refresh_tokens
    return (
        table.c.token_sha256 == digest,
        table.c.used_at.is_(None),
        table.c.revoked_at.is_(None),
        table.c.expires_at > now,
    )


def _grant(row: object) -> RefreshGrant:
    return RefreshGrant(
        family_id=row.family_id,  # type: ignore[attr-defined]
        client_id=row.client_id,  # type: ignore[attr-defined]
        subject=row.subject,  # type: ignore[attr-defined]
        scopes=tuple(row.scopes.split()),  # type: ignore[attr-defined]
        kid=row.kid,  # type: ignore[attr-defined]
        auth_time=row.auth_time,  # type: ignore[attr-defined]
        expires_at=row.expires_at,  # type: ignore[attr-defined]
    )
