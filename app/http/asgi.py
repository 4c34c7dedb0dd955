"""The ASGI adapter: exact paths to their handlers, on the event loop; the rest to Flask.

Handlers await only storage, which runs in a thread pool, so the loop keeps serving
JWKS, discovery and health meanwhile; idle keep-alive connections and clients that
trickle their requests hold no worker.

A worker told to stop first `drain`s: every answer says `Connection: close`, so no client
sends another request on a connection the worker is about to close (app/serving.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from app.http.body import MAX_BODY_BYTES, declared_length, incomplete, too_large
from app.http.forwarded import ClientAddresses
from app.http.messages import Endpoint, OAuthRequest
from app.http.middleware import REQUEST_ID_HEADER, AccessLog, handle, request_id
from app.oauth.errors import OAuthError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
CONNECTION_CLOSE = (b"connection", b"close")


class AsgiAdapter:
    """Route by exact path to an `Endpoint`, else to `fallback` (Flask, through a2wsgi)."""

    def __init__(
        self,
        routes: Mapping[str, Endpoint],
        fallback: AsgiApp,
        *,
        access_log: AccessLog,
        addresses: ClientAddresses,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.fallback = fallback
        self.access_log = access_log
        self.addresses = addresses
        self.on_shutdown = on_shutdown
        self.draining = False

    def drain(self) -> None:
        """From now on, every answer closes its connection (the worker is about to stop)."""
        self.draining = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                return await _lifespan(receive, send, self.on_shutdown)
            return await self.fallback(scope, receive, send)
        started = time.perf_counter()
        rid = request_id(scope["headers"])
        client = scope.get("client")
        peer = client[0] if client else "-"
        address = self.addresses.resolve(peer, scope["headers"])
        endpoint = self.routes.get(scope["path"])
        if endpoint is None:
            if address != peer:  # Flask (the login page) sees the client, not the proxy
                scope = {**scope, "client": (address, client[1] if client else 0)}
            status, length = await self._fallback(scope, receive, send, rid)
        else:
            try:
                body = await read_body(scope, receive) if endpoint.reads_body else b""
            except OAuthError as error:
                answer = error.response()
            else:
                request = OAuthRequest(
                    scope["method"], scope["path"], scope["headers"], body, address
                )
                answer = await handle(endpoint, request)
            headers = (*answer.headers, (REQUEST_ID_HEADER, rid))
            if self.draining:
                headers += (CONNECTION_CLOSE,)
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})
            status, length = answer.status, len(answer.body)
        self.access_log.record(
            client=address,
            method=scope["method"],
            path=scope["path"],
            status=status,
            length=length,
            started=started,
            request_id=rid,
            deferred=True,
        )

    async def _fallback(self, scope: Scope, receive: Receive, send: Send, rid: bytes) -> list[int]:
        """Flask's answer, with the request id added; returns [status, body bytes]."""
        outcome = [500, 0]

        async def send_with_request_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                outcome[0] = message["status"]
                headers = [*message.get("headers", ()), (REQUEST_ID_HEADER, rid)]
                if self.draining:
                    headers.append(CONNECTION_CLOSE)
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                outcome[1] += len(message.get("body", b""))
            await send(message)

        await self.fallback(scope, receive, send_with_request_id)
        return outcome


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole body, bounded; a disconnect before its end is an incomplete message."""
    declared = declared_length(scope["headers"])
    chunks = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise incomplete()
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if declared is not None and received < declared:
        raise incomplete()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _lifespan(
    receive: Receive, send: Send, on_shutdown: Callable[[], Awaitable[None]] | None
) -> None:
    """Nothing to start per worker (the app was built before the fork); at shutdown the
    database connection this loop holds is returned."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if on_shutdown is not None:
                await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
