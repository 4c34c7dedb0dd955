"""gunicorn settings for the bare JWKS route: TokenIDP's own, less the hook that describes
TokenIDP's signing key once ready (the bare app has none), so both run the same server."""

from app.gunicorn_config import *  # noqa: F403


def when_ready(server) -> None:
    """Nothing to announce: the bare route has no keys."""


def post_fork(server, worker) -> None:
    """Nothing to start: the bare route has no storage, limits or keyring."""
