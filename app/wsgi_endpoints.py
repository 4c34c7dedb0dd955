"""Plain WSGI plumbing for the hot endpoints (token, discovery, JWKS).

Under gunicorn's sync worker, Flask's request machinery costs about half an RSA
signature per request (measured by bench/token_endpoint_bench.py), so the endpoints
every client and validator hits are plain WSGI callables over the same plain
functions; Flask serves everything else. `HotPaths` routes by exact path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

log = logging.getLogger("tokenidp")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class HotPaths:
    """Send requests for a few exact paths to their WSGI endpoints, the rest to Flask."""

    def __init__(self, fallback: WsgiApp, routes: Mapping[str, WsgiApp]) -> None:
        self.fallback = fallback
        self.routes = dict(routes)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        endpoint = self.routes.get(environ.get("PATH_INFO", ""), self.fallback)
        return endpoint(environ, start_response)


def reply(
    start_response: Callable[..., Any],
    status: int,
    body: bytes,
    headers: Iterable[tuple[str, str]],
) -> list[bytes]:
    start_response(STATUS_LINES[status], [*headers, ("Content-Length", str(len(body)))])
    return [body]


def json_reply(
    start_response: Callable[..., Any],
    document: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """A JSON body that must never be cached (RFC 6749 §5.1)."""
    return reply(
        start_response,
        status,
        json_body(document),
        [("Content-Type", "application/json"), *NO_STORE, *headers],
    )


def json_body(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
