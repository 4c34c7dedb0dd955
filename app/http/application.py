"""What gunicorn serves at `wsgi:app`: one object that speaks ASGI and WSGI.

gunicorn's `asgi` worker (TokenIDP's configuration) calls it with (scope, receive, send);
a WSGI host calls it with (environ, start_response). Both routes lead to the same
handlers; other paths reach Flask, through a2wsgi's thread pool under ASGI.
"""

from __future__ import annotations

import asyncio
from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask

from app.http.asgi import AsgiAdapter
from app.services import IdpServices


class TokenIdpApplication:
    """The IdP as a server sees it; `flask_app` is what `create_app` built."""

    def __init__(self, flask_app: Flask) -> None:
        from app import ROUTES

        self.flask_app = flask_app
        self.services: IdpServices = flask_app.extensions["tokenidp"]
        self.wsgi = flask_app.wsgi_app
        self.asgi = AsgiAdapter(
            flask_app.extensions[ROUTES],
            WSGIMiddleware(flask_app.wsgi_app.fallback),
            access_log=self.services.access_log,
            addresses=flask_app.wsgi_app.addresses,
            on_shutdown=self.shutdown,
        )

    async def shutdown(self) -> None:
        """gunicorn's lifespan shutdown: no more heartbeats, then the database goes."""
        await asyncio.to_thread(self.services.keys.stop)
        await self.services.storage.close()

    def __call__(self, *args: Any) -> Any:
        """ASGI with three arguments (returns the coroutine), WSGI with two."""
        if len(args) == 3:
            return self.asgi(*args)
        return self.wsgi(*args)


def serve(flask_app: Flask) -> TokenIdpApplication:
    return TokenIdpApplication(flask_app)
