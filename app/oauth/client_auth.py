"""Client authentication: client_secret_basic or client_secret_post, against the registry.

Every client the registry knows is checked the same way (app/client_secrets.py): the
secret's digest against each of the client's secrets in constant time; an unknown,
disabled or public client costs the same work. The reason a secret that matched was
refused anyway (disabled client, secret rotated out) is said only to a caller who knew it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import unquote_plus

from app.client_secrets import SecretCheck, check_client_secret
from app.clients import Client, ClientRegistry
from app.oauth.errors import InvalidClientError, InvalidRequestError


async def authenticate_client(
    authorization: str | None,
    form: Mapping[str, str],
    *,
    clients: ClientRegistry,
) -> Client:
    """The client the request proves it is, or `invalid_client` (401).

    Awaited: the registry may refresh its copy of the database's clients first, in the
    storage reader thread under the event loop (at most once per refresh interval).
    """
    client_id, secret = _presented_credentials(authorization, form)
    client = await clients.find(client_id)
    check = check_client_secret(
        secret, candidates=client.secrets if client else (), now=int(clients.clock())
    )
    if client is None or check is SecretCheck.WRONG:
        raise InvalidClientError("client authentication failed", presented_client_id=client_id)
    if client.is_disabled:
        raise InvalidClientError("this client is disabled", presented_client_id=client_id)
    if check is SecretCheck.EXPIRED:
        raise InvalidClientError(
            "this client secret has expired (it was rotated out)", presented_client_id=client_id
        )
    return client


async def authenticate_public_client(
    authorization: str | None, form: Mapping[str, str], *, clients: ClientRegistry
) -> Client | None:
    """A public client naming itself by `client_id` alone (RFC 6749 §3.2.1), or None when
    the request carries credentials (then `authenticate_client` decides).

    Only for the grants that bind what they redeem to the client without a secret
    (authorization code with PKCE, refresh token): the caller checks the grant type. A
    confidential client that sends no secret is refused, as is a disabled public client.
    """
    if authorization or "client_secret" in form:
        return None
    client_id = form.get("client_id")
    if not client_id:
        return None
    client = await clients.find(client_id)
    if client is None or not client.is_public:
        raise InvalidClientError(
            "client authentication required (client_secret_basic or client_secret_post)",
            presented_client_id=client_id,
        )
    if client.is_disabled:
        raise InvalidClientError("this client is disabled", presented_client_id=client_id)
    return client


def _presented_credentials(authorization: str | None, form: Mapping[str, str]) -> tuple[str, str]:
    in_body = "client_secret" in form
    if authorization:
        if in_body:
            raise InvalidRequestError("use one client authentication method, not two")
        client_id, secret = _basic_credentials(authorization)
        if form.get("client_id", client_id) != client_id:
            raise InvalidRequestError("client_id differs from the authenticated client")
        return client_id, secret
    if in_body and form.get("client_id"):
        return form["client_id"], form["client_secret"]
    raise InvalidClientError(
        "client authentication required (client_secret_basic or client_secret_post)",
        presented_client_id=form.get("client_id"),
    )


def _basic_credentials(authorization: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before base64."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClientError(
            "only Basic client authentication is accepted", presented_client_id=None
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII text in the header
        decoded = ""
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClientError("malformed Basic credentials", presented_client_id=None)
    return unquote_plus(client_id), unquote_plus(secret)
