"""The UserInfo endpoint (OpenID Connect Core §5.3): the signed-in person's claims.

Named steps: the method (GET or POST), the Bearer access token (the Authorization header,
or the form body of a POST, RFC 6750 §2.1-2.2, never both), verified as introspection
verifies it (this IdP's published keys, no revoked key, not expired, no revocation rule),
the `openid` scope, then the person, still enabled. Answers `sub` and the claims the
token's scopes grant. Refusals are RFC 6750 errors: a Bearer challenge and a JSON body.
"""

from __future__ import annotations

import logging
from functools import partial

from app.http.messages import OAuthRequest, OAuthResponse, json_response
from app.oauth.errors import (
    BearerTokenRequiredError,
    InsufficientScopeError,
    InvalidRequestError,
    InvalidTokenError,
    MethodNotAllowedError,
    TemporarilyUnavailableError,
)
from app.oauth.introspection import revoked_by_a_rule
from app.oauth.own_tokens import OwnTokenVerifier
from app.oauth.subjects import OPENID_SCOPE, find_person, profile_claims
from app.oauth.token import FORM_TYPE, form_pairs
from app.services import IdpServices
from app.storage import StorageUnavailableError

log = logging.getLogger("tokenidp")
ALLOWED_METHODS = "GET, POST"


class UserinfoEndpoint:
    """GET|POST /connect/userinfo."""

    reads_body = True

    def __init__(self, services: IdpServices) -> None:
        self.services = services
        self.verifier = OwnTokenVerifier(services)

    async def handle(self, request: OAuthRequest) -> OAuthResponse:
        if request.method not in ("GET", "POST"):
            raise MethodNotAllowedError(request.method, allowed=ALLOWED_METHODS)
        token = bearer_token(request)
        now = self.services.clock()
        access_token = self.verifier.verify(token, now=now)
        if access_token is None:
            raise InvalidTokenError("the access token is invalid, expired or revoked")
        if await revoked_by_a_rule(self.services.storage, access_token, now=int(now)):
            raise InvalidTokenError("the access token is invalid, expired or revoked")
        scopes = tuple(str(access_token.claims.get("scope", "")).split())
        if OPENID_SCOPE not in scopes:
            raise InsufficientScopeError("the access token was not granted the openid scope")
        try:
            person = await self.services.storage.read(
                partial(find_person, subject=access_token.subject)
            )
        except StorageUnavailableError as error:
            log.error("userinfo cannot read the user: %s", error)
            raise TemporarilyUnavailableError("userinfo cannot answer now; retry") from None
        if person is None or person.is_disabled:
            raise InvalidTokenError("the access token's user is unknown or disabled")
        return json_response({"sub": person.subject, **profile_claims(person, scopes)})


def bearer_token(request: OAuthRequest) -> str:
    """The access token from the Authorization header or a POST's form (RFC 6750 §2)."""
    authorization = request.header(b"authorization")
    in_header = None
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            in_header = credentials.strip()
    in_body = form_access_token(request) if request.method == "POST" else None
    if in_header is not None and in_body is not None:
        raise InvalidRequestError("send the access token one way, not two (RFC 6750 §2)")
    token = in_header or in_body
    if not token:
        raise BearerTokenRequiredError("a Bearer access token is required (RFC 6750 §2)")
    return token


def form_access_token(request: OAuthRequest) -> str | None:
    """`access_token` from an `application/x-www-form-urlencoded` body (RFC 6750 §2.2)."""
    content_type = (request.header(b"content-type") or "").partition(";")[0].strip().lower()
    if content_type != FORM_TYPE or not request.body:
        return None
    try:
        pairs = form_pairs(request.body.decode())
    except UnicodeDecodeError:
        raise InvalidRequestError("the body is not UTF-8") from None
    values = [value for name, value in pairs if name == "access_token"]
    if len(values) > 1:
        raise InvalidRequestError("access_token is repeated")
    return values[0] if values else None
