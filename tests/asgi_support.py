"""Calling an ASGI application in-process, as gunicorn's asgi worker does: a scope, the body
in chunks (or a disconnect), and the messages it sends back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class AsgiAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        import json

        return json.loads(self.body)


def asgi_request(
    app,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    disconnect_after_body: bool = False,
    client: str = "127.0.0.1",
) -> AsgiAnswer:
    """One request; `disconnect_after_body` sends the body, then the client goes away."""
    incoming = [{"type": "http.request", "body": body, "more_body": disconnect_after_body}]
    if disconnect_after_body:
        incoming.append({"type": "http.disconnect"})

    async def exchange_then_stop():
        answer = await exchange(app, http_scope(method, path, headers, client=client), incoming)
        adapter = getattr(app, "asgi", app)  # the IdP's application, or its ASGI adapter
        shutdown = getattr(adapter, "on_shutdown", None)
        if shutdown is not None:  # as gunicorn's lifespan does when the worker stops
            await shutdown()
        return answer

    return asyncio.run(exchange_then_stop())


def http_scope(
    method: str, path: str, headers: dict[str, str] | None = None, *, client: str = "127.0.0.1"
) -> dict:
    """The scope gunicorn's asgi worker gives one HTTP/1.1 request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ],
        "server": ("127.0.0.1", 5000),
        "client": (client, 40000),
    }


async def exchange(app, scope: dict, incoming: list[dict]) -> AsgiAnswer:
    """Call `app` with `scope`, receiving `incoming` (then a disconnect); what it answered."""
    incoming = list(incoming)
    sent = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    decoded = {name.decode("latin-1"): value.decode("latin-1") for name, value in start["headers"]}
    return AsgiAnswer(start["status"], decoded, body_out)
