"""Requested scopes against the client's allowed scopes (RFC 6749 §3.3)."""

from __future__ import annotations

from app.config import ClientConfig
from app.oauth.errors import OAuthError


def grant_scopes(requested: str | None, client: ClientConfig) -> tuple[str, ...]:
    """The scopes to grant: all that were asked for, or all allowed when none were asked."""
    if requested is None or not requested.strip():
        return client.allowed_scopes
    wanted = tuple(dict.fromkeys(requested.split()))
    refused = [scope for scope in wanted if scope not in client.allowed_scopes]
    if refused:
        raise OAuthError("invalid_scope", f"scope not allowed for this client: {' '.join(refused)}")
    return wanted
