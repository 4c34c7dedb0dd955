"""The revocation endpoint (RFC 7009): a client revokes an access or refresh token issued to it.

Named steps, as the token endpoint's: the method, the form, client authentication, the
`token` parameter, then verification (app/oauth/own_tokens.py). A token issued to the
caller gets a jti rule held until the token's `exp`, committed with a `token.revoked`
audit event, before the 200 goes out (503 when it cannot be committed).

Answered 200 and nothing revoked (RFC 7009 §2.2: "invalid tokens do not cause an error
response"): a token that is not ours, malformed, expired or signed by a revoked key, and
a token issued to another client. RFC 7009 §2.1 says the latter request is refused; we
answer it as an invalid token, so the answer never tells a client that a token it should
not hold is valid. `token_type_hint` is not needed (RFC 7009 §2.1: the server MAY ignore
it, and searches every token type it supports): a JWT is verified as an access token,
anything else is looked up as a refresh token, so no hint is `unsupported_token_type`
(§2.2.1). Revoking a refresh token revokes its whole family (every token rotated from
the same sign-in, RFC 7009 §2.1), with a `token.revoked` event, before the 200.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from app.audit.events import TOKEN_REVOKED, AuditEvent, record
from app.http.messages import NO_STORE, OAuthRequest, OAuthResponse, response
from app.oauth.errors import TemporarilyUnavailableError
from app.oauth.own_tokens import OwnTokenVerifier, token_facts
from app.oauth.refresh_tokens import find_stored, revoke_family
from app.oauth.revocation_rules import jti_rule_for_token
from app.oauth.token_reference import read_token_reference
from app.services import IdpServices
from app.storage import StorageUnavailableError
from app.storage.revocation_rules import delete_expired_rules, insert_rule
from app.storage.unit_of_work import UnitOfWork
from tokenidp_validator import AccessToken

log = logging.getLogger("tokenidp")
DONE = response(200, b"", NO_STORE)  # RFC 7009 §2.2: the status says it all


class RevocationEndpoint:
    """POST /connect/revocation."""

    reads_body = True

    def __init__(self, services: IdpServices) -> None:
        self.services = services
        self.verifier = OwnTokenVerifier(services)

    async def handle(self, request: OAuthRequest) -> OAuthResponse:
        asked = await read_token_reference(self.services, self.verifier, request)
        client, token, access_token, now = asked.client, asked.token, asked.access_token, asked.now
        if access_token is None:
            await self.revoke_refresh_token(
                token, client_id=client.client_id, now=int(now), address=request.remote_address
            )
            return DONE
        if access_token.client_id != client.client_id:
            return DONE
        await self.revoke(access_token, now=int(now), address=request.remote_address)
        return DONE

    async def revoke(self, access_token: AccessToken, *, now: int, address: str) -> None:
        """A jti rule until the token's exp and its audit event, committed together, or 503."""
        facts = token_facts(access_token)
        rule = jti_rule_for_token(facts, expires_at=access_token.expires_at)

        def unit(work: UnitOfWork) -> None:
            delete_expired_rules(work, now=now)
            rule_id = insert_rule(
                work, rule, created_at=now, created_by=f"client {facts.client_id}", reason=None
            )
            event = AuditEvent(
                TOKEN_REVOKED,
                now,
                client_id=facts.client_id,
                subject=facts.subject,
                kid=facts.kid,
                jti=facts.jti,
                address=address,
                detail={
                    "rule": rule_id,
                    "kind": str(rule.kind),
                    "token_type": "access_token",
                    "source": "revocation endpoint",
                },
            )
            record(work, event)

        await self.write(unit)

    async def revoke_refresh_token(
        self, token: str, *, client_id: str, now: int, address: str
    ) -> None:
        """The family of a refresh token issued to `client_id`, and its audit event; nothing
        for a token unknown or another client's."""
        try:
            grant = await self.services.storage.read(partial(find_stored, token=token))
        except StorageUnavailableError as error:
            log.error("refresh token not revoked: %s", error)
            raise TemporarilyUnavailableError("the token could not be revoked; retry") from None
        if grant is None or grant.client_id != client_id:
            return

        def unit(work: UnitOfWork) -> None:
            revoked = revoke_family(work, grant.family_id, now=now)
            event = AuditEvent(
                TOKEN_REVOKED,
                now,
                client_id=grant.client_id,
                subject=grant.subject,
                kid=grant.kid,
                address=address,
                detail={
                    "kind": "refresh_family",
                    "value": grant.family_id,
                    "count": revoked,
                    "token_type": "refresh_token",
                    "source": "revocation endpoint",
                },
            )
            record(work, event)

        await self.write(unit)

    async def write(self, unit: Callable[[UnitOfWork], None]) -> None:
        try:
            await self.services.storage.write(unit)
        except StorageUnavailableError as error:
            log.error("token not revoked: %s", error)
            raise TemporarilyUnavailableError("the token could not be revoked; retry") from None
