"""The JWKS client's caching policy, against a real loopback server and an injected clock."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from validator_support import AUDIENCE, ISSUER, make_signer, mint_token

from tokenidp_validator import (
    JWKSClient,
    KeySetUnavailableError,
    UnknownKeyError,
    ValidatorMetrics,
    validate_token,
)
from tokenidp_validator.cache_control import freshness_lifetime_seconds


def _validate(token: str, client: JWKSClient):
    return validate_token(token, jwks_client=client, issuer=ISSUER, audience=AUDIENCE)


def test_max_age_is_honoured_no_fetch_before_expiry_one_after(jwks_server, jwks_client, clock):
    jwks_server.stub.cache_control = "public, max-age=300"
    jwks_client.get_signing_key(jwks_server.stub.keys[0]["kid"])
    clock.advance(299)
    jwks_client.get_signing_key(jwks_server.stub.keys[0]["kid"])
    assert jwks_server.stub.fetch_count == 1
    clock.advance(2)
    jwks_client.get_signing_key(jwks_server.stub.keys[0]["kid"])
    assert jwks_server.stub.fetch_count == 2


@pytest.mark.parametrize(
    ("cache_control", "age", "expected_seconds"),
    [
        ("public, max-age=300", None, 300),
        ("public, max-age=5", None, 60),  # below the minimum
        ("public, max-age=999999", None, 3600),  # above the maximum
        ("no-store", None, 60),
        ("no-cache, max-age=300", None, 60),
        (None, None, 60),
        ("max-age=banana", None, 60),
        ("public, max-age=300", "200", 100),  # a CDN copy already 200 s old
        ("public, max-age=300", "290", 60),
    ],
)
def test_lifetime_follows_max_age_minus_age_within_bounds(cache_control, age, expected_seconds):
    assert (
        freshness_lifetime_seconds(cache_control, age, minimum_seconds=60, maximum_seconds=3600)
        == expected_seconds
    )


def test_short_max_age_is_raised_to_the_minimum(jwks_server, jwks_client, clock):
    jwks_server.stub.cache_control = "public, max-age=1"
    kid = jwks_server.stub.keys[0]["kid"]
    jwks_client.get_signing_key(kid)
    clock.advance(59)
    jwks_client.get_signing_key(kid)
    assert jwks_server.stub.fetch_count == 1
    clock.advance(2)
    jwks_client.get_signing_key(kid)
    assert jwks_server.stub.fetch_count == 2


def test_long_max_age_is_capped_at_the_maximum(jwks_server, jwks_client, clock):
    jwks_server.stub.cache_control = "public, max-age=31536000"
    kid = jwks_server.stub.keys[0]["kid"]
    jwks_client.get_signing_key(kid)
    clock.advance(3601)
    jwks_client.get_signing_key(kid)
    assert jwks_server.stub.fetch_count == 2


def test_no_store_means_minimum_lifetime(jwks_server, jwks_client, clock):
    jwks_server.stub.cache_control = "no-store"
    kid = jwks_server.stub.keys[0]["kid"]
    jwks_client.get_signing_key(kid)
    clock.advance(59)
    jwks_client.get_signing_key(kid)
    assert jwks_server.stub.fetch_count == 1
    clock.advance(2)
    jwks_client.get_signing_key(kid)
    assert jwks_server.stub.fetch_count == 2


def test_burst_of_unknown_kids_causes_one_refresh_per_cooldown(
    jwks_server, jwks_client, clock, rsa_signer
):
    jwks_client.get_signing_key(rsa_signer.kid)
    clock.advance(31)
    for number in range(1000):
        with pytest.raises(UnknownKeyError):
            jwks_client.get_signing_key(f"{number:040X}")
    assert jwks_server.stub.fetch_count == 2
    clock.advance(31)
    for number in range(1000):
        with pytest.raises(UnknownKeyError):
            jwks_client.get_signing_key(f"{number:040X}")
    assert jwks_server.stub.fetch_count == 3
    refreshes = jwks_client.metrics.snapshot()["refreshes"]
    assert (refreshes["fetched"], refreshes["not_modified"]) == (1, 2)
    assert refreshes["cooldown_skipped"] == 1998


def test_burst_of_forged_tokens_from_many_threads_causes_one_refresh(
    jwks_server, jwks_client, clock, other_rsa_signer
):
    jwks_client.get_signing_key(jwks_server.stub.keys[0]["kid"])
    clock.advance(31)
    jwks_server.stub.delay_seconds = 0.05  # hold the lock while the others pile up
    forged = [mint_token(other_rsa_signer, header={"kid": f"{n:040X}"}) for n in range(1000)]
    errors: list[Exception] = []

    def validate_slice(tokens: list[str]) -> None:
        for token in tokens:
            try:
                _validate(token, jwks_client)
            except UnknownKeyError as e:
                errors.append(e)

    threads = [threading.Thread(target=validate_slice, args=(forged[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 1000
    assert jwks_server.stub.fetch_count == 2


def test_concurrent_misses_for_a_new_kid_cause_one_fetch(
    jwks_server, jwks_client, clock, rsa_signer, other_rsa_signer
):
    jwks_client.get_signing_key(rsa_signer.kid)
    clock.advance(31)
    jwks_server.stub.keys = [rsa_signer.jwk(), other_rsa_signer.jwk()]
    jwks_server.stub.delay_seconds = 0.05
    barrier = threading.Barrier(16)
    found: list[str] = []

    def look_up() -> None:
        barrier.wait()
        found.append(jwks_client.get_signing_key(other_rsa_signer.kid).kid)

    threads = [threading.Thread(target=look_up) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [other_rsa_signer.kid] * 16
    assert jwks_server.stub.fetch_count == 2


def test_new_kid_is_picked_up_after_rotation_without_restart(
    jwks_server, jwks_client, clock, rsa_signer, other_rsa_signer
):
    assert _validate(mint_token(rsa_signer), jwks_client).kid == rsa_signer.kid
    clock.advance(31)
    jwks_server.stub.keys = [other_rsa_signer.jwk(), rsa_signer.jwk()]
    assert _validate(mint_token(other_rsa_signer), jwks_client).kid == other_rsa_signer.kid
    assert _validate(mint_token(rsa_signer), jwks_client).kid == rsa_signer.kid
    assert jwks_server.stub.fetch_count == 2


def test_new_kid_within_cooldown_waits_for_the_cooldown(
    jwks_server, jwks_client, clock, rsa_signer, other_rsa_signer
):
    jwks_client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.keys = [other_rsa_signer.jwk(), rsa_signer.jwk()]
    clock.advance(10)
    with pytest.raises(UnknownKeyError):
        jwks_client.get_signing_key(other_rsa_signer.kid)
    clock.advance(21)
    assert jwks_client.get_signing_key(other_rsa_signer.kid).kid == other_rsa_signer.kid


def test_retired_kid_is_refused_after_the_jwks_drops_it(
    jwks_server, jwks_client, clock, rsa_signer, other_rsa_signer
):
    jwks_client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.keys = [other_rsa_signer.jwk()]
    clock.advance(301)
    with pytest.raises(UnknownKeyError):
        jwks_client.get_signing_key(rsa_signer.kid)


@pytest.mark.parametrize("failure", ["unavailable", "garbage", "connection_refused"])
def test_failed_refresh_keeps_last_good_keys(jwks_server, jwks_client, clock, rsa_signer, failure):
    token = mint_token(rsa_signer)
    _validate(token, jwks_client)
    if failure == "connection_refused":
        jwks_server.stop()
    else:
        jwks_server.stub.mode = failure
    clock.advance(301)
    assert _validate(token, jwks_client).kid == rsa_signer.kid
    status = jwks_client.status()
    assert status.consecutive_failures == 1
    assert status.last_error is not None
    assert jwks_client.metrics.snapshot()["refreshes"]["failed"] == 1


def test_failed_refresh_is_retried_only_after_the_cooldown(jwks_server, jwks_client, clock):
    kid = jwks_server.stub.keys[0]["kid"]
    jwks_client.get_signing_key(kid)
    jwks_server.stub.mode = "unavailable"
    clock.advance(301)
    for _ in range(50):
        jwks_client.get_signing_key(kid)
    assert jwks_server.stub.fetch_count == 2
    jwks_server.stub.mode = "ok"
    clock.advance(31)
    jwks_client.get_signing_key(kid)
    assert jwks_server.stub.fetch_count == 3
    assert jwks_client.status().consecutive_failures == 0
    assert jwks_client.status().fresh_for_seconds == 300


def test_no_key_set_ever_fetched_is_unavailable_not_invalid(jwks_server, jwks_client, clock):
    jwks_server.stub.mode = "unavailable"
    with pytest.raises(KeySetUnavailableError) as raised:
        jwks_client.get_signing_key(jwks_server.stub.keys[0]["kid"])
    assert "HTTP 503" in str(raised.value)
    with pytest.raises(KeySetUnavailableError):
        jwks_client.get_signing_key(jwks_server.stub.keys[0]["kid"])
    assert jwks_server.stub.fetch_count == 1


def test_transport_error_is_our_error_with_the_cause_chained(clock):
    client = JWKSClient("http://127.0.0.1:9/jwks.json", now=clock, timeout_seconds=1)
    with pytest.raises(KeySetUnavailableError) as raised:
        client.get_signing_key("ABC")
    assert raised.value.__cause__ is not None
    assert raised.value.__cause__.__cause__ is not None  # the requests exception


def test_revalidation_sends_if_none_match_and_304_extends_lifetime(
    jwks_server, jwks_client, clock, rsa_signer
):
    first = jwks_client.get_signing_key(rsa_signer.kid)
    clock.advance(301)
    second = jwks_client.get_signing_key(rsa_signer.kid)
    assert jwks_server.stub.requests[1].get("If-None-Match") == jwks_server.stub.etag()
    assert jwks_client.metrics.snapshot()["refreshes"]["not_modified"] == 1
    assert second is first
    clock.advance(299)
    jwks_client.get_signing_key(rsa_signer.kid)
    assert jwks_server.stub.fetch_count == 2


def test_each_key_is_constructed_once_per_kid_across_refreshes(
    jwks_server, jwks_client, clock, rsa_signer, other_rsa_signer
):
    before = jwks_client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.keys = [rsa_signer.jwk(), other_rsa_signer.jwk()]  # new ETag, full body
    clock.advance(301)
    after = jwks_client.get_signing_key(rsa_signer.kid)
    assert jwks_server.stub.requests[1].get("If-None-Match") is not None
    assert jwks_client.metrics.snapshot()["refreshes"]["fetched"] == 2
    assert after is before
    assert after.key is before.key


def test_entries_we_do_not_accept_are_ignored(jwks_server, jwks_client, rsa_signer, ec_signer):
    jwks_server.stub.keys = [
        rsa_signer.jwk(use="enc", kid="ENC"),
        {key: value for key, value in rsa_signer.jwk().items() if key != "kid"},
        rsa_signer.jwk(alg="HS256", kid="HMAC"),
        rsa_signer.jwk(alg="PS256", kid="PSS"),
        rsa_signer.jwk(kty="oct", kid="OCT"),
        ec_signer.jwk(crv="P-384", kid="WRONGCURVE"),
        ec_signer.jwk(alg="RS256", kid="EC-AS-RSA"),
        rsa_signer.jwk(kid="PRIVATE", d="AQAB"),
        rsa_signer.jwk(kid="NOVERIFY", key_ops=["encrypt"]),
        rsa_signer.jwk(kid="BADNUMBERS", n="!!!"),
        rsa_signer.jwk(),
    ]
    assert jwks_client.refresh() == "fetched"
    assert jwks_client.status().kids == (rsa_signer.kid,)


def test_rsa_keys_shorter_than_2048_bits_are_ignored(jwks_server, jwks_client, rsa_signer):
    short = make_signer(rsa.generate_private_key(65537, 1024), "RS256", "short")
    jwks_server.stub.keys = [short.jwk(), rsa_signer.jwk()]
    jwks_client.refresh()
    assert jwks_client.status().kids == (rsa_signer.kid,)


def test_duplicate_kids_are_all_distrusted(jwks_server, jwks_client, rsa_signer, other_rsa_signer):
    jwks_server.stub.keys = [
        rsa_signer.jwk(),
        other_rsa_signer.jwk(kid=rsa_signer.kid),
        other_rsa_signer.jwk(kid="OTHER"),
    ]
    jwks_client.refresh()
    assert jwks_client.status().kids == ("OTHER",)


def test_jwks_without_usable_keys_counts_as_failed_refresh(
    jwks_server, jwks_client, clock, rsa_signer
):
    jwks_client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.keys = [rsa_signer.jwk(use="enc")]
    assert jwks_client.refresh() == "cooldown_skipped"
    clock.advance(31)
    assert jwks_client.refresh() == "failed"
    assert jwks_client.get_signing_key(rsa_signer.kid).kid == rsa_signer.kid


def test_metrics_register_once_per_prometheus_registry():
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    first = ValidatorMetrics(registry=registry)
    second = ValidatorMetrics(registry=registry)
    first.record_refresh("fetched")
    second.record_refresh("fetched")
    second.record_validation(result="invalid", reason="expired")
    assert (
        registry.get_sample_value("tokenidp_validator_jwks_refreshes_total", {"outcome": "fetched"})
        == 2
    )
    assert (
        registry.get_sample_value(
            "tokenidp_validator_validations_total", {"result": "invalid", "reason": "expired"}
        )
        == 1
    )
    assert first.snapshot()["refreshes"]["fetched"] == 1
