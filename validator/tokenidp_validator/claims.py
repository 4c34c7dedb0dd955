"""RFC 9068 §2.2 and §4 claim checks on a payload whose signature has already verified."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tokenidp_validator.errors import (
    ExpiredTokenError,
    MissingClaimError,
    TokenNotYetValidError,
    WrongAudienceError,
    WrongIssuerError,
)

REQUIRED_STRING_CLAIMS = ("sub", "client_id", "jti")
# exp, nbf and iat as we accept them (RFC 7519 §2 NumericDate, narrowed): a JSON integer of
# seconds from 1970-01-01T00:00:00Z through 9999-12-31T23:59:59Z, the last second a datetime
# can hold. Fractions, exponents (1e400 parses as infinity and would never expire), booleans,
# strings, null and larger integers are refused.
LATEST_NUMERIC_DATE = 253402300799


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A validated access token: the claims views need, and every claim read-only."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    issuer: str
    audience: tuple[str, ...]
    expires_at: int
    issued_at: int
    jwt_id: str
    kid: str
    algorithm: str
    claims: Mapping[str, Any]


def check_claims(
    claims: dict[str, Any],
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway_seconds: float,
    kid: str,
    algorithm: str,
) -> AccessToken:
    """Refuse a wrong iss/aud or a token outside its validity window; build the AccessToken."""
    token_issuer = claims.get("iss")
    if not isinstance(token_issuer, str):
        raise MissingClaimError("the iss claim is missing")
    if token_issuer != issuer:
        raise WrongIssuerError(f"issuer {token_issuer!r} is not trusted")

    token_audience = _audience(claims)
    if audience not in token_audience:
        raise WrongAudienceError("the token is not intended for this API (aud)")

    expires_at = _numeric_date(claims, "exp", required=True)
    if now - leeway_seconds >= expires_at:
        raise ExpiredTokenError("the token has expired")
    not_before = _numeric_date(claims, "nbf", required=False)
    if not_before is not None and not_before > now + leeway_seconds:
        raise TokenNotYetValidError("the token is not valid yet (nbf)")
    issued_at = _numeric_date(claims, "iat", required=True)
    if issued_at > now + leeway_seconds:
        raise TokenNotYetValidError("the token was issued in the future (iat)")

    for name in REQUIRED_STRING_CLAIMS:
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise MissingClaimError(f"the {name} claim is missing")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise MissingClaimError("the scope claim is not a string")

    return AccessToken(
        subject=claims["sub"],
        client_id=claims["client_id"],
        scopes=frozenset(scope.split()),
        issuer=token_issuer,
        audience=token_audience,
        expires_at=expires_at,
        issued_at=issued_at,
        jwt_id=claims["jti"],
        kid=kid,
        algorithm=algorithm,
        claims=MappingProxyType(claims),
    )


def _audience(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """`aud` as a tuple: a string or a list of strings (RFC 7519 §4.1.3)."""
    value = claims.get("aud")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise MissingClaimError("the aud claim is missing or not a string or list of strings")


def _numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    """exp, nbf or iat within LATEST_NUMERIC_DATE; None only when optional and absent."""
    if name not in claims:
        if required:
            raise MissingClaimError(f"the {name} claim is missing")
        return None
    value = claims[name]
    if type(value) is not int or not 0 <= value <= LATEST_NUMERIC_DATE:  # bool is not int here
        raise MissingClaimError(
            f"the {name} claim is not an integer number of seconds "
            f"from 0 to {LATEST_NUMERIC_DATE} (NumericDate)"
        )
    return value
