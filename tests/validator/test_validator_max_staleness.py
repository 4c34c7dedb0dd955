"""The maximum staleness: a validator cut off from the JWKS stops trusting its cached keys."""

from __future__ import annotations

import logging
import math

import pytest
from validator_support import AUDIENCE, ISSUER, mint_token

from tokenidp_validator import (
    JWKSClient,
    KeySetTooStaleError,
    KeySetUnavailableError,
    ValidatorConfigError,
    ValidatorMetrics,
    validate_token,
)

MAX_STALENESS_SECONDS = 3600


@pytest.fixture
def stale_limited_client(jwks_server, clock):
    """The JWKS says max-age=300; the client trusts its keys for an hour without a fetch."""
    jwks_server.stub.cache_control = "public, max-age=300"
    return JWKSClient(
        jwks_server.url,
        minimum_lifetime_seconds=60,
        maximum_lifetime_seconds=3600,
        refresh_cooldown_seconds=30,
        max_staleness_seconds=MAX_STALENESS_SECONDS,
        timeout_seconds=2,
        now=clock,
        metrics=ValidatorMetrics(registry=None),
    )


def _cut_off(jwks_server, failure: str) -> None:
    if failure == "connection_refused":
        jwks_server.stop()
    else:
        jwks_server.stub.mode = failure


@pytest.mark.parametrize("failure", ["unavailable", "garbage", "connection_refused"])
def test_keys_are_still_served_just_below_the_max_staleness(
    jwks_server, stale_limited_client, clock, rsa_signer, failure
):
    stale_limited_client.get_signing_key(rsa_signer.kid)
    _cut_off(jwks_server, failure)
    clock.advance(MAX_STALENESS_SECONDS - 1)
    assert stale_limited_client.get_signing_key(rsa_signer.kid).kid == rsa_signer.kid
    status = stale_limited_client.status()
    assert status.consecutive_failures == 1
    assert status.age_seconds == MAX_STALENESS_SECONDS - 1
    assert not status.keys_dropped_as_stale
    assert rsa_signer.kid in status.kids


@pytest.mark.parametrize("failure", ["unavailable", "garbage", "connection_refused"])
def test_keys_are_dropped_just_above_the_max_staleness(
    jwks_server, stale_limited_client, clock, rsa_signer, failure
):
    stale_limited_client.get_signing_key(rsa_signer.kid)
    _cut_off(jwks_server, failure)
    clock.advance(MAX_STALENESS_SECONDS + 1)
    with pytest.raises(KeySetTooStaleError) as raised:
        stale_limited_client.get_signing_key(rsa_signer.kid)
    assert isinstance(raised.value, KeySetUnavailableError)
    assert (raised.value.age_seconds, raised.value.max_staleness_seconds) == (3601, 3600)
    assert "max_staleness_seconds" in str(raised.value)
    status = stale_limited_client.status()
    assert status.kids == ()
    assert status.keys_dropped_as_stale
    assert status.fresh_for_seconds == 0
    assert status.etag is None
    assert stale_limited_client.metrics.snapshot()["key_set_drops"] == {"too_stale": 1}


def test_keys_are_dropped_even_when_the_cooldown_skips_the_refresh(
    jwks_server, stale_limited_client, clock, rsa_signer
):
    stale_limited_client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.mode = "unavailable"
    clock.advance(MAX_STALENESS_SECONDS - 1)
    stale_limited_client.get_signing_key(rsa_signer.kid)  # a failed refresh, keys kept
    clock.advance(2)
    assert stale_limited_client.refresh() == "cooldown_skipped"
    assert stale_limited_client.status().kids == ()
    with pytest.raises(KeySetTooStaleError):
        stale_limited_client.get_signing_key(rsa_signer.kid)
    assert jwks_server.stub.fetch_count == 2


def test_status_drops_a_too_stale_key_set_without_any_lookup(
    jwks_server, stale_limited_client, clock, rsa_signer
):
    stale_limited_client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.mode = "unavailable"
    clock.advance(MAX_STALENESS_SECONDS + 1)
    status = stale_limited_client.status()
    assert (status.kids, status.keys_dropped_as_stale) == ((), True)
    assert jwks_server.stub.fetch_count == 1


def test_validation_of_a_good_token_is_unavailable_once_stale(
    jwks_server, stale_limited_client, clock, rsa_signer
):
    token = mint_token(rsa_signer)
    validate_token(token, jwks_client=stale_limited_client, issuer=ISSUER, audience=AUDIENCE)
    jwks_server.stub.mode = "unavailable"
    clock.advance(MAX_STALENESS_SECONDS + 1)
    with pytest.raises(KeySetUnavailableError):
        validate_token(
            token,
            jwks_client=stale_limited_client,
            issuer=ISSUER,
            audience=AUDIENCE,
            metrics=stale_limited_client.metrics,
        )
    assert stale_limited_client.metrics.snapshot()["validations"] == {
        "unavailable/key_set_too_stale": 1
    }


