"""The people tokens are issued for, as the grants and userinfo read them (the users table).

Only what a token may carry: the `sub`, the OpenID Connect standard claims the `profile`
and `email` scopes grant (OpenID Connect Core §5.4), and whether the account is disabled.
Never the password hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from app.storage.schema import users

OPENID_SCOPE = "openid"
PROFILE_SCOPE = "profile"
EMAIL_SCOPE = "email"
OFFLINE_ACCESS_SCOPE = "offline_access"
OPENID_SCOPES = (OPENID_SCOPE, PROFILE_SCOPE, EMAIL_SCOPE, OFFLINE_ACCESS_SCOPE)
# The claims this IdP can put in an ID token or a userinfo answer (discovery's claims_supported).
CLAIMS_SUPPORTED = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "email",
    "email_verified",
)


@dataclass(frozen=True)
class Person:
    subject: str
    name: str | None
    email: str | None
    email_verified: bool
    disabled_at: int | None

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None


def find_person(connection: Connection, subject: str) -> Person | None:
    """The user whose `sub` this is, or None."""
    row = connection.execute(
        select(
            users.c.subject,
            users.c.name,
            users.c.email,
            users.c.email_verified,
            users.c.disabled_at,
        ).where(users.c.subject == subject)
    ).first()
    if row is None:
        return None
    return Person(row.subject, row.name, row.email, bool(row.email_verified), row.disabled_at)


def profile_claims(person: Person, scopes: Sequence[str]) -> dict[str, Any]:
    """`name` for `profile`, `email` and `email_verified` for `email`; a claim with no value
    is left out (OpenID Connect Core §5.3.2)."""
    claims: dict[str, Any] = {}
    if PROFILE_SCOPE in scopes and person.name:
        claims["name"] = person.name
    if EMAIL_SCOPE in scopes and person.email:
        claims["email"] = person.email
        claims["email_verified"] = person.email_verified
    return claims
