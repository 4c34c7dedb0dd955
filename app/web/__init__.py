"""The browser side of the IdP: the session cookie, CSRF tokens and server-rendered pages.

The protocol endpoints a browser visits (`/connect/authorize`, `/connect/endsession`) are
Flask blueprints in app/oauth; what they share about cookies and pages lives here.
"""

from __future__ import annotations

from flask import Flask

from app.services import IdpServices
from app.web.session import SESSION_KEYS, SessionKeys


def init_app(app: Flask, services: IdpServices) -> None:
    """Register the browser-facing blueprints; the session key is read on first use."""
    from app.oauth import authorize, endsession
    from app.web import pages

    app.extensions[SESSION_KEYS] = SessionKeys(services.storage, clock=services.clock)
    app.register_blueprint(pages.bp)
    app.register_blueprint(authorize.bp)
    app.register_blueprint(endsession.bp)
