"""Fixtures: session keys, a real loopback JWKS server per test, a fake clock, a client."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from validator_support import (
    FakeClock,
    JWKSServer,
    JWKSStub,
    Signer,
    make_signer,
)

from validator import JWKSClient, ValidatorMetrics


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
