"""The grant types this IdP implements: one list for configuration checks and discovery.

The token endpoint maps the same names to their modules (app/oauth/grants).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GrantType:
    """A grant type, and the `response_type` it asks for at the authorization endpoint."""

    name: str
    response_type: str | None = None


GRANT_TYPES = (
    GrantType("client_credentials"),
    GrantType("authorization_code", response_type="code"),
    GrantType("refresh_token"),
)
# Grants a public client (no secret) may use, naming itself by client_id alone (RFC 6749
# §3.2.1): the code it redeems is bound to its PKCE verifier, the refresh token to itself.
PUBLIC_CLIENT_GRANTS = frozenset({"authorization_code", "refresh_token"})
GRANT_TYPE_NAMES = tuple(grant.name for grant in GRANT_TYPES)
RESPONSE_TYPES = tuple(grant.response_type for grant in GRANT_TYPES if grant.response_type)
