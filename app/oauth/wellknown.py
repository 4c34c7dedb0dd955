"""Discovery and JWKS: precomputed bytes with a strong ETag, 304 when the client has them.

Plain WSGI endpoints (see app/wsgi_endpoints.py): validators and CDNs hit these hardest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from app.documents import Document
from app.oauth.errors import OAuthError, error_reply
from app.wsgi_endpoints import reply


class DocumentEndpoint:
    """GET or HEAD one published document."""

    def __init__(self, document: Document) -> None:
        self.body = document.body
        self.etag = document.etag
        self.headers = (
            ("Content-Type", document.content_type),
            ("Cache-Control", document.cache_control),
            ("ETag", document.etag),
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            return error_reply(
                start_response,
                OAuthError(
                    "invalid_request",
                    f"{method} is not allowed here",
                    status=405,
                    headers={"Allow": "GET, HEAD"},
                ),
            )
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and etag_matches(if_none_match, self.etag):
            start_response("304 Not Modified", list(self.headers[1:]))
            return []
        response = reply(start_response, 200, self.body, self.headers)
        return [] if method == "HEAD" else response


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison, a list of tags, or `*`."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False
