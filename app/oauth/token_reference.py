"""A client's request about one token, as introspection (RFC 7662 §2.1) and revocation
(RFC 7009 §2.1) both read it: POST only, the form, client authentication, the `token`
parameter, and the access token it is when it verifies as one of this IdP's."""

from __future__ import annotations

from dataclasses import dataclass

from app.clients import Client
from app.http.messages import OAuthRequest
from app.oauth.authentication_failures import authenticate
from app.oauth.errors import MethodNotAllowedError
from app.oauth.own_tokens import OwnTokenVerifier, token_parameter
from app.oauth.token import read_token_form
from app.services import IdpServices
from tokenidp_validator import AccessToken


@dataclass(frozen=True)
class TokenReference:
    client: Client  # who asks, authenticated
    token: str  # as sent
    access_token: AccessToken | None  # None: not an access token of ours (a refresh token?)
    now: float


async def read_token_reference(
    services: IdpServices, verifier: OwnTokenVerifier, request: OAuthRequest
) -> TokenReference:
    if request.method != "POST":
        raise MethodNotAllowedError(request.method, allowed="POST")
    form = read_token_form(request)
    client = await authenticate(services, request, form)
    token = token_parameter(form)
    now = services.clock()
    return TokenReference(client, token, verifier.verify(token, now=now), now)
