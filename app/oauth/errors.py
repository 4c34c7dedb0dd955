"""OAuth JSON errors (RFC 6749 §5.2): every HTTP failure the IdP returns has this shape."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from app.errors import TokenIdpError
from app.wsgi_endpoints import NO_STORE, json_body, json_reply

log = logging.getLogger("tokenidp")


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

    def document(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


SERVER_ERROR = OAuthError("server_error", "the server could not handle the request", status=500)


def error_reply(start_response: Callable[..., Any], error: OAuthError) -> Iterable[bytes]:
    """The WSGI form of an OAuth error, for the plain endpoints."""
    return json_reply(
        start_response, error.document(), status=error.status, headers=error.headers.items()
    )


def json_response(
    body: dict, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The Flask form of a JSON reply that must never be cached."""
    return Response(
        json_body(body),
        status=status,
        headers=[*NO_STORE, *(headers or {}).items()],
        content_type="application/json",
    )


def register_error_handlers(app: Flask) -> None:
    """Turn every failure, including Flask's 404/405 and unexpected ones, into OAuth JSON."""

    @app.errorhandler(OAuthError)
    def handle_oauth_error(error: OAuthError) -> Response:
        return json_response(error.document(), status=error.status, headers=error.headers)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = "server_error" if status >= 500 else "invalid_request"
        headers = {}
        allow = error.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
        error_document = {"error": code, "error_description": error.description or ""}
        return json_response(error_document, status=status, headers=headers)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        log.exception("unexpected error while handling a request")
        return json_response(SERVER_ERROR.document(), status=500)
