"""OAuth JSON errors (RFC 6749 §5.2): every HTTP failure the IdP returns has this shape."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from app.errors import TokenIdpError

log = logging.getLogger("tokenidp")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(TokenIdpError):
    """An error answered to the client as `{error, error_description}`."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


def json_response(
    body: dict, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    payload = json.dumps(body, separators=(",", ":")).encode()
    response = Response(payload, status=status, mimetype="application/json")
    response.headers.update(NO_STORE)
    if headers:
        response.headers.update(headers)
    return response


def oauth_error_response(error: OAuthError) -> Response:
    return json_response(
        {"error": error.error, "error_description": error.description},
        status=error.status,
        headers=error.headers,
    )


def register_error_handlers(app: Flask) -> None:
    """Turn every failure, including Flask's 404/405 and unexpected ones, into OAuth JSON."""

    @app.errorhandler(OAuthError)
    def handle_oauth_error(error: OAuthError) -> Response:
        return oauth_error_response(error)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = "server_error" if status >= 500 else "invalid_request"
        response = oauth_error_response(OAuthError(code, error.description or "", status=status))
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        log.exception("unexpected error while handling a request")
        return oauth_error_response(
            OAuthError("server_error", "the server could not handle the request", status=500)
        )
