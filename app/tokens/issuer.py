"""Issue one access token: the claims as bytes, then a signature by the keyring's signer."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from app.config import TokenOptions
from app.oauth.errors import OAuthError
from app.storage.unit_of_work import UnitOfWork
from app.tokens.claims import ClaimsTemplates, new_jwt_id
from app.tokens.signer import ACCESS_TOKEN_TYPE, TokenSigner

# Writes what a grant must store in the transaction of the audit event; returns the error
# to answer instead when, in that transaction, the token turns out not to be issuable.
GrantRecord = Callable[[UnitOfWork], OAuthError | None]


class IssuedToken(NamedTuple):
    """What a grant issued (made per request: a NamedTuple is cheap to build).

    `subject` and `client_id` are the access token's; `record` writes what the grant must
    store (refresh tokens, a code's redemption) in the transaction of the audit event.
    `id_token` and `refresh_token` are answered beside the access token when issued.
    """

    access_token: str
    expires_in: int
    scopes: tuple[str, ...]
    kid: str
    jwt_id: str
    client_id: str
    subject: str
    issued_at: int
    record: GrantRecord | None = None
    id_token: str | None = None
    refresh_token: str | None = None


class AccessTokenIssuer:
    """Built once per signing key: RFC 9068 access tokens for any client, subject and scopes."""

    def __init__(self, options: TokenOptions, signer: TokenSigner) -> None:
        self.signer = signer
        self.lifetime_seconds = options.access_token_lifetime_seconds
        self.templates = ClaimsTemplates(
            issuer=options.issuer,
            audience=options.audience,
            lifetime_seconds=self.lifetime_seconds,
        )

    def issue(
        self, *, client_id: str, subject: str, scopes: tuple[str, ...], now: int
    ) -> IssuedToken:
        jwt_id = new_jwt_id()
        payload = self.templates.encode(
            client_id=client_id, subject=subject, scopes=scopes, issued_at=now, jwt_id=jwt_id
        )
        token = self.signer.sign(payload, token_type=ACCESS_TOKEN_TYPE)
        return IssuedToken(
            token, self.lifetime_seconds, scopes, self.signer.kid, jwt_id, client_id, subject, now
        )
