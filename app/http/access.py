"""Who a request was for, as the access log records it: the client id a handler noted.

A context variable, set by the handler and taken (and cleared) by the adapter when it
writes the access-log line, so a keep-alive connection's next request starts clean.
"""

from __future__ import annotations

from contextvars import ContextVar

_client_id: ContextVar[str | None] = ContextVar("tokenidp_client_id", default=None)


def note_client_id(client_id: str | None) -> None:
    """The client this request authenticated as (or claimed to be, when it failed)."""
    _client_id.set(client_id)


def take_client_id() -> str | None:
    """The noted client id, cleared for the next request in this context."""
    client_id = _client_id.get()
    if client_id is not None:
        _client_id.set(None)
    return client_id
