"""RFC 9068 access-token claims, built from values only (the caller supplies the clock)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any


def build_access_token_claims(
    *,
    issuer: str,
    audience: str,
    client_id: str,
    subject: str,
    scopes: Sequence[str],
    issued_at: int,
    lifetime_seconds: int,
) -> dict[str, Any]:
    """The JWT claims set of RFC 9068 §2.2, with a fresh random `jti`."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "client_id": client_id,
        "iat": issued_at,
        "exp": issued_at + lifetime_seconds,
        "jti": secrets.token_urlsafe(18),
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return claims
