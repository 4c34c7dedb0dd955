"""The HTTP edge: one request and response shape, and two thin adapters over the same handlers.

gunicorn's `asgi` worker serves the ASGI adapter (keep-alive, slow clients handled by the
event loop); the WSGI adapter serves hosts that only speak WSGI, and Flask's test client.
Handlers are plain functions of an `OAuthRequest`; they never wait on I/O, so both
adapters run them inline. Everything else (health, error pages) is Flask, behind both.
"""
