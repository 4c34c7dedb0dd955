"""The report an operator reads: the token's claims, a block per source, `also:`, one verdict."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from diagnose_support import cdn_copy, diagnose, origin_jwks, unverified_claims

from app.diagnosis import Verdict
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


def _signed(header: dict, claims: dict, private_key) -> str:
    """A compact JWS with exactly this header (nothing added), signed RS256 by a real key."""

    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{segment(json.dumps(header).encode())}.{segment(json.dumps(claims).encode())}"
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{segment(signature)}"


def _without(mapping: dict, *names: str) -> dict:
    return {name: value for name, value in mapping.items() if name not in names}


def _same(mapping: dict) -> dict:
    return mapping


LACKING = {
    "no typ": (lambda h: _without(h, "typ"), _same),
    "typ null": (lambda h: {**h, "typ": None}, _same),
    "no alg": (lambda h: _without(h, "alg"), _same),
    "no kid": (lambda h: _without(h, "kid"), _same),
    "kid not a string": (lambda h: {**h, "kid": 123}, _same),
    "no claims": (_same, lambda c: {}),
    "no iss": (_same, lambda c: _without(c, "iss")),
    "iss null": (_same, lambda c: {**c, "iss": None}),
    "no aud": (_same, lambda c: _without(c, "aud")),
    "aud with null": (_same, lambda c: {**c, "aud": [None]}),
    "no sub or client_id": (_same, lambda c: _without(c, "sub", "client_id")),
    "no exp or iat": (_same, lambda c: _without(c, "exp", "iat")),
    "unknown kid and no iss": (lambda h: {**h, "kid": "UNKNOWN"}, lambda c: _without(c, "iss")),
}


@pytest.mark.parametrize("case", LACKING)
def test_report_never_prints_none_for_a_token_lacking_claims_or_headers(
    settings, token, signing, rsa_key, case
):
    change_header, change_claims = LACKING[case]
    header = change_header({"alg": "RS256", "typ": "at+jwt", "kid": signing.thumbprint})
    lacking = _signed(header, change_claims(dict(unverified_claims(token))), rsa_key)

    report = render_report(diagnose(lacking, settings), now=unverified_claims(token)["iat"])

    assert "None" not in report
    assert report.splitlines()[-1].startswith("verdict: ")


def test_copies_without_an_etag_are_reported_without_none(settings, token, signing):
    document = origin_jwks(settings)
    stale_but_valid = dataclasses.replace(
        cdn_copy(json.dumps(json.loads(document.body), indent=1).encode(), age="10"), etag=None
    )
    lacking_the_kid = dataclasses.replace(cdn_copy(b'{"keys": []}', age="10"), etag=None)

    for copy, verdict in [
        (stale_but_valid, Verdict.VALID_BUT_STALE_COPY),
        (lacking_the_kid, Verdict.NOT_YET_AT_CDN),
    ]:
        diagnosis = diagnose(token, settings, copy)
        report = render_report(diagnosis, now=unverified_claims(token)["iat"])

        assert diagnosis.verdict.verdict is verdict
        assert "ETag (none)" in diagnosis.verdict.message
        assert "None" not in report
