"""Requested scopes against the client's allowed scopes (RFC 6749 §3.3)."""

from __future__ import annotations

from app.clients import Client
from app.config import SCOPE
from app.oauth.errors import InvalidScopeError


def grant_scopes(requested: str | None, client: Client) -> tuple[str, ...]:
    """The scopes to grant: all that were asked for, or all allowed when none were asked.

    The list is scope-tokens separated by single spaces, nothing else: a tab, a double
    space or a leading space is not a separator RFC 6749 §3.3 allows.
    """
    if not requested:
        return client.allowed_scopes
    if SCOPE.fullmatch(requested) is None:
        raise InvalidScopeError(
            "scope must be scope tokens separated by single spaces (RFC 6749 §3.3)"
        )
    wanted = list(dict.fromkeys(requested.split(" ")))
    refused = [scope for scope in wanted if scope not in client.allowed_scopes]
    if refused:
        raise InvalidScopeError(f"scope not allowed for this client: {' '.join(refused)}")
    return tuple(wanted)
