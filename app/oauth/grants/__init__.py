"""One module per grant type; the token endpoint looks the grant up here.

A grant checks its own parameters and signs (outside any transaction); what it must store
travels in `IssuedToken.record`, committed by the endpoint with the audit event. The
names come from app/oauth/grant_types.py, which configuration and discovery read too.
"""

from collections.abc import Awaitable, Callable, Mapping

from app.clients import Client
from app.oauth.grants.authorization_code import authorization_code_grant
from app.oauth.grants.client_credentials import client_credentials_grant
from app.oauth.grants.refresh_token import refresh_token_grant
from app.services import IdpServices
from app.tokens.issuer import IssuedToken

Grant = Callable[[Client, Mapping[str, str], IdpServices], Awaitable[IssuedToken]]

GRANTS: dict[str, Grant] = {
    "client_credentials": client_credentials_grant,
    "authorization_code": authorization_code_grant,
    "refresh_token": refresh_token_grant,
}
