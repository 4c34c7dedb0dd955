"""The diagnosis as aligned lines: the token, one block per source, `also:` lines, the verdict."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from app.diagnosis import Diagnosis
from app.diagnosis.findings import NO_KEY, SourceFinding, TokenFacts, reference_origin
from tokenidp_validator import TokenValidationError, UnsupportedAlgorithmError, WrongTokenTypeError

NONE = "-"
MAX_SHOWN = 120  # a hostile token can carry kilobytes in one claim


def render_report(diagnosis: Diagnosis, *, now: float) -> str:
    """Readable for an operator; never the token itself, only what it says."""
    facts = diagnosis.token
    claims = facts.claims
    lines = [
        f"token: kid {facts.kid or NONE}  alg {facts.algorithm or NONE}  "
        f"typ {facts.token_type or NONE}",
        *_pairs(
            ("iss", _text(claims.get("iss"))),
            ("aud", _text(claims.get("aud"))),
            ("sub", f"{_text(claims.get('sub'))} (client_id {_text(claims.get('client_id'))})"),
            ("iat", _when(claims.get("iat"), now)),
            ("exp", _when(claims.get("exp"), now)),
            ("header", _refusal(facts.header_refusal, facts)),
            ("claims", _refusal(facts.claims_refusal, facts)),
        ),
    ]
    origin = reference_origin(diagnosis.sources)
    for finding in diagnosis.sources:
        lines.append(f"source: {finding.label}")
        lines.extend(_source_lines(finding, origin, facts))
    lines.extend(f"also: {problem.message}" for problem in diagnosis.problems[1:])
    lines.append(f"verdict: {diagnosis.verdict.message}")
    return "\n".join(lines)


def _source_lines(
    finding: SourceFinding, origin: SourceFinding | None, facts: TokenFacts
) -> list[str]:
    response = finding.response
    rows: list[tuple[str, str]] = []
    if response.uri and response.uri not in finding.label:
        rows.append(("url", response.uri))
    if not finding.readable:
        rows.append(("result", f"unreadable: {response.error or finding.unusable}"))
        return _pairs(*rows)
    kid_state = "present" if finding.has_kid else "missing"
    count = f"{len(finding.kids)} key{'' if len(finding.kids) == 1 else 's'}"
    rows += [
        ("kid", f"{kid_state} ({count}: {', '.join(finding.kids) or NONE})"),
        ("signature", finding.signature if finding.signature != NO_KEY else NONE),
        ("cache-control", response.cache_control or NONE),
        ("age", response.age if response.age is not None else NONE),
        ("etag", response.etag or NONE),
        ("last-modified", response.last_modified or NONE),
    ]
    if finding.fresh_for_seconds is not None:
        rows.append(("fresh for", f"{max(0, round(finding.fresh_for_seconds))} s"))
    if origin is not None and finding is not origin:
        same = finding.body_sha256 == origin.body_sha256
        rows.append(("content", f"{'same as' if same else 'differs from'} {origin.label}"))
    rows += [("ignored", reason) for reason in finding.ignored]
    result = "would validate" if finding.would_validate else _refusal(finding.refusal, facts)
    rows.append(("result", result))
    return _pairs(*rows)


def _pairs(*rows: tuple[str, str]) -> list[str]:
    width = max(len(name) for name, _ in rows)
    return [f"  {name.ljust(width)}  {value}" for name, value in rows]


def _refusal(refusal: TokenValidationError | None, facts: TokenFacts) -> str:
    """The validator's reason, except that a missing typ or alg is said, not shown as None."""
    if refusal is None:
        return "accepted"
    if isinstance(refusal, WrongTokenTypeError) and facts.token_type is None:
        return "refused: the header has no typ (an access token has at+jwt)"
    if isinstance(refusal, UnsupportedAlgorithmError) and facts.algorithm is None:
        return "refused: the header has no alg"
    return f"refused: {refusal.description}"


def _text(value: Any) -> str:
    """A claim as written: `-` when absent or null, JSON for the rest (never Python's None)."""
    if value is None:
        return NONE
    if isinstance(value, list):
        text = ", ".join(_text(item) for item in value) or NONE
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 1]}…"


def _when(value: Any, now: float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _text(value)
    moment = dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    delta = round(value - now)
    relative = f"in {delta} s" if delta >= 0 else f"{-delta} s ago"
    return f"{moment} ({relative})"
