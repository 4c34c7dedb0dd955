"""RFC 9068 access-token claims, built from values only (the caller supplies the clock).

`build_access_token_claims` says what a token holds. `ClaimsTemplates` writes the same
claims as JSON bytes fast: the claims that never change for a client, subject and scope
set are encoded once, and only `exp`, `iat` and `jti` are formatted per token.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

MAX_TEMPLATES = 4096


def build_access_token_claims(
    *,
    issuer: str,
    audience: str,
    client_id: str,
    subject: str,
    scopes: Sequence[str],
    issued_at: int,
    lifetime_seconds: int,
    jwt_id: str | None = None,
) -> dict[str, Any]:
    """The JWT claims set of RFC 9068 §2.2, with a fresh random `jti` unless one is given."""
    claims: dict[str, Any] = {
        **static_claims(
            issuer=issuer, audience=audience, client_id=client_id, subject=subject, scopes=scopes
        ),
        "iat": issued_at,
        "exp": issued_at + lifetime_seconds,
        "jti": jwt_id or new_jwt_id(),
    }
    return claims


def static_claims(
    *, issuer: str, audience: str, client_id: str, subject: str, scopes: Sequence[str]
) -> dict[str, Any]:
    """The claims that are the same for every token of one client, subject and scope set."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "client_id": client_id,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return claims


def new_jwt_id() -> str:
    """144 random bits, URL-safe (and so safe inside a JSON string)."""
    return secrets.token_urlsafe(18)


class ClaimsTemplates:
    """The JSON of `build_access_token_claims`, with the static part encoded once per key."""

    def __init__(self, *, issuer: str, audience: str, lifetime_seconds: int) -> None:
        self.issuer = issuer
        self.audience = audience
        self.lifetime_seconds = lifetime_seconds
        self._prefixes: dict[tuple[str, str, tuple[str, ...]], bytes] = {}

    def encode(
        self, *, client_id: str, subject: str, scopes: tuple[str, ...], issued_at: int, jwt_id: str
    ) -> bytes:
        key = (client_id, subject, scopes)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefix(client_id, subject, scopes)
        expires_at = issued_at + self.lifetime_seconds
        return b'%s,"exp":%d,"iat":%d,"jti":"%s"}' % (
            prefix,
            expires_at,
            issued_at,
            jwt_id.encode(),
        )

    def _prefix(self, client_id: str, subject: str, scopes: tuple[str, ...]) -> bytes:
        claims = static_claims(
            issuer=self.issuer,
            audience=self.audience,
            client_id=client_id,
            subject=subject,
            scopes=scopes,
        )
        prefix = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()[:-1]
        if len(self._prefixes) >= MAX_TEMPLATES:
            self._prefixes.clear()
        self._prefixes[(client_id, subject, scopes)] = prefix
        return prefix
