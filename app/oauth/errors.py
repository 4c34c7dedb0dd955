"""OAuth JSON errors (RFC 6749 §5.2): every HTTP failure the IdP returns has this shape.

One class per error code that carries more than its name (`InvalidClientError` carries
its status and challenge), one renderer for the plain endpoints (`OAuthError.response`)
and one for Flask (`register_error_handlers`), both from the same document.
"""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from app.errors import TokenIdpError
from app.http.messages import OAuthResponse, header_pairs, json_body, json_response

log = logging.getLogger("tokenidp")
FLASK_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class OAuthError(TokenIdpError):
    """An error answered to the client as `{error, error_description}` (RFC 6749 §5.2).

    Each subclass is one error code with its status; nothing else spells the code.
    """

    error = "invalid_request"
    status = 400

    def __init__(self, description: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{self.error}: {description}")
        self.description = description
        self.headers = headers or {}

    def document(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def response(self) -> OAuthResponse:
        """The error as the plain endpoints send it."""
        return json_response(
            self.document(), status=self.status, headers=header_pairs(self.headers)
        )


class InvalidRequestError(OAuthError):
    error = "invalid_request"


class MethodNotAllowedError(InvalidRequestError):
    """A method the endpoint does not serve: 405 with the methods it does (RFC 9110 §15.5.6)."""

    status = 405

    def __init__(self, method: str, *, allowed: str) -> None:
        super().__init__(f"{method[:20]} is not allowed here", headers={"Allow": allowed})


class InvalidClientError(OAuthError):
    """`invalid_client`: 401 with a Basic challenge; remembers who was claimed."""

    error = "invalid_client"
    status = 401
    CHALLENGE = {"WWW-Authenticate": 'Basic realm="tokenidp"'}

    def __init__(self, description: str, *, presented_client_id: str | None) -> None:
        super().__init__(description, headers=self.CHALLENGE)
        self.presented_client_id = presented_client_id


class InvalidGrantError(OAuthError):
    error = "invalid_grant"


class UnauthorizedClientError(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantTypeError(OAuthError):
    error = "unsupported_grant_type"


class InvalidScopeError(OAuthError):
    error = "invalid_scope"


class UnsupportedTokenTypeError(OAuthError):
    """RFC 7009 §2.2.1: the server cannot revoke tokens of the type hinted."""

    error = "unsupported_token_type"


class ServerError(OAuthError):
    error = "server_error"
    status = 500


class TemporarilyUnavailableError(OAuthError):
    """A dependency (the database) cannot answer now: retry after a moment."""

    error = "temporarily_unavailable"
    status = 503

    def __init__(self, description: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after_seconds)})


SERVER_ERROR = ServerError("the server could not handle the request")


def flask_json_response(
    body: dict, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The Flask form of a JSON reply that must never be cached."""
    return Response(
        json_body(body),
        status=status,
        headers=[*FLASK_NO_STORE, *(headers or {}).items()],
        content_type="application/json",
    )


def register_error_handlers(app: Flask) -> None:
    """Turn every failure, including Flask's 404/405 and unexpected ones, into OAuth JSON."""

    @app.errorhandler(OAuthError)
    def handle_oauth_error(error: OAuthError) -> Response:
        return flask_json_response(error.document(), status=error.status, headers=error.headers)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = "server_error" if status >= 500 else "invalid_request"
        headers = {}
        allow = error.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
        error_document = {"error": code, "error_description": error.description or ""}
        return flask_json_response(error_document, status=status, headers=headers)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        log.exception("unexpected error while handling a request")
        return flask_json_response(SERVER_ERROR.document(), status=500)


class BearerTokenError(OAuthError):
    """RFC 6750 §3: a protected resource's refusal, its code repeated in a Bearer challenge."""

    error = "invalid_token"
    status = 401

    def __init__(self, description: str) -> None:
        challenge = (
            f'Bearer realm="tokenidp", error="{self.error}", error_description="{description}"'
        )
        super().__init__(description, headers={"WWW-Authenticate": challenge})


class InvalidTokenError(BearerTokenError):
    """The access token is not ours, expired, revoked, or its key is (RFC 6750 §3.1)."""


class InsufficientScopeError(BearerTokenError):
    error = "insufficient_scope"
    status = 403


class BearerTokenRequiredError(OAuthError):
    """No access token at all: a bare challenge, no error code in it (RFC 6750 §3.1)."""

    status = 401

    def __init__(self, description: str) -> None:
        super().__init__(description, headers={"WWW-Authenticate": 'Bearer realm="tokenidp"'})
