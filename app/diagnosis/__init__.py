"""Why a token does or does not validate downstream: kid, JWKS copies, caching and claims.

`diagnose_token` is pure (token, JWKS responses, settings values and `now` in; a report out);
`sources` holds the I/O edge, `report` the text an operator reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.diagnosis.findings import SourceFinding, TokenFacts, judge_sources, read_token_facts
from app.diagnosis.sources import JwksResponse
from app.diagnosis.verdicts import PASSING, Problem, Verdict, find_problems
from tokenidp_validator import read_unverified

__all__ = ["Diagnosis", "JwksResponse", "Problem", "Verdict", "diagnose_token"]


@dataclass(frozen=True)
class Diagnosis:
    """The token, each source's finding, and the problems in the order to fix them."""

    token: TokenFacts
    sources: tuple[SourceFinding, ...]
    problems: tuple[Problem, ...]

    @property
    def verdict(self) -> Problem:
        return self.problems[0]

    @property
    def would_validate(self) -> bool:
        """True only when every source would accept the token (what exit status 0 means)."""
        return self.verdict.verdict in PASSING


def diagnose_token(
    token: str,
    *,
    responses: Sequence[JwksResponse],
    issuer: str,
    audience: str,
    revoked_kids: frozenset[str],
    now: float,
    leeway_seconds: float,
    allow_development_keys: bool,
) -> Diagnosis:
    """Decode without trusting, judge every source with the real validator, then explain.

    `allow_development_keys` is what the APIs in question pass their validator: True only
    against a development IdP. Raises the validator's MalformedTokenError or
    TokenTooLargeError when `token` is not a JWT.
    """
    unverified = read_unverified(token)
    facts = read_token_facts(
        unverified, issuer=issuer, audience=audience, now=now, leeway_seconds=leeway_seconds
    )
    findings = judge_sources(
        token,
        unverified,
        facts,
        responses,
        issuer=issuer,
        audience=audience,
        now=now,
        leeway_seconds=leeway_seconds,
        allow_development_keys=allow_development_keys,
    )
    problems = find_problems(
        facts, findings, revoked_kids=revoked_kids, issuer=issuer, audience=audience, now=now
    )
    return Diagnosis(token=facts, sources=findings, problems=problems)
