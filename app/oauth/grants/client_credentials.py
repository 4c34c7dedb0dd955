"""The client_credentials grant (RFC 6749 §4.4): the client is the subject (RFC 9068 §2.2)."""

from __future__ import annotations

from collections.abc import Mapping

from app.clients import Client
from app.oauth.scopes import grant_scopes
from app.services import IdpServices
from app.tokens.issuer import IssuedToken


async def client_credentials_grant(
    client: Client, form: Mapping[str, str], services: IdpServices
) -> IssuedToken:
    return services.issuer.issue(
        client_id=client.client_id,
        subject=client.client_id,
        scopes=grant_scopes(form.get("scope"), client),
        now=int(services.clock()),
    )
