"""What each source says about one token: kid present, signature, caching, the API's decision.

Pure: takes the token, the JWKS responses and `now`; reads no clock, file or network.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.diagnosis.sources import ORIGIN, JwksResponse
from tokenidp_validator import (
    TokenValidationError,
    UnverifiedToken,
    parse_jwks,
    signature_verifies,
    validate_token_with_keys,
)
from tokenidp_validator.cache_control import age_seconds, max_age_seconds
from tokenidp_validator.claims import check_claims
from tokenidp_validator.tokens import check_header

VERIFIES = "verifies"
DOES_NOT_VERIFY = "does not verify"
ALG_MISMATCH = "alg mismatch"
NO_KEY = "no key"


@dataclass(frozen=True)
class TokenFacts:
    """The token as written (untrusted), and what the checks that need no key say about it."""

    kid: str | None
    algorithm: str | None
    token_type: str | None
    claims: Mapping[str, Any]
    header_refusal: TokenValidationError | None
    claims_refusal: TokenValidationError | None


@dataclass(frozen=True)
class SourceFinding:
    """One JWKS source judged against the token: what an API reading it would decide."""

    response: JwksResponse
    unusable: str | None  # why the body is not a JWS key set, when it is not
    kids: tuple[str, ...]
    ignored: tuple[str, ...]  # entries an API would skip, with the reason
    has_kid: bool
    key_algorithm: str | None
    signature: str  # VERIFIES, DOES_NOT_VERIFY, ALG_MISMATCH or NO_KEY
    refusal: TokenValidationError | None
    age_seconds: float | None  # Age now: the header plus the time since the fetch
    max_age_seconds: int | None
    body_sha256: str | None

    @property
    def label(self) -> str:
        return self.response.label

    @property
    def role(self) -> str:
        return self.response.role

    @property
    def readable(self) -> bool:
        return self.response.error is None and self.unusable is None

    @property
    def would_validate(self) -> bool:
        return self.readable and self.refusal is None

    @property
    def fresh_for_seconds(self) -> float | None:
        """max-age minus Age (RFC 9111 §4.2.3): how long caches may keep serving this copy."""
        if self.max_age_seconds is None or self.age_seconds is None:
            return None
        return self.max_age_seconds - self.age_seconds


def read_token_facts(
    unverified: UnverifiedToken, *, issuer: str, audience: str, now: float, leeway_seconds: float
) -> TokenFacts:
    """Header and claim checks exactly as the validator runs them, each reported on its own."""
    header = unverified.header
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    algorithm = header.get("alg") if isinstance(header.get("alg"), str) else None
    try:
        check_header(header)
        header_refusal = None
    except TokenValidationError as refusal:
        header_refusal = refusal
    try:
        check_claims(
            dict(unverified.claims),
            issuer=issuer,
            audience=audience,
            now=now,
            leeway_seconds=leeway_seconds,
            kid=kid or "",
            algorithm=algorithm or "",
        )
        claims_refusal = None
    except TokenValidationError as refusal:
        claims_refusal = refusal
    token_type = header.get("typ")
    return TokenFacts(
        kid=kid,
        algorithm=algorithm,
        token_type=token_type if isinstance(token_type, str) else None,
        claims=unverified.claims,
        header_refusal=header_refusal,
        claims_refusal=claims_refusal,
    )


def judge_sources(
    token: str,
    unverified: UnverifiedToken,
    facts: TokenFacts,
    responses: Sequence[JwksResponse],
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway_seconds: float,
    allow_development_keys: bool,
) -> tuple[SourceFinding, ...]:
    """Each response as an API would use it: the real validator decides, on that key set alone."""
    return tuple(
        _judge(
            token,
            unverified,
            facts,
            response,
            issuer=issuer,
            audience=audience,
            now=now,
            leeway_seconds=leeway_seconds,
            allow_development_keys=allow_development_keys,
        )
        for response in responses
    )


def reference_origin(findings: Sequence[SourceFinding]) -> SourceFinding | None:
    """The first readable origin: what every copy should match."""
    return next((f for f in findings if f.role == ORIGIN and f.readable), None)


def _judge(
    token: str,
    unverified: UnverifiedToken,
    facts: TokenFacts,
    response: JwksResponse,
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway_seconds: float,
    allow_development_keys: bool,
) -> SourceFinding:
    age = None
    if response.age is not None:
        age = age_seconds(response.age) + max(0.0, now - response.fetched_at)
    unusable = None
    keys: Mapping[str, Any] = {}
    ignored: tuple[str, ...] = ()
    if response.body is not None and response.error is None:
        try:
            key_set = parse_jwks(response.body, allow_development_keys=allow_development_keys)
            keys, ignored = key_set.keys, key_set.ignored
        except ValueError as e:
            unusable = f"not a usable JWKS ({e})"
    signing_key = keys.get(facts.kid) if facts.kid else None
    if signing_key is None:
        signature = NO_KEY
    elif signing_key.algorithm != facts.algorithm:
        signature = ALG_MISMATCH
    elif signature_verifies(unverified, signing_key):
        signature = VERIFIES
    else:
        signature = DOES_NOT_VERIFY
    refusal = None
    if response.error is None and unusable is None:
        try:
            validate_token_with_keys(
                token,
                keys=keys,
                issuer=issuer,
                audience=audience,
                leeway_seconds=leeway_seconds,
                now=now,
            )
        except TokenValidationError as e:
            refusal = e
    return SourceFinding(
        response=response,
        unusable=unusable,
        kids=tuple(keys),
        ignored=ignored,
        has_kid=signing_key is not None,
        key_algorithm=signing_key.algorithm if signing_key else None,
        signature=signature,
        refusal=refusal,
        age_seconds=age,
        max_age_seconds=max_age_seconds(response.cache_control),
        body_sha256=hashlib.sha256(response.body).hexdigest() if response.body else None,
    )
