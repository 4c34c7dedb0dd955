"""The token endpoint (RFC 6749 §3.2): a list of small steps, then the grant's own module.

A plain WSGI endpoint (see app/wsgi_endpoints.py for why): read the form, authenticate
the client, pick the grant, issue, answer. Every failure is an OAuth JSON error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from app.config import ClientConfig
from app.oauth.client_auth import authenticate_client
from app.oauth.errors import SERVER_ERROR, OAuthError, error_reply
from app.oauth.grants import GRANTS, Grant
from app.services import IdpServices
from app.tokens.issuer import IssuedToken
from app.wsgi_endpoints import json_reply

log = logging.getLogger("tokenidp")
MAX_FORM_BYTES = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


class TokenEndpoint:
    """POST /connect/token."""

    def __init__(self, services: IdpServices) -> None:
        self.services = services

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            if environ["REQUEST_METHOD"] != "POST":
                raise OAuthError(
                    "invalid_request",
                    "the token endpoint accepts POST only",
                    status=405,
                    headers={"Allow": "POST"},
                )
            form = read_token_form(environ)
            client = authenticate_client(
                environ.get("HTTP_AUTHORIZATION"), form, clients=self.services.clients
            )
            grant = find_grant(form, client)
            issued = grant(client, form, self.services)
        except OAuthError as error:
            return error_reply(start_response, error)
        except Exception:
            log.exception("unexpected error at the token endpoint")
            return error_reply(start_response, SERVER_ERROR)
        return json_reply(start_response, token_response(issued))


def read_token_form(environ: Mapping[str, Any]) -> dict[str, str]:
    """Form-encoded parameters, each at most once (RFC 6749 §3.2), from a bounded body."""
    content_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise OAuthError("invalid_request", f"the body must be {FORM_TYPE}")
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_FORM_BYTES:
        raise OAuthError(
            "invalid_request", f"the body must have a Content-Length of at most {MAX_FORM_BYTES}"
        )
    try:
        pairs = parse_qsl(environ["wsgi.input"].read(length).decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the body is not UTF-8") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        names = [name for name, _ in pairs]
        repeated = next(name for name in names if names.count(name) > 1)
        raise OAuthError("invalid_request", f"parameter {repeated!r} is repeated")
    return form


def find_grant(form: Mapping[str, str], client: ClientConfig) -> Grant:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise OAuthError("unsupported_grant_type", f"{grant_type!r} is not supported")
    if grant_type not in client.allowed_grant_types:
        raise OAuthError("unauthorized_client", f"this client may not use {grant_type}")
    return grant


def token_response(issued: IssuedToken) -> dict[str, Any]:
    """RFC 6749 §5.1."""
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    }
    if issued.scopes:
        body["scope"] = " ".join(issued.scopes)
    return body
