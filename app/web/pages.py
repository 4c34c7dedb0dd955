"""Server-rendered pages and the headers every browser-facing response carries.

No script runs on these pages, so the Content-Security-Policy allows none: the one style
block is allowed by a per-response nonce, forms may post to this origin (and, for the
login form, to the client's redirect URI's origin, where the sign-in's redirect goes:
browsers apply `form-action` to redirects after a form post), and no site may frame them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

from flask import Blueprint, Response, render_template
from werkzeug.exceptions import HTTPException

from app.storage import StorageUnavailableError

log = logging.getLogger("tokenidp")
bp = Blueprint("pages", __name__, template_folder="templates")

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def content_security_policy(*, style_nonce: str | None, form_action: Iterable[str]) -> str:
    """default-src 'none': nothing loads unless named here."""
    directives = ["default-src 'none'"]
    if style_nonce is not None:
        directives.append(f"style-src 'nonce-{style_nonce}'")
    directives.append(" ".join(["form-action", "'self'", *form_action]))
    directives += ["frame-ancestors 'none'", "base-uri 'none'"]
    return "; ".join(directives)


def add_security_headers(
    response: Response, *, style_nonce: str | None = None, form_action: Iterable[str] = ()
) -> Response:
    """The headers of every page and redirect (OWASP Secure Headers): no caching, no
    sniffing, no referrer (a redirect's query carries a code), no framing."""
    response.headers.update(BASE_HEADERS)
    response.headers["Content-Security-Policy"] = content_security_policy(
        style_nonce=style_nonce, form_action=form_action
    )
    return response


def render_page(
    template: str, *, status: int = 200, form_action: Iterable[str] = (), **context: object
) -> Response:
    """A template rendered (autoescaped) with its style nonce and the security headers."""
    nonce = secrets.token_urlsafe(16)
    html = render_template(template, style_nonce=nonce, **context)
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    return add_security_headers(response, style_nonce=nonce, form_action=form_action)


def error_page(message: str, *, status: int = 400) -> Response:
    """A page, never a redirect: used when the client or its redirect URI cannot be trusted."""
    return render_page("error.html", status=status, message=message)


def answer_errors_with_pages(blueprint: Blueprint, *, what: str) -> None:
    """Every failure of `blueprint`'s pages is a page, never a traceback or a redirect: 503
    while the database is away, the framework's own status for a request it refused (a
    form too large, …), 500 otherwise (the details go to the log). `what` names the
    action in the log: "authorization", "sign-out"."""

    @blueprint.errorhandler(StorageUnavailableError)
    def storage_unavailable(error: StorageUnavailableError) -> Response:
        log.error("%s not completed: %s", what, error)
        return error_page("The sign-in service is temporarily unavailable.", status=503)

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        description = error.description or "The request cannot be read."
        return error_page(description, status=error.code or 400)

    @blueprint.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error during %s", what)
        return error_page("Something went wrong on our side.", status=500)
