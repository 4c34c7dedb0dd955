"""TokenIDP: a small identity provider whose specialty is signing-key management."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections.abc import Callable

from flask import Flask

from app.config import Settings, load_config
from app.documents import render_documents
from app.keys.keyring import build_keyring
from app.services import IdpServices

log = logging.getLogger("tokenidp")
EXPIRY_WARNING_DAYS = 30


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.time
) -> Flask:
    """Load configuration, resolve the keyring and render the documents once, then serve.

    Raises `ConfigError` (one line naming the setting) when the IdP must not start.
    """
    configure_logging()
    settings = settings or load_config()
    now = dt.datetime.fromtimestamp(clock(), dt.UTC)
    keyring = build_keyring(settings, now=now)
    services = IdpServices(
        settings=settings,
        keyring=keyring,
        documents=render_documents(settings, keyring),
        clients={client.client_id: client for client in settings.clients},
        clock=clock,
    )
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    app.extensions["tokenidp"] = services

    from app.documents import TOKEN_PATH
    from app.oauth import health
    from app.oauth.errors import register_error_handlers
    from app.oauth.token import TokenEndpoint
    from app.oauth.wellknown import DocumentEndpoint
    from app.wsgi_endpoints import HotPaths

    app.register_blueprint(health.bp)
    register_error_handlers(app)
    hot_paths = {document.path: DocumentEndpoint(document) for document in services.documents}
    hot_paths[TOKEN_PATH] = TokenEndpoint(services)
    app.wsgi_app = HotPaths(app.wsgi_app, hot_paths)  # type: ignore[method-assign]

    for notice in keyring.notices:
        log.warning(notice)
    signing = keyring.signing
    days_left = (signing.not_after - now).days
    if days_left < EXPIRY_WARNING_DAYS:
        log.warning(
            "the signing certificate %s expires in %d days: rotate it (README: Rotating keys)",
            signing.kid,
            days_left,
        )
    log.info(
        "TokenIDP ready: environment=%s kid=%s alg=%s subject=%s expires=%s (%d days left) "
        "source=%s published=%d",
        settings.environment,
        signing.kid,
        signing.algorithm,
        signing.subject,
        signing.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        days_left,
        signing.source,
        len(keyring.keys),
    )
    return app


def configure_logging() -> None:
    """One stderr handler for the `tokenidp` logger, unless the host configured one."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
