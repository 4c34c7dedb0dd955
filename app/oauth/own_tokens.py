"""This IdP's own access tokens, checked as a downstream API checks them.

Introspection and revocation verify with `tokenidp_validator` (pinned algorithms per key;
no alg none, no algorithm confusion, no keys in headers) against the JWKS this IdP
publishes, with the configured issuer and audience, rather than with a second verifier.
A token whose key is revoked, or whose `exp` has passed by this IdP's clock, is not
accepted either. What was wrong with a refused token is never said.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.oauth.errors import InvalidRequestError
from app.oauth.revocation_rules import TokenFacts
from app.services import IdpServices
from tokenidp_validator import AccessToken, TokenValidationError, validate_token_with_keys

# `nbf` and `iat` may lie this far ahead of this instance's clock when another instance
# issued the token; `exp` gets no leeway: this IdP's clock decides when its tokens expire.
CLOCK_SKEW_SECONDS = 5


class OwnTokenVerifier:
    """Checks against the keys the IdP publishes now (the live keyring's parsed JWKS), so a
    key revoked while the IdP runs stops vouching for its tokens within one refresh."""

    def __init__(self, services: IdpServices) -> None:
        options = services.settings.token
        self.services = services
        self.issuer = options.issuer
        self.audience = options.audience

    def verify(self, token: str, *, now: float) -> AccessToken | None:
        """The access token if this IdP issued it, it has not expired and its key is not
        revoked; None for anything else (503 while the key records cannot be read)."""
        state = self.services.key_state()
        try:
            access_token = validate_token_with_keys(
                token,
                keys=state.verification_keys,
                issuer=self.issuer,
                audience=self.audience,
                leeway_seconds=CLOCK_SKEW_SECONDS,
                now=now,
            )
        except TokenValidationError:
            return None
        if access_token.kid in state.keyring.revoked or access_token.expires_at <= now:
            return None  # RFC 7519 §4.1.4: not accepted on or after exp
        return access_token


def token_facts(access_token: AccessToken) -> TokenFacts:
    """What revocation rules match in a verified token."""
    return TokenFacts(
        jti=access_token.jwt_id,
        client_id=access_token.client_id,
        subject=access_token.subject,
        kid=access_token.kid,
        issued_at=access_token.issued_at,
    )


def token_parameter(form: Mapping[str, str]) -> str:
    """The `token` parameter both RFC 7662 §2.1 and RFC 7009 §2.1 require."""
    token = form.get("token")
    if not token:
        raise InvalidRequestError("token is required")
    return token
