"""What every request needs, outside both frameworks: a request id, the access log, and
the final catch-all. Both adapters call these for every path, Flask's included, so no
cross-cutting concern lives in a Flask hook that the protocol endpoints would never see.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import secrets
import select
import time
from collections.abc import Awaitable, Sequence

from app.http.access import take_client_id
from app.http.messages import Endpoint, OAuthRequest, OAuthResponse
from app.logs import iso_timestamp, json_line, loggable
from app.oauth.errors import SERVER_ERROR, OAuthError
from app.process_id import process_id

log = logging.getLogger("tokenidp")
REQUEST_ID_HEADER = b"x-request-id"
MAX_CLIENT_ID = 200  # as the audit log keeps it
# A request id from the proxy in front (nginx's $request_id) is kept when it is this tame.
_TAME_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


class _RequestIds:
    """New ids: 48 random bits drawn once per process, then a counter (no syscall per id)."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = secrets.token_hex(6)
        self.counter = itertools.count(1)

    def new(self) -> bytes:
        return f"{self.prefix}{next(self.counter):08x}".encode()


_request_ids = _RequestIds()


def request_id(headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """The id a proxy gave the request, or a new one unique to this process and request."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER and _TAME_REQUEST_ID.fullmatch(value):
            return value
    return _request_ids.new()


async def handle(endpoint: Endpoint, request: OAuthRequest) -> OAuthResponse:
    """The endpoint's answer; an OAuth error becomes its JSON, anything else a logged 500."""
    try:
        return await endpoint.handle(request)
    except OAuthError as error:
        return error.response()
    except Exception:
        log.exception("unexpected error while handling %s %s", request.method, request.path)
        return SERVER_ERROR.response()


def run_inline(awaitable: Awaitable[OAuthResponse]) -> OAuthResponse:
    """Drive a handler that never suspends (no event loop: the WSGI adapter's case)."""
    coroutine = awaitable.__await__()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a handler waited outside an event loop")


class AccessLog:
    """One line per request in the log format of app/logs.py (`json`: one JSON object).

    Address, method, path without its query (queries can carry codes and tokens), status,
    bytes, milliseconds and the request id, and in JSON the client id the handler noted
    (app/http/access.py); never a header or a body. Under an event loop the lines of one
    loop iteration go out in one `write` (`deferred`); otherwise each is written at once.
    """

    def __init__(self, *, fd: int = 2, json: bool = False) -> None:
        self.fd = fd
        self.json = json
        self._pending: list[bytes] = []

    def record(
        self,
        *,
        client: str,
        method: str,
        path: str,
        status: int,
        length: int,
        started: float,
        request_id: bytes,
        deferred: bool = False,
    ) -> None:
        now = time.time()
        milliseconds = (time.perf_counter() - started) * 1000
        client_id = take_client_id()
        if self.json:
            line = json_access_line(
                now, client, method, path, status, length, milliseconds, request_id, client_id
            )
        else:
            line = (
                f"{iso_timestamp(now)} [{process_id()}] INFO tokenidp.access: {client} "
                f'"{loggable(method)} {loggable(path)}" {status} {length} {milliseconds:.1f}ms '
                f"rid={request_id.decode()}\n"
            ).encode()
        if not deferred:
            self._write(line)
            return
        self._pending.append(line)
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write what this loop iteration logged, in writes of whole lines up to PIPE_BUF."""
        pending, self._pending = self._pending, []
        chunk = b""
        for line in pending:
            if len(chunk) + len(line) > select.PIPE_BUF and chunk:
                self._write(chunk)
                chunk = b""
            chunk += line
        if chunk:
            self._write(chunk)

    def _write(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except OSError:  # a closed or full log stream never fails a request
            pass


def json_access_line(
    now: float,
    address: str,
    method: str,
    path: str,
    status: int,
    length: int,
    milliseconds: float,
    request_id: bytes,
    client_id: str | None,
) -> bytes:
    """The access-log record as one JSON line (strings escaped by the encoder)."""
    fields = {
        "time": iso_timestamp(now),
        "level": "INFO",
        "logger": "tokenidp.access",
        "pid": process_id(),
        "request_id": request_id.decode(),
        "client_id": client_id[:MAX_CLIENT_ID] if client_id else None,
        "address": address,
        "method": method,
        "path": path,
        "status": status,
        "bytes": length,
        "duration_ms": round(milliseconds, 1),
    }
    return (json_line(fields) + "\n").encode()
