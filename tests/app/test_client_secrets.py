"""Client secrets: one digest for the configuration and the database, 256-bit secrets, and a
check that accepts only a secret still valid, tells an expired one apart, and never
accepts anything for a client with no secret."""

from __future__ import annotations

import base64

import pytest

from app.client_secrets import (
    ClientSecret,
    SecretCheck,
    check_client_secret,
    client_secret_digest,
    configured_digest,
    generate_client_secret,
    hash_client_secret,
)

NOW = 1_800_000_000


def test_the_configured_value_holds_the_digest_the_database_stores():
    assert configured_digest(hash_client_secret("demo-secret")) == client_secret_digest(
        "demo-secret"
    )


@pytest.mark.parametrize(
    "value", ["not base64!", base64.b64encode(b"\x01" * 20).decode()], ids=["text", "sha1-size"]
)
def test_a_configured_value_that_is_not_a_sha256_digest_is_refused(value):
    with pytest.raises(ValueError):
        configured_digest(value)


def test_generated_secrets_carry_256_random_bits():
    secrets = {generate_client_secret() for _ in range(100)}

    assert len(secrets) == 100
    assert all(len(base64.urlsafe_b64decode(secret + "=")) == 32 for secret in secrets)


def test_a_secret_is_valid_while_any_of_its_client_s_secrets_that_matches_is_unexpired():
    old = ClientSecret(client_secret_digest("old"), expires_at=NOW + 60)
    new = ClientSecret(client_secret_digest("new"))
    candidates = (old, new)

    assert check_client_secret("old", candidates=candidates, now=NOW) is SecretCheck.VALID
    assert check_client_secret("new", candidates=candidates, now=NOW) is SecretCheck.VALID
    assert check_client_secret("old", candidates=candidates, now=NOW + 60) is SecretCheck.EXPIRED
    assert check_client_secret("new", candidates=candidates, now=NOW + 60) is SecretCheck.VALID
    assert check_client_secret("neither", candidates=candidates, now=NOW) is SecretCheck.WRONG


def test_nothing_is_accepted_for_a_client_without_secrets():
    for presented in ("", "tokenidp: no usable client secret", generate_client_secret()):
        assert check_client_secret(presented, candidates=(), now=NOW) is SecretCheck.WRONG