def test_dropping_keys_logs_one_warning_without_the_token(
    jwks_server, stale_limited_client, clock, rsa_signer, caplog
):
    token = mint_token(rsa_signer)
    validate_token(token, jwks_client=stale_limited_client, issuer=ISSUER, audience=AUDIENCE)
    jwks_server.stub.mode = "unavailable"
    clock.advance(MAX_STALENESS_SECONDS + 1)
    with caplog.at_level(logging.WARNING, logger="tokenidp_validator"):
        for _ in range(3):
            with pytest.raises(KeySetUnavailableError):
                validate_token(
                    token, jwks_client=stale_limited_client, issuer=ISSUER, audience=AUDIENCE
                )
            clock.advance(31)  # each lookup may fetch again, and fails again
    drops = [record for record in caplog.records if "dropped" in record.getMessage()]
    assert len(drops) == 1
    assert "max_staleness_seconds (3600)" in drops[0].getMessage()
    assert "dropped 2 cached keys" in drops[0].getMessage()
    assert all(token.split(".")[1] not in record.getMessage() for record in caplog.records)
    assert stale_limited_client.metrics.snapshot()["key_set_drops"] == {"too_stale": 1}


def test_service_resumes_when_the_jwks_comes_back(
    jwks_server, stale_limited_client, clock, rsa_signer
):
    stale_limited_client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.mode = "unavailable"
    clock.advance(MAX_STALENESS_SECONDS + 1)
    with pytest.raises(KeySetTooStaleError):
        stale_limited_client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.mode = "ok"
    clock.advance(31)
    assert stale_limited_client.get_signing_key(rsa_signer.kid).kid == rsa_signer.kid
    # Nothing was held to revalidate, so the whole document was fetched again.
    assert jwks_server.stub.requests[-1].get("If-None-Match") is None
    status = stale_limited_client.status()
    assert (status.age_seconds, status.keys_dropped_as_stale) == (0, False)
    assert status.consecutive_failures == 0
    assert stale_limited_client.metrics.snapshot()["refreshes"]["fetched"] == 2


def test_a_304_revalidation_resets_the_staleness(
    jwks_server, stale_limited_client, clock, rsa_signer
):
    stale_limited_client.get_signing_key(rsa_signer.kid)
    clock.advance(301)
    stale_limited_client.get_signing_key(rsa_signer.kid)
    assert stale_limited_client.metrics.snapshot()["refreshes"]["not_modified"] == 1
    assert stale_limited_client.status().age_seconds == 0
    jwks_server.stub.mode = "unavailable"
    clock.advance(MAX_STALENESS_SECONDS - 1)  # 3900 s after the 200, 3599 s after the 304
    assert stale_limited_client.get_signing_key(rsa_signer.kid).kid == rsa_signer.kid
    clock.advance(2)
    with pytest.raises(KeySetTooStaleError):
        stale_limited_client.get_signing_key(rsa_signer.kid)


def test_a_long_max_age_never_outlasts_the_max_staleness(jwks_server, clock, rsa_signer):
    jwks_server.stub.cache_control = "public, max-age=86400"
    client = JWKSClient(
        jwks_server.url,
        maximum_lifetime_seconds=86400,
        max_staleness_seconds=600,
        now=clock,
        metrics=ValidatorMetrics(registry=None),
    )
    client.get_signing_key(rsa_signer.kid)
    assert client.status().fresh_for_seconds == 600
    jwks_server.stub.mode = "unavailable"
    clock.advance(599)
    client.get_signing_key(rsa_signer.kid)
    assert jwks_server.stub.fetch_count == 1
    clock.advance(2)
    with pytest.raises(KeySetTooStaleError):
        client.get_signing_key(rsa_signer.kid)
    assert jwks_server.stub.fetch_count == 2


def test_max_staleness_defaults_to_one_day(jwks_server):
    assert JWKSClient(jwks_server.url).max_staleness_seconds == 86400


def test_infinite_max_staleness_keeps_the_last_good_keys_forever(jwks_server, clock, rsa_signer):
    client = JWKSClient(jwks_server.url, max_staleness_seconds=math.inf, now=clock)
    client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.mode = "unavailable"
    clock.advance(365 * 86400)
    assert client.get_signing_key(rsa_signer.kid).kid == rsa_signer.kid


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_staleness_seconds": 0}, "max_staleness_seconds: must be a positive number"),
        ({"max_staleness_seconds": -1}, "max_staleness_seconds: must be a positive number"),
        ({"max_staleness_seconds": math.nan}, "max_staleness_seconds: must be a positive number"),
        (
            {"max_staleness_seconds": 59},
            r"max_staleness_seconds: 59 s is shorter than minimum_lifetime_seconds \(60.0 s\)",
        ),
        (
            {"max_staleness_seconds": 300, "minimum_lifetime_seconds": 600},
            r"max_staleness_seconds: 300 s is shorter than minimum_lifetime_seconds \(600 s\)",
        ),
    ],
)
def test_max_staleness_is_refused_when_it_cannot_work(options, message):
    with pytest.raises(ValidatorConfigError, match=message):
        JWKSClient("https://id.example.test/.well-known/jwks.json", **options)


def test_max_staleness_equal_to_the_minimum_lifetime_is_accepted():
    client = JWKSClient(
        "https://id.example.test/.well-known/jwks.json",
        minimum_lifetime_seconds=60,
        max_staleness_seconds=60,
    )
    assert client.max_staleness_seconds == 60


def test_key_set_drops_are_counted_on_prometheus(jwks_server, clock, rsa_signer):
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    client = JWKSClient(
        jwks_server.url,
        max_staleness_seconds=600,
        now=clock,
        metrics=ValidatorMetrics(registry=registry),
    )
    client.get_signing_key(rsa_signer.kid)
    jwks_server.stub.mode = "unavailable"
    clock.advance(601)
    with pytest.raises(KeySetTooStaleError):
        client.get_signing_key(rsa_signer.kid)
    assert (
        registry.get_sample_value(
            "tokenidp_validator_jwks_key_set_drops_total", {"reason": "too_stale"}
        )
        == 1
    )
