"""One module per grant type; the token endpoint looks the grant up here."""

from collections.abc import Callable, Mapping

from app.config import ClientConfig
from app.oauth.grants.client_credentials import client_credentials_grant
from app.services import IdpServices
from app.tokens.issuer import IssuedToken

Grant = Callable[[ClientConfig, Mapping[str, str], IdpServices], IssuedToken]

GRANTS: dict[str, Grant] = {"client_credentials": client_credentials_grant}
