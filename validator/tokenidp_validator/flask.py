"""Flask integration: `require_token` answers 401/403 the RFC 6750 §3 way, else sets `g`."""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request

from tokenidp_validator.errors import (
    KeySetUnavailableError,
    TokenValidationError,
    ValidatorConfigError,
)
from tokenidp_validator.jwks_client import JWKSClient
from tokenidp_validator.metrics import ValidatorMetrics
from tokenidp_validator.tokens import DEFAULT_LEEWAY_SECONDS, validate_token

EXTENSION_NAME = "tokenidp_validator"
MAX_DESCRIPTION_LENGTH = 200
# error_description may hold only %x20-21 / %x23-5B / %x5D-7E (RFC 6750 §3).
_NOT_DESCRIPTION_CHARACTER = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")

logger = logging.getLogger(__name__)
View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class BearerTokenSettings:
    """What every protected view of one app checks tokens against."""

    issuer: str
    jwks_client: JWKSClient
    audience: str | None
    leeway_seconds: float
    metrics: ValidatorMetrics | None


def init_app(
    app: Flask,
    *,
    issuer: str,
    jwks_client: JWKSClient,
    audience: str | None = None,
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
    metrics: ValidatorMetrics | None = None,
) -> None:
    """Trust `issuer`'s keys from `jwks_client` for this app; `audience` is the views' default."""
    app.extensions[EXTENSION_NAME] = BearerTokenSettings(
        issuer=issuer,
        jwks_client=jwks_client,
        audience=audience,
        leeway_seconds=leeway_seconds,
        metrics=metrics if metrics is not None else jwks_client.metrics,
    )


def require_token(
    *, audience: str | None = None, scopes: Iterable[str] = ()
) -> Callable[[View], View]:
    """Run the view only for a valid bearer token holding `scopes`; it is on `g.access_token`."""
    required_scopes = tuple(scopes)

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def protected_view(*args: Any, **kwargs: Any) -> Any:
            settings = _settings()
            token_audience = audience or settings.audience
            if token_audience is None:
                raise ValidatorConfigError(
                    f"require_token on {view.__name__}: no audience; pass audience= "
                    "here or to tokenidp_validator.flask.init_app"
                )
            scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                if settings.metrics is not None:
                    settings.metrics.record_validation(result="missing", reason="no_token")
                return _missing_token_response()
            token = credentials.strip(" ")
            if not token or " " in token:
                return _error_response(400, "invalid_request", "malformed Authorization header")
            try:
                g.access_token = validate_token(
                    token,
                    jwks_client=settings.jwks_client,
                    issuer=settings.issuer,
                    audience=token_audience,
                    leeway_seconds=settings.leeway_seconds,
                    required_scopes=required_scopes,
                    metrics=settings.metrics,
                )
            except TokenValidationError as e:
                return _error_response(
                    e.status_code, e.error, e.description, scope=" ".join(required_scopes)
                )
            except KeySetUnavailableError as e:
                logger.error("cannot validate tokens: %s", e)
                response = _error_response(
                    503, "temporarily_unavailable", "the issuer's signing keys are unavailable"
                )
                # The client fetches again at most once per cool-down: no sooner is useful.
                response.headers["Retry-After"] = str(
                    max(1, math.ceil(settings.jwks_client.refresh_cooldown_seconds))
                )
                return response
            return view(*args, **kwargs)

        return protected_view  # type: ignore[return-value]

    return decorator


def _settings() -> BearerTokenSettings:
    """The settings init_app stored; a clear error when it was never called."""
    settings = current_app.extensions.get(EXTENSION_NAME)
    if settings is None:
        raise ValidatorConfigError(
            "tokenidp_validator.flask: call init_app(app, issuer=..., jwks_client=...) before "
            "using require_token"
        )
    return settings


def _missing_token_response() -> Response:
    """No credentials at all: a bare challenge, no error code (RFC 6750 §3.1)."""
    response = jsonify(
        error="unauthorized",
        error_description="an access token is required: Authorization: Bearer <token>",
    )
    response.status_code = 401
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _error_response(status_code: int, error: str, description: str, *, scope: str = "") -> Response:
    """JSON {error, error_description} and, for 401/403, the matching Bearer challenge."""
    description = _NOT_DESCRIPTION_CHARACTER.sub("?", description.replace('"', "'"))
    description = description[:MAX_DESCRIPTION_LENGTH]
    response = jsonify(error=error, error_description=description)
    response.status_code = status_code
    if status_code in (400, 401, 403):
        challenge = f'Bearer error="{error}", error_description="{description}"'
        if error == "insufficient_scope" and scope:
            challenge += f', scope="{scope}"'
        response.headers["WWW-Authenticate"] = challenge
    return response
