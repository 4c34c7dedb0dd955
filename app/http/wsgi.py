"""The WSGI adapter: the same handlers for hosts that only speak WSGI (and Flask's test client).

Without an event loop a handler's storage calls run inline, so its coroutine never
suspends and `run_inline` drives it to the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from app.http.body import MAX_BODY_BYTES, declared_length, incomplete, too_large
from app.http.forwarded import ClientAddresses
from app.http.messages import STATUS_LINES, Endpoint, OAuthRequest
from app.http.middleware import REQUEST_ID_HEADER, AccessLog, handle, request_id, run_inline
from app.oauth.errors import OAuthError

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# CGI names the two headers it does not prefix with HTTP_.
_UNPREFIXED = {"CONTENT_TYPE": b"content-type", "CONTENT_LENGTH": b"content-length"}
_REQUEST_ID = REQUEST_ID_HEADER.decode()


class WsgiAdapter:
    """Route by exact path to an `Endpoint`, else to `fallback` (Flask)."""

    def __init__(
        self,
        routes: Mapping[str, Endpoint],
        fallback: WsgiApp,
        *,
        access_log: AccessLog,
        addresses: ClientAddresses,
    ) -> None:
        self.routes = dict(routes)
        self.fallback = fallback
        self.access_log = access_log
        self.addresses = addresses

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        headers = request_headers(environ)
        rid = request_id(headers)
        path = environ.get("PATH_INFO", "")
        peer = environ.get("REMOTE_ADDR") or "-"
        address = self.addresses.resolve(peer, headers)
        endpoint = self.routes.get(path)
        if endpoint is None:
            if address != peer:  # Flask (the login page) sees the client, not the proxy
                environ["REMOTE_ADDR"] = address
            return self._fallback(environ, start_response, rid, started)
        method = environ["REQUEST_METHOD"]
        try:
            body = read_body(environ, headers) if endpoint.reads_body else b""
        except OAuthError as error:
            answer = error.response()
        else:
            answer = run_inline(
                handle(endpoint, OAuthRequest(method, path, headers, body, address))
            )
        start_response(
            STATUS_LINES[answer.status],
            [
                *(
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in answer.headers
                ),
                (_REQUEST_ID, rid.decode()),
            ],
        )
        self.access_log.record(
            client=address,
            method=method,
            path=path,
            status=answer.status,
            length=len(answer.body),
            started=started,
            request_id=rid,
        )
        return [answer.body]

    def _fallback(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        rid: bytes,
        started: float,
    ) -> Iterable[bytes]:
        status = [500]

        def start_with_request_id(line: str, headers: list, *exc_info: Any) -> Any:
            status[0] = int(line[:3])
            return start_response(line, [*headers, (_REQUEST_ID, rid.decode())], *exc_info)

        body = self.fallback(environ, start_with_request_id)
        return _Logged(body, self.access_log, environ, status, rid, started)


class _Logged:
    """A WSGI body that writes the access-log line once the server has sent it."""

    def __init__(
        self,
        body: Iterable[bytes],
        access_log: AccessLog,
        environ: Mapping[str, Any],
        status: list[int],
        rid: bytes,
        started: float,
    ) -> None:
        self.body = body
        self.access_log = access_log
        self.environ = environ
        self.status = status
        self.rid = rid
        self.started = started
        self.length = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.length += len(chunk)
            yield chunk

    def close(self) -> None:
        close = getattr(self.body, "close", None)
        if close is not None:
            close()
        self.access_log.record(
            client=self.environ.get("REMOTE_ADDR", "-"),
            method=self.environ.get("REQUEST_METHOD", "-"),
            path=self.environ.get("PATH_INFO", ""),
            status=self.status[0],
            length=self.length,
            started=self.started,
            request_id=self.rid,
        )


def request_headers(environ: Mapping[str, Any]) -> tuple[tuple[bytes, bytes], ...]:
    """The environ's headers as ASGI-style byte pairs with lower-case names."""
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower().encode("latin-1")
        elif key in _UNPREFIXED:
            name = _UNPREFIXED[key]
        else:
            continue
        if value:
            pairs.append((name, value.encode("latin-1")))
    return tuple(pairs)


def read_body(environ: Mapping[str, Any], headers: tuple[tuple[bytes, bytes], ...]) -> bytes:
    declared = declared_length(headers)
    stream = environ["wsgi.input"]
    if declared is None:  # chunked: the server de-chunks; read one byte past the limit
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise too_large()
        return body
    body = stream.read(declared)
    if len(body) < declared:  # the client closed early
        raise incomplete()
    return body
