"""TokenIDP: a small identity provider whose specialty is signing-key management."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from flask import Flask

from app.clients import build_client_registry
from app.config import Settings, load_config, with_origin_hint
from app.documents import (
    DISCOVERY_PATH,
    INTROSPECTION_PATH,
    JWKS_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from app.errors import ConfigError
from app.http.forwarded import ClientAddresses
from app.http.messages import Endpoint
from app.http.middleware import AccessLog
from app.http.wsgi import WsgiAdapter
from app.keys.expiry import days_left, expires_soon
from app.keys.live import LiveKeys
from app.logs import configure_logging, log_format
from app.ops.rate_limits import FailureLimits, LimitStorage
from app.services import IdpServices
from app.storage import open_storage, prepare_database

log = logging.getLogger("tokenidp")
ROUTES = "tokenidp.routes"


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.time
) -> Flask:
    """Load configuration, resolve the keyring and render the documents once, then serve.

    Returns the Flask application with the protocol handlers mounted ahead of it (WSGI);
    `app.http.application.serve` wraps it for gunicorn's ASGI worker. Raises
    `ConfigError` (one line naming the setting) when the IdP must not start, a client id
    in both `Clients` and the database included. `clock` is also the clients' clock:
    secret expiry, and when the database's clients are read again.
    """
    configure_logging()
    if settings is None:  # callers that pass settings have shown their warnings already
        settings = load_config()
        for warning in settings.warnings:
            log.warning(warning)
    now = dt.datetime.fromtimestamp(clock(), dt.UTC)
    storage = open_storage(settings)
    prepare_database(storage, settings)
    try:
        keys = LiveKeys.start(settings, storage, clock=clock)
    except ConfigError as error:
        raise with_origin_hint(error, settings) from None
    clients = build_client_registry(settings, storage, clock=clock)
    limit_storage = LimitStorage(
        settings.redis_url, key_prefix=settings.rate_limits.redis_key_prefix
    )
    services = IdpServices(
        settings=settings,
        keys=keys,
        clients=clients,
        clock=clock,
        access_log=AccessLog(json=log_format() == "json"),
        storage=storage,
        limit_storage=limit_storage,
        client_limits=FailureLimits("client", settings.rate_limits, limit_storage),
        login_limits=FailureLimits("login", settings.rate_limits, limit_storage),
    )
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    app.extensions["tokenidp"] = services

    from app import api, web
    from app.oauth import health
    from app.oauth.errors import register_error_handlers

    app.register_blueprint(health.bp)
    api.register(app, issuer=settings.token.issuer)
    web.init_app(app, services)
    register_error_handlers(app)
    routes = protocol_routes(services)
    app.extensions[ROUTES] = routes
    app.wsgi_app = WsgiAdapter(  # type: ignore[method-assign]
        routes,
        app.wsgi_app,
        access_log=services.access_log,
        addresses=ClientAddresses(settings.trusted_proxies),
    )

    keyring = keys.keyring
    for notice in keyring.notices:
        log.warning(notice)
    signing = keyring.signing
    if signing is not None and expires_soon(signing, now=now):
        log.warning(
            "the signing certificate %s expires in %d days: rotate it (README: Rotating keys)",
            signing.kid,
            days_left(signing, now=now),
        )
    return app


def protocol_routes(services: IdpServices) -> dict[str, Endpoint]:
    """The exact paths served by framework-free handlers, ahead of Flask."""
    from app.oauth.introspection import IntrospectionEndpoint
    from app.oauth.revocation import RevocationEndpoint
    from app.oauth.token import TokenEndpoint
    from app.oauth.userinfo import UserinfoEndpoint
    from app.oauth.wellknown import DocumentEndpoint
    from app.ops import metrics
    from app.ops.metrics import TimedEndpoint
    from app.ops.metrics_endpoint import METRICS_PATH, MetricsEndpoint

    routes: dict[str, Endpoint] = {
        path: DocumentEndpoint(services.keys, path) for path in (JWKS_PATH, DISCOVERY_PATH)
    }
    routes[TOKEN_PATH] = TimedEndpoint(TokenEndpoint(services), metrics.token_request_observer())
    routes[INTROSPECTION_PATH] = IntrospectionEndpoint(services)
    routes[REVOCATION_PATH] = RevocationEndpoint(services)
    routes[USERINFO_PATH] = UserinfoEndpoint(services)
    routes[METRICS_PATH] = MetricsEndpoint(services)
    return routes
