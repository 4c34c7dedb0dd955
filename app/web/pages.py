"""Server-rendered pages and the headers every browser-facing response carries.

No script runs on these pages, so the Content-Security-Policy allows none: the one style
block is allowed by a per-response nonce, forms may post to this origin (and, for the
login form, to the client's redirect URI's origin, where the sign-in's redirect goes:
browsers apply `form-action` to redirects after a form post), and no site may frame them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask import Blueprint, Response, render_template

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
