"""The token endpoint (RFC 6749 §3.2): parse, authenticate the client, run the grant."""

from __future__ import annotations

from flask import Blueprint, Request, Response, request

from app.documents import TOKEN_PATH
from app.oauth.client_auth import authenticate_client
from app.oauth.errors import OAuthError, json_response
from app.oauth.grants import GRANTS
from app.services import idp

bp = Blueprint("token", __name__)


@bp.post(TOKEN_PATH)
def token() -> Response:
    services = idp()
    form = read_token_form(request)
    client = authenticate_client(
        request.headers.get("Authorization"), form, clients=services.clients
    )
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise OAuthError("unsupported_grant_type", f"{grant_type!r} is not supported")
    if grant_type not in client.allowed_grant_types:
        raise OAuthError("unauthorized_client", f"this client may not use {grant_type}")
    issued = grant(client, form, services)
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    }
    if issued.scopes:
        body["scope"] = " ".join(issued.scopes)
    return json_response(body)


def read_token_form(incoming: Request) -> dict[str, str]:
    """Form-encoded parameters, each at most once (RFC 6749 §3.2)."""
    if incoming.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    form = {}
    for name, values in incoming.form.lists():
        if len(values) > 1:
            raise OAuthError("invalid_request", f"parameter {name!r} is repeated")
        form[name] = values[0]
    return form
