"""From findings to plain words: every problem in the order an operator should fix them.

Pure. The first problem is the verdict; the others are printed as `also:` lines.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.diagnosis.findings import (
    ALG_MISMATCH,
    VERIFIES,
    SourceFinding,
    TokenFacts,
    reference_origin,
)
from app.diagnosis.sources import CDN
from tokenidp_validator import (
    ExpiredTokenError,
    ForbiddenHeaderError,
    MissingClaimError,
    TokenNotYetValidError,
    UnsupportedAlgorithmError,
    WrongAudienceError,
    WrongIssuerError,
    WrongTokenTypeError,
)

MAX_SHOWN = 60
REVOKED_SETTING = "TokenOptions:RevokedCertificateThumbprints"
ADDITIONAL_SETTING = "TokenOptions:AdditionalValidationCertificates"


class Verdict(StrEnum):
    """Every verdict diagnose can give; VALID and VALID_BUT_STALE_COPY are the passing ones."""

    REVOKED_STILL_PUBLISHED = "revoked_still_published"
    REVOKED = "revoked"
    HEADER_REFUSED = "header_refused"
    UNKNOWN_KID = "unknown_kid"
    KEY_DIFFERS = "key_differs"
    SIGNATURE_FAILS = "signature_fails"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    MISSING_CLAIM = "missing_claim"
    SOURCE_UNREADABLE = "source_unreadable"
    NOT_YET_AT_CDN = "not_yet_at_cdn"
    CDN_COPY_OUTDATED = "cdn_copy_outdated"
    ORIGIN_BEHIND = "origin_behind"
    NO_LONGER_AT_ORIGIN = "no_longer_at_origin"
    REFUSED = "refused"
    VALID_BUT_STALE_COPY = "valid_but_stale_copy"
    VALID = "valid"


PASSING = frozenset({Verdict.VALID, Verdict.VALID_BUT_STALE_COPY})


@dataclass(frozen=True)
class Problem:
    """One finding in plain words, with the action that fixes it."""

    verdict: Verdict
    message: str


def find_problems(
    facts: TokenFacts,
    findings: Sequence[SourceFinding],
    *,
    revoked_kids: frozenset[str],
    issuer: str,
    audience: str,
    now: float,
) -> tuple[Problem, ...]:
    """Most fundamental first: a revoked key, then the token itself, then where copies lag."""
    kid = facts.kid
    readable = [f for f in findings if f.readable]
    with_kid = [f for f in readable if f.has_kid]
    revoked = kid is not None and kid in revoked_kids
    problems: list[Problem] = []

    if revoked:
        problems.append(_revoked(kid, with_kid))
    if facts.header_refusal is not None:
        problems.append(_header_refused(facts))
    if kid is not None and not revoked and readable and not with_kid:
        problems.append(_unknown_kid(facts, readable, issuer=issuer))
    problems.extend(_signature_problems(kid, with_kid))
    if facts.claims_refusal is not None:
        problems.append(_claims_refused(facts, issuer=issuer, audience=audience, now=now))
    problems.extend(
        Problem(
            Verdict.SOURCE_UNREADABLE,
            f"{f.label} could not be read ({f.response.error or f.unusable}): "
            "APIs that fetch keys there cannot validate any token",
        )
        for f in findings
        if not f.readable
    )
    if kid is not None and not revoked and with_kid:
        problems.extend(_propagation_problems(kid, findings, with_kid))
    if not problems and not all(f.would_validate for f in findings):
        refused = next(f for f in findings if not f.would_validate)
        problems.append(
            Problem(Verdict.REFUSED, f"{refused.label} refuses the token: {refused.refusal}")
        )
    if not problems:
        problems.append(_valid(facts, findings, now=now))
    return tuple(problems)


def _revoked(kid: str, with_kid: Sequence[SourceFinding]) -> Problem:
    if with_kid:
        return Problem(
            Verdict.REVOKED_STILL_PUBLISHED,
            f"kid {kid} is revoked ({REVOKED_SETTING}) but {_names(with_kid)} still "
            "publishes it, so APIs reading it accept tokens signed by it: publish the JWKS "
            "and invalidate the CDN now",
        )
    return Problem(
        Verdict.REVOKED,
        f"kid {kid} is revoked ({REVOKED_SETTING}) and no JWKS checked publishes it: "
        "no API accepts this token; get a new one",
    )


def _header_refused(facts: TokenFacts) -> Problem:
    refusal = facts.header_refusal
    if isinstance(refusal, WrongTokenTypeError):
        typ = "it has no typ, so it" if facts.token_type is None else f"typ {facts.token_type!r}"
        why = (
            f"{typ} is not at+jwt: it is not an RFC 9068 access token "
            "(an ID token, or another issuer's token?) and APIs refuse it"
        )
    elif isinstance(refusal, UnsupportedAlgorithmError):
        alg = "it has no alg, which" if facts.algorithm is None else f"alg {facts.algorithm!r}"
        why = f"{alg} is never accepted: this IdP signs RS256 or ES256 only"
    elif isinstance(refusal, ForbiddenHeaderError):
        why = f"{refusal.description}: APIs never use keys or key URLs carried in a token"
    else:
        why = f"{refusal.description}: APIs cannot tell which key signed it"
    return Problem(Verdict.HEADER_REFUSED, f"the token's header is refused: {why}")


def _unknown_kid(facts: TokenFacts, readable: Sequence[SourceFinding], *, issuer: str) -> Problem:
    origin = reference_origin(readable)
    published = ""
    if origin is not None:
        published = f" ({origin.label} publishes {', '.join(origin.kids) or 'no keys'})"
    token_issuer = facts.claims.get("iss")
    if token_issuer is None:
        cause = f"it has no iss claim, so it is not a token {issuer!r} issued"
    elif token_issuer != issuer:
        cause = (
            f"it was issued by {_claim(token_issuer)}, not {issuer!r}: another IdP or environment"
        )
    else:
        cause = (
            "another environment with the same issuer, or a key removed from "
            f"{ADDITIONAL_SETTING} while its tokens were still in use"
        )
    return Problem(
        Verdict.UNKNOWN_KID,
        f"kid {facts.kid} is in none of the JWKS checked{published}: the token was signed by "
        f"a key this IdP does not publish; {cause}",
    )


def _signature_problems(kid: str | None, with_kid: Sequence[SourceFinding]) -> list[Problem]:
    verifying = [f for f in with_kid if f.signature == VERIFIES]
    failing = [f for f in with_kid if f.signature != VERIFIES]
    if not failing:
        return []
    mismatch = [f for f in failing if f.signature == ALG_MISMATCH]
    detail = (
        f" ({_names(mismatch)} publishes it as {mismatch[0].key_algorithm})" if mismatch else ""
    )
    if verifying:
        return [
            Problem(
                Verdict.KEY_DIFFERS,
                f"{_names(failing)} publishes a different key under kid {kid} than "
                f"{_names(verifying)}{detail}, where the signature verifies: that copy is "
                "wrong; publish the JWKS again and invalidate the CDN",
            )
        ]
    return [
        Problem(
            Verdict.SIGNATURE_FAILS,
            f"kid {kid} is published but its key does not verify the signature{detail}: the "
            "token was altered after signing, or signed by another key under the same kid",
        )
    ]


def _claims_refused(facts: TokenFacts, *, issuer: str, audience: str, now: float) -> Problem:
    refusal = facts.claims_refusal
    claims = facts.claims
    if isinstance(refusal, ExpiredTokenError):
        expires_at = claims["exp"]
        return Problem(
            Verdict.EXPIRED,
            f"the token expired at {_utc(expires_at)} ({_seconds(now - expires_at)} ago): "
            "get a new token",
        )
    if isinstance(refusal, TokenNotYetValidError):
        starts = max(v for v in (claims.get("nbf"), claims.get("iat")) if _is_number(v))
        return Problem(
            Verdict.NOT_YET_VALID,
            f"{refusal.description}: it starts {_seconds(starts - now)} after this host's "
            "clock; check the clocks of the IdP and of the APIs (NTP)",
        )
    if isinstance(refusal, WrongIssuerError):
        return Problem(
            Verdict.WRONG_ISSUER,
            f"the token's iss {_claim(claims.get('iss'))} is not this IdP's issuer {issuer!r} "
            "(TokenOptions:Issuer): APIs trusting this IdP refuse it",
        )
    if isinstance(refusal, WrongAudienceError):
        token_audience = claims.get("aud")
        says = (
            "the token has no aud claim, so it does not name"
            if token_audience is None
            else f"the token's aud {_claim(token_audience)} does not name"
        )
        return Problem(
            Verdict.WRONG_AUDIENCE,
            f"{says} {audience!r} (TokenOptions:Audience): it was issued for another API",
        )
    if isinstance(refusal, MissingClaimError):
        return Problem(
            Verdict.MISSING_CLAIM,
            f"{refusal.description}: not a complete RFC 9068 access token, APIs refuse it",
        )
    return Problem(Verdict.REFUSED, f"the claims are refused: {refusal.description}")


def _propagation_problems(
    kid: str, findings: Sequence[SourceFinding], with_kid: Sequence[SourceFinding]
) -> list[Problem]:
    """Copies that lag behind the origin (or an origin that dropped a key copies still serve)."""
    origin = reference_origin(findings)
    problems = []
    for finding in findings:
        if not finding.readable or finding.has_kid or origin is None:
            continue
        if finding.role == CDN and origin.has_kid:
            problems.append(_not_at_cdn(kid, finding, origin))
        elif finding.role != CDN and origin.has_kid:
            problems.append(
                Problem(
                    Verdict.ORIGIN_BEHIND,
                    f"kid {kid} is published by {origin.label} but not by {finding.label}: "
                    "the running IdP has an older configuration; deploy this one and restart it",
                )
            )
        elif finding is origin:
            problems.append(
                Problem(
                    Verdict.NO_LONGER_AT_ORIGIN,
                    f"kid {kid} is not published by {finding.label} but still is by "
                    f"{_names(with_kid)}: tokens it signed stop validating when those copies "
                    f"refresh; keep it in {ADDITIONAL_SETTING} until they expire, or check "
                    f"that {finding.label} runs the intended configuration",
                )
            )
    return problems


def _not_at_cdn(kid: str, cdn: SourceFinding, origin: SourceFinding) -> Problem:
    differs = f" (its ETag {_etag(cdn)} differs from the origin's {_etag(origin)})"
    differs = differs if cdn.response.etag != origin.response.etag else ""
    fresh_for = cdn.fresh_for_seconds
    if fresh_for is not None and fresh_for > 0:
        return Problem(
            Verdict.NOT_YET_AT_CDN,
            f"kid {kid} is at the origin but not yet at {cdn.label}; the CDN copy is "
            f"{_seconds(cdn.age_seconds)} old with max-age {cdn.max_age_seconds}: "
            f"wait {_seconds(fresh_for)} or invalidate the CDN path{differs}",
        )
    if cdn.max_age_seconds is None:
        age = "no max-age"
    elif cdn.age_seconds is None:
        age = f"max-age {cdn.max_age_seconds} and no Age header (fresh from the CDN's origin)"
    else:
        age = f"an age of {_seconds(cdn.age_seconds)} past its max-age {cdn.max_age_seconds}"
    return Problem(
        Verdict.CDN_COPY_OUTDATED,
        f"kid {kid} is at the origin but not at {cdn.label}, whose copy has {age}: waiting "
        f"will not help; publish the JWKS (python -m publisher) and invalidate the CDN path"
        f"{differs}",
    )


def _valid(facts: TokenFacts, findings: Sequence[SourceFinding], *, now: float) -> Problem:
    expires_in = _seconds(facts.claims["exp"] - now)
    origin = reference_origin(findings)
    stale = [
        f
        for f in findings
        if origin is not None and f.role == CDN and f.body_sha256 != origin.body_sha256
    ]
    if stale:
        copy = stale[0]
        missing = sorted(set(origin.kids) - set(copy.kids))
        extra = sorted(set(copy.kids) - set(origin.kids))
        changes = "; ".join(
            part
            for part in (
                f"lacks kid {', '.join(missing)}" if missing else "",
                f"still lists kid {', '.join(extra)}" if extra else "",
            )
            if part
        )
        refresh = copy.fresh_for_seconds
        when = f"it refreshes in {_seconds(refresh)}" if refresh and refresh > 0 else "it is due"
        return Problem(
            Verdict.VALID_BUT_STALE_COPY,
            f"the token validates at every source (kid {facts.kid}), but {copy.label} serves "
            f"a copy that differs from the origin (ETag {_etag(copy)}, origin "
            f"{_etag(origin)}{'; ' + changes if changes else ''}): {when}, or "
            "invalidate the CDN path before the next key rotation",
        )
    return Problem(
        Verdict.VALID,
        f"the token validates at every source (kid {facts.kid}, {facts.algorithm}, "
        f"expires in {expires_in})",
    )


def _claim(value: object) -> str:
    """A claim as the token wrote it, in JSON (`null`, `true`), cut to a readable length."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 1]}…"


def _etag(finding: SourceFinding) -> str:
    return finding.response.etag or "(none)"


def _names(findings: Sequence[SourceFinding]) -> str:
    return ", ".join(f.label for f in findings)


def _seconds(value: float) -> str:
    return f"{max(0, round(value))} s"


def _utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
