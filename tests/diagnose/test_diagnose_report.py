"""The report an operator reads: the token's claims, a block per source, `also:`, one verdict."""

from __future__ import annotations

import json

from diagnose_support import cdn_copy, diagnose, origin_jwks, unverified_claims

from app.diagnosis.report import render_report


def test_report_shows_what_the_token_says_but_never_the_token(settings, token, signing):
    diagnosis = diagnose(token, settings, cdn_copy(origin_jwks(settings), age="30"))

    report = render_report(diagnosis, now=unverified_claims(token)["iat"] + 60)

    assert token not in report
    assert token.split(".")[1] not in report
    assert report.splitlines()[0] == f"token: kid {signing.thumbprint}  alg RS256  typ at+jwt"
    assert "  exp     " in report and "(in 3540 s)" in report
    assert "  fresh for      270 s" in report.splitlines()
    assert [line for line in report.splitlines() if line.startswith("verdict: ")] == [
        report.splitlines()[-1]
    ]


def test_report_lists_entries_an_api_would_skip_and_the_other_problems(settings, token):
    document = json.loads(origin_jwks(settings).body)
    document["keys"].append({**document["keys"][0], "kid": "PRIVATE", "d": "AAAA"})
    expires_at = unverified_claims(token)["exp"]
    copy = cdn_copy(json.dumps(document).encode(), age="0", fetched_at=expires_at + 60)

    report = render_report(diagnose(token, settings, copy, now=expires_at + 60), now=expires_at)

    assert "  ignored        keys[1]: kid PRIVATE: carries private key members; refused" in report
    assert report.splitlines()[-1].startswith("verdict: the token expired at ")
    assert not any(line.startswith("also: ") for line in report.splitlines())
