"""A tiny downstream API protected by TokenIDP access tokens (GET /orders needs orders.read)."""

from __future__ import annotations

import time
from collections.abc import Callable

import prometheus_client
from flask import Flask, Response, g, jsonify

from tokenidp_validator import JWKSClient, ValidatorMetrics
from tokenidp_validator.flask import init_app, require_token


def create_app(
    *,
    jwks_uri: str,
    issuer: str,
    audience: str,
    refresh_cooldown_seconds: float = 30,
    max_staleness_seconds: float = 86400,
    allow_development_keys: bool = False,
    now: Callable[[], float] = time.monotonic,
) -> Flask:
    """Build the API; the JWKS is fetched lazily, so the IdP need not be up at start.

    `allow_development_keys=True` trusts a development IdP's key: for local use only.
    `now` is the JWKS client's monotonic clock, injected by tests.
    """
    app = Flask(__name__)
    registry = prometheus_client.CollectorRegistry()
    metrics = ValidatorMetrics(registry=registry)
    jwks_client = JWKSClient(
        jwks_uri,
        refresh_cooldown_seconds=refresh_cooldown_seconds,
        max_staleness_seconds=max_staleness_seconds,
        metrics=metrics,
        allow_development_keys=allow_development_keys,
        now=now,
    )
    init_app(app, issuer=issuer, jwks_client=jwks_client, audience=audience, metrics=metrics)

    @app.get("/orders")
    @require_token(scopes=["orders.read"])
    def list_orders() -> Response:
        return jsonify(
            orders=[{"id": "order-1", "total": "12.50"}],
            client_id=g.access_token.client_id,
            kid=g.access_token.kid,
        )

    @app.get("/healthz")
    def health() -> Response:
        status = jwks_client.status()
        return jsonify(
            status="ok",
            cached_kids=list(status.kids),
            jwks_failures=status.consecutive_failures,
            jwks_age_seconds=status.age_seconds,
            jwks_keys_dropped_as_stale=status.keys_dropped_as_stale,
            counts=metrics.snapshot(),
        )

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(
            prometheus_client.generate_latest(registry),
            mimetype=prometheus_client.CONTENT_TYPE_LATEST,
        )

    return app
