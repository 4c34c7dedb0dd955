"""JWKS entries the validator never trusts: factorable ROCA keys, and development keys unless
its caller opts in for local use."""

from __future__ import annotations

import json
import logging
import math

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from validator_support import (
    AUDIENCE,
    ISSUER,
    JWKSServer,
    JWKSStub,
    mint_token,
)

from app.keys.certificates import DEVELOPMENT_MARKER
from tokenidp_validator import (
    DEVELOPMENT_KEY_MARKER,
    JWKSClient,
    UnknownKeyError,
    ValidatorMetrics,
    has_roca_fingerprint,
    parse_jwks,
    validate_token,
)
from tokenidp_validator.roca import FINGERPRINT_PRIMES


def _modulus(signer) -> int:
    return signer.private_key.public_key().public_numbers().n


@pytest.fixture
def serve_keys(clock):
    """A loopback JWKS serving `keys`, and a client on it; clients opt in through `options`."""
    servers: list[JWKSServer] = []

    def serve(keys, **options) -> JWKSClient:
        server = JWKSServer(JWKSStub(keys=keys))
        servers.append(server)
        return JWKSClient(server.url, now=clock, metrics=ValidatorMetrics(registry=None), **options)

    yield serve
    for server in servers:
        server.stop()


def _validate(token: str, client: JWKSClient):
    return validate_token(token, jwks_client=client, issuer=ISSUER, audience=AUDIENCE)


# --- ROCA (CVE-2017-15361) ---------------------------------------------------------------------


def test_roca_key_is_a_working_rsa_key_with_the_fingerprint(roca_signer):
    private_key = roca_signer.private_key
    assert private_key.key_size == 2048
    signature = private_key.sign(b"data", padding.PKCS1v15(), hashes.SHA256())
    private_key.public_key().verify(signature, b"data", padding.PKCS1v15(), hashes.SHA256())
    assert has_roca_fingerprint(_modulus(roca_signer))


def test_generated_keys_have_no_roca_fingerprint(rsa_signer, other_rsa_signer, attacker_signer):
    fresh = [rsa.generate_private_key(65537, 1024).public_key() for _ in range(20)]
    moduli = [key.public_numbers().n for key in fresh]
    moduli += [_modulus(s) for s in (rsa_signer, other_rsa_signer, attacker_signer)]
    assert not any(has_roca_fingerprint(modulus) for modulus in moduli)


def test_residues_in_each_subgroup_need_one_common_exponent_to_be_flagged(roca_signer):
    # Checking each prime alone would flag all of these (and 2^-28 of random moduli); the
    # generator's single exponent a + b must also explain every residue (2^-155).
    n = _modulus(roca_signer)
    step = math.prod(FINGERPRINT_PRIMES[:-1])  # keeps n modulo 3 to 163, moves it modulo 167
    generated_mod_167 = {pow(65537, exponent, 167) for exponent in range(166)}
    candidates = [n + step * i for i in range(167) if (n + step * i) % 167 in generated_mod_167]
    flagged = [candidate for candidate in candidates if has_roca_fingerprint(candidate)]
    assert n in flagged
    assert 0 < len(flagged) < len(candidates)


def test_jwks_key_with_roca_fingerprint_is_ignored(serve_keys, roca_signer, rsa_signer):
    client = serve_keys([roca_signer.jwk(), rsa_signer.jwk()])
    assert _validate(mint_token(rsa_signer), client).kid == rsa_signer.kid
    with pytest.raises(UnknownKeyError):
        _validate(mint_token(roca_signer), client)
    assert client.status().kids == (rsa_signer.kid,)


def test_roca_refusal_is_reported_like_other_ignored_entries(roca_signer, rsa_signer):
    key_set = parse_jwks(json.dumps({"keys": [rsa_signer.jwk(), roca_signer.jwk()]}))
    assert list(key_set.keys) == [rsa_signer.kid]
    assert key_set.ignored == (
        f"keys[1]: kid {roca_signer.kid}: RSA modulus has the ROCA fingerprint "
        "(CVE-2017-15361), so it can be factored; refused",
    )


# --- development keys ----------------------------------------------------------------------------


def test_development_key_marker_is_the_one_the_idp_writes():
    assert DEVELOPMENT_KEY_MARKER == DEVELOPMENT_MARKER


def test_development_key_is_refused_by_default(serve_keys, development_signer, rsa_signer):
    client = serve_keys([development_signer.jwk(), rsa_signer.jwk()])
    with pytest.raises(UnknownKeyError):
        _validate(mint_token(development_signer), client)
    assert client.status().kids == (rsa_signer.kid,)


def test_development_key_is_accepted_when_the_caller_opts_in(
    serve_keys, development_signer, caplog
):
    with caplog.at_level(logging.WARNING, logger="tokenidp_validator.jwks_client"):
        client = serve_keys([development_signer.jwk()], allow_development_keys=True)
    assert "development keys are accepted" in caplog.text
    assert _validate(mint_token(development_signer), client).kid == development_signer.kid


def test_development_refusal_is_reported_like_other_ignored_entries(development_signer, rsa_signer):
    body = json.dumps({"keys": [development_signer.jwk(), rsa_signer.jwk()]})
    refused = parse_jwks(body)
    assert list(refused.keys) == [rsa_signer.kid]
    assert refused.ignored == (
        f"keys[0]: kid {development_signer.kid}: its x5c certificate is marked as a development "
        "key; refused (allow_development_keys=True accepts it, for local use only)",
    )
    allowed = parse_jwks(body, allow_development_keys=True)
    assert sorted(allowed.keys) == sorted([development_signer.kid, rsa_signer.kid])
    assert allowed.ignored == ()


@pytest.mark.parametrize(
    "x5c",
    [[], "MIIB", [42], ["not base64!"], ["bm90IGEgY2VydGlmaWNhdGU="]],
    ids=["empty", "a string", "a number", "not base64", "base64 of something else"],
)
def test_x5c_that_is_not_a_certificate_chain_is_refused(rsa_signer, x5c):
    # A chain we cannot read cannot be cleared of the marker, with or without the opt-in.
    for allow_development_keys in (False, True):
        key_set = parse_jwks(
            json.dumps({"keys": [rsa_signer.jwk(x5c=x5c)]}),
            allow_development_keys=allow_development_keys,
        )
        assert key_set.keys == {}
        assert key_set.ignored[0].startswith(f"keys[0]: kid {rsa_signer.kid}: x5c ")


def test_marker_anywhere_in_the_x5c_chain_marks_the_key(rsa_signer, development_signer):
    chain = rsa_signer.jwk()["x5c"] + development_signer.jwk()["x5c"]
    key_set = parse_jwks(json.dumps({"keys": [rsa_signer.jwk(x5c=chain)]}))
    assert key_set.keys == {}
    assert "marked as a development key" in key_set.ignored[0]
