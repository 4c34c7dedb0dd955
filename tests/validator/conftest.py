"""Fixtures: session keys, a real loopback JWKS server per test, a fake clock, a client."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from roca_support import roca_private_key
from validator_support import (
    FakeClock,
    JWKSServer,
    JWKSStub,
    Signer,
    make_signer,
)

from app.keys.dev_key import ensure_development_key
from tokenidp_validator import JWKSClient, ValidatorMetrics


@pytest.fixture(scope="session")
def rsa_signer() -> Signer:
    return make_signer(rsa.generate_private_key(65537, 2048), "RS256", "signing-a")


@pytest.fixture(scope="session")
def other_rsa_signer() -> Signer:
    return make_signer(rsa.generate_private_key(65537, 2048), "RS256", "signing-b")


@pytest.fixture(scope="session")
def ec_signer() -> Signer:
    return make_signer(ec.generate_private_key(ec.SECP256R1()), "ES256", "signing-ec")


@pytest.fixture
def jwks_server(rsa_signer: Signer, ec_signer: Signer):
    server = JWKSServer(JWKSStub(keys=[rsa_signer.jwk(), ec_signer.jwk()]))
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def jwks_client(jwks_server: JWKSServer, clock: FakeClock) -> JWKSClient:
    return JWKSClient(
        jwks_server.url,
        minimum_lifetime_seconds=60,
        maximum_lifetime_seconds=3600,
        refresh_cooldown_seconds=30,
        timeout_seconds=2,
        now=clock,
        metrics=ValidatorMetrics(registry=None),
    )


@pytest.fixture(scope="session")
def attacker_signer() -> Signer:
    """A key that is in no JWKS: what a forger holds."""
    return make_signer(rsa.generate_private_key(65537, 2048), "RS256", "attacker")


@pytest.fixture(scope="session")
def roca_signer() -> Signer:
    """A real key from the flawed generator of CVE-2017-15361."""
    return make_signer(roca_private_key(), "RS256", "roca")


@pytest.fixture(scope="session")
def development_signer(tmp_path_factory) -> Signer:
    """The IdP's own development key and certificate, as `make run` creates them."""
    entry = ensure_development_key(tmp_path_factory.mktemp("instance"), now=dt.datetime.now(dt.UTC))
    return Signer(private_key=entry.private_key, certificate=entry.certificate, alg="RS256")
