"""Issue one access token: claims, then a signature by the keyring's signing key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.config import TokenOptions
from app.keys.keyring import Keyring
from app.tokens.claims import build_access_token_claims
from app.tokens.signer import sign_access_token


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]
    kid: str


def issue_access_token(
    *,
    keyring: Keyring,
    options: TokenOptions,
    client_id: str,
    subject: str,
    scopes: Sequence[str],
    now: int,
) -> IssuedToken:
    lifetime = options.access_token_lifetime_seconds
    claims = build_access_token_claims(
        issuer=options.issuer,
        audience=options.audience,
        client_id=client_id,
        subject=subject,
        scopes=scopes,
        issued_at=now,
        lifetime_seconds=lifetime,
    )
    signing = keyring.signing
    token = sign_access_token(
        claims, signer=keyring.signer, kid=signing.kid, algorithm=signing.algorithm
    )
    return IssuedToken(token, lifetime, tuple(scopes), signing.kid)
