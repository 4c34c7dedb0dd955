"""Client authentication at the token endpoint: client_secret_basic or client_secret_post.

Secrets are compared as SHA-256 digests in constant time against every configured secret,
and an unknown client costs the same work as a known one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import unquote_plus

from app.config import ClientConfig
from app.oauth.errors import OAuthError

CHALLENGE = {"WWW-Authenticate": 'Basic realm="tokenidp"'}
_NO_SUCH_CLIENT_DIGESTS = (hashlib.sha256(b"no such client").digest(),)


def authenticate_client(
    authorization: str | None,
    form: Mapping[str, str],
    *,
    clients: Mapping[str, ClientConfig],
) -> ClientConfig:
    """The client the request proves it is, or `invalid_client` (401)."""
    client_id, secret = _presented_credentials(authorization, form)
    client = clients.get(client_id)
    digest = hashlib.sha256(secret.encode()).digest()
    matched = False
    for expected in client.secret_sha256_digests if client else _NO_SUCH_CLIENT_DIGESTS:
        matched |= hmac.compare_digest(digest, expected)
    if client is None or not matched:
        raise OAuthError(
            "invalid_client", "client authentication failed", status=401, headers=CHALLENGE
        )
    return client


def _presented_credentials(authorization: str | None, form: Mapping[str, str]) -> tuple[str, str]:
    in_body = "client_secret" in form
    if authorization:
        if in_body:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        client_id, secret = _basic_credentials(authorization)
        if form.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", "client_id differs from the authenticated client")
        return client_id, secret
    if in_body and form.get("client_id"):
        return form["client_id"], form["client_secret"]
    raise OAuthError(
        "invalid_client",
        "client authentication required (client_secret_basic or client_secret_post)",
        status=401,
        headers=CHALLENGE,
    )


def _basic_credentials(authorization: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before base64."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(
            "invalid_client",
            "only Basic client authentication is accepted",
            status=401,
            headers=CHALLENGE,
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise OAuthError(
            "invalid_client", "malformed Basic credentials", status=401, headers=CHALLENGE
        )
    return unquote_plus(client_id), unquote_plus(secret)
