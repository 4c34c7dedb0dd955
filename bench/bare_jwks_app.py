"""The reference for JWKS speed: the same bytes from the smallest ASGI app gunicorn's asgi
worker can run (TokenIDP's own worker class), with nothing else in the way: no routing
table, no headers beyond the length and type, no framework."""

import os
from pathlib import Path

BODY = Path(os.environ["BARE_JWKS_BODY_FILE"]).read_bytes()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
PATH = "/.well-known/jwks.json"


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] != PATH:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
