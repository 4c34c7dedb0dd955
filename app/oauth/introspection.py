"""The introspection endpoint (RFC 7662): whether an access token is active, and what it holds.

Named steps, as the token endpoint's: the method, the form, client authentication, the
`token` parameter (`token_type_hint` is accepted and not needed, RFC 7662 §2.1: a JWT is
checked as an access token, anything else is looked up as a refresh token), then the
checks. An access token: signed by a key this IdP publishes and has not revoked, for our
issuer and audience, not expired (app/oauth/own_tokens.py), and covered by no revocation
rule. A refresh token: stored, neither spent, revoked nor expired, and issued under a key
that is not revoked. Anything else is `{"active": false}`, never why.

Who may introspect what (RFC 7662 §4): every client authenticates; a client may
introspect the tokens issued to it, and a client allowed the scope `introspect` (a
resource server) any token. For any other token the caller is told `active: false`
(RFC 7662 §2.2: the protected resource is not allowed to introspect that token).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from app.clients import Client
from app.http.messages import OAuthRequest, OAuthResponse, json_response
from app.oauth.errors import TemporarilyUnavailableError
from app.oauth.own_tokens import OwnTokenVerifier, token_facts
from app.oauth.refresh_tokens import RefreshGrant, find_live
from app.oauth.revocation_rules import is_revoked
from app.oauth.token_reference import read_token_reference
from app.services import IdpServices
from app.storage import Storage, StorageUnavailableError
from app.storage.revocation_rules import find_rules_for_token
from tokenidp_validator import AccessToken

log = logging.getLogger("tokenidp")
INTROSPECT_SCOPE = "introspect"
INACTIVE = json_response({"active": False})


class IntrospectionEndpoint:
    """POST /connect/introspect."""

    reads_body = True

    def __init__(self, services: IdpServices) -> None:
        self.services = services
        self.verifier = OwnTokenVerifier(services)

    async def handle(self, request: OAuthRequest) -> OAuthResponse:
        asked = await read_token_reference(self.services, self.verifier, request)
        client, token, access_token, now = asked.client, asked.token, asked.access_token, asked.now
        if access_token is None:
            return await self.refresh_token_answer(client, token, now=int(now))
        if not may_introspect(client, access_token):
            return INACTIVE
        if await revoked_by_a_rule(self.services.storage, access_token, now=int(now)):
            return INACTIVE
        return json_response(introspection_document(access_token))

    async def refresh_token_answer(self, client: Client, token: str, *, now: int) -> OAuthResponse:
        """A live refresh token's facts (RFC 7662 §2.2, `token_type` refresh_token)."""
        try:
            grant = await self.services.storage.read(partial(find_live, token=token, now=now))
        except StorageUnavailableError as error:
            log.error("introspection cannot read the refresh tokens: %s", error)
            raise TemporarilyUnavailableError("refresh tokens cannot be checked now") from None
        if grant is None or grant.kid in self.services.keyring.revoked:
            return INACTIVE
        if not may_introspect_for(client, grant.client_id):
            return INACTIVE
        return json_response(refresh_token_document(grant, issuer=self.verifier.issuer))


def may_introspect(client: Client, access_token: AccessToken) -> bool:
    """Its own tokens, or any token with the `introspect` scope (RFC 7662 §4)."""
    return may_introspect_for(client, access_token.client_id)


def may_introspect_for(client: Client, token_client_id: str) -> bool:
    return client.client_id == token_client_id or INTROSPECT_SCOPE in client.allowed_scopes


def refresh_token_document(grant: RefreshGrant, *, issuer: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "active": True,
        "client_id": grant.client_id,
        "token_type": "refresh_token",
        "exp": grant.expires_at,
        "sub": grant.subject,
        "iss": issuer,
    }
    if grant.scopes:
        document["scope"] = " ".join(grant.scopes)
    return document


async def revoked_by_a_rule(storage: Storage, access_token: AccessToken, *, now: int) -> bool:
    """Whether a rule holding at `now` covers the token; 503 rather than a guess when the
    rules cannot be read."""
    facts = token_facts(access_token)
    try:
        rules = await storage.read(partial(find_rules_for_token, token=facts, now=now))
    except StorageUnavailableError as error:
        log.error("introspection cannot read the revocation rules: %s", error)
        raise TemporarilyUnavailableError("revocations cannot be checked now; retry") from None
    return is_revoked(facts, rules)


def introspection_document(access_token: AccessToken) -> dict[str, Any]:
    """RFC 7662 §2.2 for an active token: its claims, and `token_type` Bearer.

    `username` is left out: access tokens carry no human-readable name, `sub` names the
    subject (the client itself under client_credentials).
    """
    claims = access_token.claims
    document: dict[str, Any] = {
        "active": True,
        "client_id": access_token.client_id,
        "token_type": "Bearer",
        "exp": access_token.expires_at,
        "iat": access_token.issued_at,
        "sub": access_token.subject,
        "aud": claims["aud"],
        "iss": access_token.issuer,
        "jti": access_token.jwt_id,
    }
    if claims.get("scope"):
        document["scope"] = claims["scope"]
    if "nbf" in claims:
        document["nbf"] = claims["nbf"]
    return document
