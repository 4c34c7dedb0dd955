"""The client_credentials grant (RFC 6749 §4.4): the client is the subject (RFC 9068 §2.2)."""

from __future__ import annotations

from collections.abc import Mapping

from app.config import ClientConfig
from app.oauth.scopes import grant_scopes
from app.services import IdpServices
from app.tokens.issuer import IssuedToken, issue_access_token


def client_credentials_grant(
    client: ClientConfig, form: Mapping[str, str], services: IdpServices
) -> IssuedToken:
    return issue_access_token(
        keyring=services.keyring,
        options=services.settings.token,
        client_id=client.client_id,
        subject=client.client_id,
        scopes=grant_scopes(form.get("scope"), client),
        now=int(services.clock()),
    )
