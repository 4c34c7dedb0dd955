"""ID tokens (OpenID Connect Core §2), built from values and signed by the access token's key.

`at_hash` binds the ID token to the access token answered beside it (OpenID Connect Core
§3.1.3.6): the left half of the SHA-256 of its ASCII, base64url. Every algorithm this IdP
signs with (RS256, ES256) hashes with SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from app.tokens.signer import TokenSigner, b64url

ID_TOKEN_TYPE = "JWT"


def at_hash(access_token: str) -> str:
    """base64url of the left-most half of SHA-256(access_token) (OpenID Connect Core §3.1.3.6)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2]).decode("ascii")


def build_id_token_claims(
    *,
    issuer: str,
    subject: str,
    client_id: str,
    issued_at: int,
    lifetime_seconds: int,
    auth_time: int | None,
    nonce: str | None,
    access_token: str,
    profile: Mapping[str, Any],
) -> dict[str, Any]:
    """OpenID Connect Core §2: iss, sub, aud (the client), exp, iat, auth_time, nonce when
    the authorization request carried one, at_hash, and the profile claims granted."""
    claims: dict[str, Any] = {
        **profile,
        "iss": issuer,
        "sub": subject,
        "aud": client_id,
        "iat": issued_at,
        "exp": issued_at + lifetime_seconds,
        "at_hash": at_hash(access_token),
    }
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if nonce is not None:
        claims["nonce"] = nonce
    return claims


def sign_id_token(claims: Mapping[str, Any], *, signer: TokenSigner) -> str:
    """Compact JWS with the signer's `kid` in the header (deterministic JSON bytes)."""
    payload = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    return signer.sign(payload, token_type=ID_TOKEN_TYPE)
