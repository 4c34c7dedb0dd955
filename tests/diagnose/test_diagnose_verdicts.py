"""The pure diagnosis gives each verdict on real tokens from the real IdP and real JWKS bytes."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from diagnose_support import (
    cdn_copy,
    diagnose,
    issue_token,
    origin_jwks,
    sign_token,
    unverified_claims,
    with_claims,
)
from idp_support import AUDIENCE, ISSUER
from jose import jws

from app.diagnosis import Verdict
from app.diagnosis.findings import ALG_MISMATCH, DOES_NOT_VERIFY, VERIFIES
from app.diagnosis.sources import ORIGIN
from tokenidp_validator import MalformedTokenError


@pytest.fixture
def next_key(store, other_rsa_key):
    return store.add(key=other_rsa_key, subject="CN=tokenidp signing 2027")


def test_token_valid_at_origin_and_an_up_to_date_cdn(settings, token, signing):
    diagnosis = diagnose(token, settings, cdn_copy(origin_jwks(settings), age="30"))

    assert diagnosis.verdict.verdict is Verdict.VALID
    assert diagnosis.would_validate
    assert signing.thumbprint in diagnosis.verdict.message
    assert [finding.signature for finding in diagnosis.sources] == [VERIFIES, VERIFIES]
    assert len(diagnosis.problems) == 1


def test_stale_cdn_copy_that_still_has_the_kid_passes_with_a_warning(
    store, config_dir, signing, next_key, token, settings
):
    # The origin now also publishes the next key; the CDN still serves the one-key JWKS.
    with_next = store.settings(
        config_dir,
        CertificateThumbprint=signing.thumbprint,
        AdditionalValidationCertificates=next_key.thumbprint,
    )
    diagnosis = diagnose(token, with_next, cdn_copy(origin_jwks(settings), age="100"))

    assert diagnosis.verdict.verdict is Verdict.VALID_BUT_STALE_COPY
    assert diagnosis.would_validate
    assert f"lacks kid {next_key.thumbprint}" in diagnosis.verdict.message
    assert "refreshes in 200 s" in diagnosis.verdict.message
    assert origin_jwks(with_next).etag in diagnosis.verdict.message


def test_new_kid_at_origin_but_not_yet_at_cdn_says_how_long_to_wait(
    store, config_dir, signing, next_key, settings
):
    rotated = store.settings(
        config_dir,
        CertificateThumbprint=next_key.thumbprint,
        AdditionalValidationCertificates=signing.thumbprint,
    )
    token = issue_token(rotated)
    old_copy = origin_jwks(settings)
    diagnosis = diagnose(token, rotated, cdn_copy(old_copy, age="240"))

    assert diagnosis.verdict.verdict is Verdict.NOT_YET_AT_CDN
    assert not diagnosis.would_validate
    message = diagnosis.verdict.message
    assert f"kid {next_key.thumbprint} is at the origin but not yet at CDN" in message
    assert "240 s old with max-age 300" in message
    assert "wait 60 s or invalidate" in message
    assert f"ETag {old_copy.etag} differs from the origin's {origin_jwks(rotated).etag}" in message


def test_wait_time_counts_from_the_fetch_not_from_now(
    store, config_dir, signing, next_key, settings
):
    rotated = store.settings(config_dir, CertificateThumbprint=next_key.thumbprint)
    token = issue_token(rotated)
    now = time.time()
    copy = cdn_copy(origin_jwks(settings), age="200", fetched_at=now - 40)

    diagnosis = diagnose(token, rotated, copy, now=now)

    assert "240 s old with max-age 300: wait 60 s" in diagnosis.verdict.message


@pytest.mark.parametrize(
    ("age", "cache_control", "expected"),
    [
        ("400", "public, max-age=300", "an age of 400 s past its max-age 300"),
        (None, "public, max-age=300", "no Age header"),
        ("10", "no-cache", "no max-age"),
    ],
)
def test_cdn_copy_past_its_max_age_without_the_kid_needs_a_publish(
    store, config_dir, next_key, settings, age, cache_control, expected
):
    rotated = store.settings(config_dir, CertificateThumbprint=next_key.thumbprint)
    token = issue_token(rotated)
    copy = cdn_copy(origin_jwks(settings), age=age, cache_control=cache_control)

    diagnosis = diagnose(token, rotated, copy)

    assert diagnosis.verdict.verdict is Verdict.CDN_COPY_OUTDATED
    assert expected in diagnosis.verdict.message
    assert "python -m publisher" in diagnosis.verdict.message


def test_key_removed_from_configuration_while_cdn_still_serves_it(
    store, config_dir, next_key, settings, token
):
    without_old = store.settings(config_dir, CertificateThumbprint=next_key.thumbprint)
    diagnosis = diagnose(token, without_old, cdn_copy(origin_jwks(settings), age="20"))

    assert diagnosis.verdict.verdict is Verdict.NO_LONGER_AT_ORIGIN
    assert not diagnosis.would_validate
    assert "TokenOptions:AdditionalValidationCertificates" in diagnosis.verdict.message
    assert [f.would_validate for f in diagnosis.sources] == [False, True]


def test_running_idp_without_the_new_kid_is_behind(store, config_dir, next_key, settings):
    rotated = store.settings(config_dir, CertificateThumbprint=next_key.thumbprint)
    running = replace(cdn_copy(origin_jwks(settings)), label="origin URL", role=ORIGIN)

    diagnosis = diagnose(issue_token(rotated), rotated, running)

    assert diagnosis.verdict.verdict is Verdict.ORIGIN_BEHIND
    assert "deploy this one and restart it" in diagnosis.verdict.message


def test_kid_published_nowhere_from_another_idp(tmp_path, rsa_key, settings, token, signing):
    from idp_support import CertStore

    elsewhere = CertStore(tmp_path / "other-idp" / "certstores")  # its own database beside
    foreign_cert = elsewhere.add(key=rsa_key, subject="CN=someone else")
    foreign = elsewhere.settings(  # its own configuration folder, and so its own database
        elsewhere.root,
        CertificateThumbprint=foreign_cert.thumbprint,
        Issuer="https://other.example",
    )
    diagnosis = diagnose(issue_token(foreign), settings, cdn_copy(origin_jwks(settings)))

    assert diagnosis.verdict.verdict is Verdict.UNKNOWN_KID
    message = diagnosis.verdict.message
    assert f"kid {foreign_cert.thumbprint} is in none of the JWKS checked" in message
    assert f"publishes {signing.thumbprint}" in message
    assert "issued by 'https://other.example'" in message
    assert Verdict.WRONG_ISSUER in [p.verdict for p in diagnosis.problems]


def test_kid_published_nowhere_with_the_right_issuer_suggests_a_removed_key(
    store, config_dir, next_key, settings, token
):
    moved_on = store.settings(config_dir, CertificateThumbprint=next_key.thumbprint)
    diagnosis = diagnose(token, moved_on, cdn_copy(origin_jwks(moved_on)))

    assert diagnosis.verdict.verdict is Verdict.UNKNOWN_KID
    assert "a key removed from" in diagnosis.verdict.message


def test_revoked_kid_published_nowhere(store, config_dir, signing, next_key, token):
    revoking = store.settings(
        config_dir,
        CertificateThumbprint=next_key.thumbprint,
        RevokedCertificateThumbprints=signing.thumbprint,
    )
    diagnosis = diagnose(token, revoking, cdn_copy(origin_jwks(revoking)))

    assert diagnosis.verdict.verdict is Verdict.REVOKED
    assert "TokenOptions:RevokedCertificateThumbprints" in diagnosis.verdict.message
    assert Verdict.UNKNOWN_KID not in [p.verdict for p in diagnosis.problems]


def test_revoked_kid_still_at_the_cdn_is_urgent(
    store, config_dir, signing, next_key, settings, token
):
    revoking = store.settings(
        config_dir,
        CertificateThumbprint=next_key.thumbprint,
        RevokedCertificateThumbprints=signing.thumbprint,
    )
    diagnosis = diagnose(token, revoking, cdn_copy(origin_jwks(settings), age="5"))

    assert diagnosis.verdict.verdict is Verdict.REVOKED_STILL_PUBLISHED
    assert not diagnosis.would_validate
    assert "invalidate the CDN now" in diagnosis.verdict.message
    assert diagnosis.sources[1].would_validate  # which is exactly the danger


@pytest.mark.parametrize(
    ("extra_header", "expected"),
    [
        ({"typ": "JWT"}, "typ 'JWT' is not at+jwt"),
        ({"jku": "https://evil.example/jwks"}, "APIs never use keys or key URLs carried"),
        ({"kid": None}, "APIs cannot tell which key signed it"),
    ],
)
def test_refused_header_is_named_even_with_a_good_signature(
    settings, token, signing, rsa_key, extra_header, expected
):
    header = {"kid": signing.thumbprint, "typ": "at+jwt", **extra_header}
    header = {name: value for name, value in header.items() if value is not None}
    odd = jws.sign(unverified_claims(token), rsa_key, headers=header, algorithm="RS256")

    diagnosis = diagnose(odd, settings)

    assert diagnosis.verdict.verdict is Verdict.HEADER_REFUSED
    assert expected in diagnosis.verdict.message
    assert not diagnosis.would_validate


def test_tampered_token_fails_the_signature_everywhere(settings, token):
    tampered = with_claims(token, scope="orders.read orders.write admin")

    diagnosis = diagnose(tampered, settings, cdn_copy(origin_jwks(settings)))

    assert diagnosis.verdict.verdict is Verdict.SIGNATURE_FAILS
    assert "altered after signing" in diagnosis.verdict.message
    assert [f.signature for f in diagnosis.sources] == [DOES_NOT_VERIFY, DOES_NOT_VERIFY]


def test_cdn_publishing_another_key_under_the_kid(settings, token, signing, other_rsa_key):
    document = json.loads(origin_jwks(settings).body)
    impostor = origin_jwks_entry_with_key(document["keys"][0], other_rsa_key)
    copy = cdn_copy(json.dumps({"keys": [impostor]}).encode())

    diagnosis = diagnose(token, settings, copy)

    assert diagnosis.verdict.verdict is Verdict.KEY_DIFFERS
    assert f"under kid {signing.thumbprint}" in diagnosis.verdict.message
    assert [f.signature for f in diagnosis.sources] == [VERIFIES, DOES_NOT_VERIFY]


def test_cdn_pinning_the_kid_to_another_algorithm(settings, token):
    document = json.loads(origin_jwks(settings).body)
    document["keys"][0]["alg"] = "RS512"
    diagnosis = diagnose(token, settings, cdn_copy(json.dumps(document).encode()))

    assert diagnosis.verdict.verdict is Verdict.KEY_DIFFERS
    assert "publishes it as RS512" in diagnosis.verdict.message
    assert diagnosis.sources[1].signature == ALG_MISMATCH


def test_expired_token(settings, token):
    expires_at = unverified_claims(token)["exp"]

    diagnosis = diagnose(token, settings, now=expires_at + 100)

    assert diagnosis.verdict.verdict is Verdict.EXPIRED
    assert "(100 s ago): get a new token" in diagnosis.verdict.message
    assert diagnosis.sources[0].signature == VERIFIES


def test_token_from_the_future_points_at_clocks(settings):
    token = issue_token(settings, at=time.time() + 600)

    diagnosis = diagnose(token, settings)

    assert diagnosis.verdict.verdict is Verdict.NOT_YET_VALID
    assert "NTP" in diagnosis.verdict.message


def test_wrong_issuer(store, config_dir, signing, settings):
    token = issue_token(
        store.settings(
            config_dir, CertificateThumbprint=signing.thumbprint, Issuer="https://staging.example"
        )
    )
    diagnosis = diagnose(token, settings)

    assert diagnosis.verdict.verdict is Verdict.WRONG_ISSUER
    assert f"not this IdP's issuer {ISSUER!r}" in diagnosis.verdict.message


def test_wrong_audience(store, config_dir, signing, settings):
    token = issue_token(
        store.settings(config_dir, CertificateThumbprint=signing.thumbprint, Audience="billing")
    )
    diagnosis = diagnose(token, settings)

    assert diagnosis.verdict.verdict is Verdict.WRONG_AUDIENCE
    assert f"does not name {AUDIENCE!r}" in diagnosis.verdict.message


def test_missing_required_claim(settings, token, signing, rsa_key):
    claims = unverified_claims(token)
    del claims["jti"]
    diagnosis = diagnose(sign_token(rsa_key, kid=signing.thumbprint, claims=claims), settings)

    assert diagnosis.verdict.verdict is Verdict.MISSING_CLAIM
    assert "the jti claim is missing" in diagnosis.verdict.message


def test_unusable_cdn_body_is_reported_not_raised(settings, token):
    diagnosis = diagnose(token, settings, cdn_copy(b"<html>Access Denied</html>"))

    assert diagnosis.verdict.verdict is Verdict.SOURCE_UNREADABLE
    assert "not a usable JWKS" in diagnosis.verdict.message
    assert not diagnosis.would_validate


def test_several_problems_are_all_reported_most_fundamental_first(
    store, config_dir, next_key, settings
):
    rotated = store.settings(config_dir, CertificateThumbprint=next_key.thumbprint)
    token = issue_token(rotated)
    expires_at = unverified_claims(token)["exp"]

    later = expires_at + 5000
    copy = cdn_copy(origin_jwks(settings), age="10", fetched_at=later)

    diagnosis = diagnose(token, rotated, copy, now=later)

    assert [p.verdict for p in diagnosis.problems] == [
        Verdict.EXPIRED,
        Verdict.NOT_YET_AT_CDN,
    ]


@pytest.mark.parametrize("not_a_jwt", ["hello", "a.b", "eyJhbGciOiJSUzI1NiJ9.e30", "a.b.c"])
def test_something_that_is_not_a_jwt_is_refused_before_any_check(settings, not_a_jwt):
    with pytest.raises(MalformedTokenError):
        diagnose(not_a_jwt, settings)


def origin_jwks_entry_with_key(entry: dict, private_key) -> dict:
    """The same kid and certificate members, but another key's modulus: a wrong copy."""
    import base64

    numbers = private_key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    return {**entry, "n": base64.urlsafe_b64encode(n).rstrip(b"=").decode()}
