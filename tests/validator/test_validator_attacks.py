"""Crafted tokens, each refused with the error that names the attack; valid ones accepted."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from types import SimpleNamespace

import pytest
from jose import jwt
from validator_support import (
    AUDIENCE,
    ISSUER,
    JWKSServer,
    JWKSStub,
    b64url,
    b64url_decode,
    b64url_json,
    default_claims,
    mint_token,
)

from tokenidp_validator import (
    AlgorithmMismatchError,
    ExpiredTokenError,
    ForbiddenHeaderError,
    InsufficientScopeError,
    InvalidSignatureError,
    JWKSClient,
    MalformedTokenError,
    MissingClaimError,
    TokenNotYetValidError,
    TokenTooLargeError,
    TokenValidationError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    ValidatorMetrics,
    WrongAudienceError,
    WrongIssuerError,
    WrongTokenTypeError,
    validate_token,
)


@pytest.fixture
def keys(rsa_signer, other_rsa_signer, ec_signer, attacker_signer):
    return SimpleNamespace(
        rsa=rsa_signer, other=other_rsa_signer, ec=ec_signer, attacker=attacker_signer
    )


@pytest.fixture
def client(keys, clock):
    server = JWKSServer(JWKSStub(keys=[keys.rsa.jwk(), keys.other.jwk(), keys.ec.jwk()]))
    yield JWKSClient(server.url, now=clock, metrics=ValidatorMetrics(registry=None))
    server.stop()


def _validate(token, client, **overrides):
    arguments = {"jwks_client": client, "issuer": ISSUER, "audience": AUDIENCE, **overrides}
    return validate_token(token, **arguments)


def _unsigned(header, claims=None, signature=b"\x00" * 32):
    return f"{b64url_json(header)}.{b64url_json(claims or default_claims())}.{b64url(signature)}"


def _hmac_with_public_pem(k):
    header = {"alg": "HS256", "kid": k.rsa.kid, "typ": "at+jwt"}
    signing_input = f"{b64url_json(header)}.{b64url_json(default_claims())}"
    mac = hmac.new(k.rsa.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def _tampered_payload(k):
    header, _, signature = mint_token(k.rsa).split(".")
    return f"{header}.{b64url_json(default_claims(scope='admin'))}.{signature}"


def _truncated_signature(k):
    signing_input, signature = mint_token(k.rsa).rsplit(".", 1)
    return f"{signing_input}.{b64url(b64url_decode(signature)[:-3])}"


def _raw_payload(k, payload_text):
    header = b64url_json({"alg": "RS256", "kid": k.rsa.kid, "typ": "at+jwt"})
    signing_input = f"{header}.{b64url(payload_text.encode())}"
    return f"{signing_input}.{b64url(k.rsa.sign(signing_input.encode()))}"


def _raw_header(k, header_text):
    signing_input = f"{b64url(header_text.encode())}.{b64url_json(default_claims())}"
    return f"{signing_input}.{b64url(k.rsa.sign(signing_input.encode()))}"


NOW = int(time.time())

ATTACKS = {
    "alg none": (
        lambda k: _unsigned({"alg": "none", "kid": k.rsa.kid, "typ": "at+jwt"}),
        UnsupportedAlgorithmError,
    ),
    "alg None, mixed case": (
        lambda k: _unsigned({"alg": "None", "kid": k.rsa.kid, "typ": "at+jwt"}),
        UnsupportedAlgorithmError,
    ),
    "alg none with empty signature": (
        lambda k: (
            _unsigned({"alg": "none", "kid": k.rsa.kid, "typ": "at+jwt"}).rsplit(".", 1)[0] + "."
        ),
        MalformedTokenError,
    ),
    "HS256 keyed with the RSA public key PEM": (_hmac_with_public_pem, UnsupportedAlgorithmError),
    "HS256 with the EC kid": (
        lambda k: _unsigned({"alg": "HS256", "kid": k.ec.kid, "typ": "at+jwt"}),
        UnsupportedAlgorithmError,
    ),
    "PS256, not accepted": (
        lambda k: _unsigned({"alg": "PS256", "kid": k.rsa.kid, "typ": "at+jwt"}),
        UnsupportedAlgorithmError,
    ),
    "signed by key A with the kid of key B": (
        lambda k: mint_token(k.rsa, header={"kid": k.other.kid}),
        InvalidSignatureError,
    ),
    "embedded jwk of the forger's key": (
        lambda k: mint_token(
            k.attacker, header={"kid": k.rsa.kid, "jwk": k.attacker.jwk(x5c=None)}
        ),
        ForbiddenHeaderError,
    ),
    "jku pointing at the forger's JWKS": (
        lambda k: mint_token(
            k.attacker, header={"kid": k.attacker.kid, "jku": "https://evil.test/jwks.json"}
        ),
        ForbiddenHeaderError,
    ),
    "x5u pointing at the forger's certificate": (
        lambda k: mint_token(k.attacker, header={"x5u": "https://evil.test/cert.pem"}),
        ForbiddenHeaderError,
    ),
    "x5c carrying a certificate": (  # a small EC one, so the size limit does not fire first
        lambda k: mint_token(k.attacker, header={"x5c": k.ec.jwk()["x5c"]}),
        ForbiddenHeaderError,
    ),
    "crit naming an extension": (
        lambda k: mint_token(k.rsa, header={"crit": ["exp"], "exp": NOW + 60}),
        ForbiddenHeaderError,
    ),
    "expired": (
        lambda k: mint_token(k.rsa, claims=default_claims(exp=NOW - 120, iat=NOW - 420)),
        ExpiredTokenError,
    ),
    "not yet valid (nbf)": (
        lambda k: mint_token(k.rsa, claims=default_claims(nbf=NOW + 600)),
        TokenNotYetValidError,
    ),
    "issued in the future (iat)": (
        lambda k: mint_token(k.rsa, claims=default_claims(iat=NOW + 600, exp=NOW + 900)),
        TokenNotYetValidError,
    ),
    "wrong iss": (
        lambda k: mint_token(k.rsa, claims=default_claims(iss="https://evil.test")),
        WrongIssuerError,
    ),
    "wrong aud": (
        lambda k: mint_token(k.rsa, claims=default_claims(aud="billing-api")),
        WrongAudienceError,
    ),
    "aud list without ours": (
        lambda k: mint_token(k.rsa, claims=default_claims(aud=["billing-api", "crm"])),
        WrongAudienceError,
    ),
    "typ JWT (an ID token or other JWT)": (
        lambda k: mint_token(k.rsa, header={"typ": "JWT"}),
        WrongTokenTypeError,
    ),
    "typ missing": (lambda k: mint_token(k.rsa, header={"typ": None}), WrongTokenTypeError),
    "tampered payload": (_tampered_payload, InvalidSignatureError),
    "truncated signature": (_truncated_signature, InvalidSignatureError),
    "signature of one token on another": (
        lambda k: mint_token(k.rsa).rsplit(".", 1)[0] + "." + mint_token(k.rsa).split(".")[2],
        InvalidSignatureError,
    ),
    "oversized header": (
        lambda k: mint_token(k.rsa, header={"pad": "x" * 2000}),
        TokenTooLargeError,
    ),
    "oversized token": (
        lambda k: mint_token(k.rsa, claims=default_claims(pad="x" * 9000)),
        TokenTooLargeError,
    ),
    "ES256 token with an RSA kid": (
        lambda k: mint_token(k.ec, header={"kid": k.rsa.kid}),
        AlgorithmMismatchError,
    ),
    "RS256 token with an EC kid": (
        lambda k: mint_token(k.rsa, header={"kid": k.ec.kid}),
        AlgorithmMismatchError,
    ),
    "RS384 against a key pinned to RS256": (
        lambda k: _unsigned({"alg": "RS384", "kid": k.rsa.kid, "typ": "at+jwt"}),
        AlgorithmMismatchError,
    ),
    "unknown kid": (
        lambda k: mint_token(k.attacker),
        UnknownKeyError,
    ),
    "no kid": (lambda k: mint_token(k.rsa, header={"kid": None}), MalformedTokenError),
    "malformed base64": (lambda k: "eyJhbGciOi!.eyJ.c2ln", MalformedTokenError),
    "header length 1 mod 4": (lambda k: "eyJhb.e30.c2ln", MalformedTokenError),
    "header not JSON": (lambda k: f"{b64url(b'{alg')}.e30.c2ln", MalformedTokenError),
    "header a JSON array": (lambda k: f"{b64url(b'[1]')}.e30.c2ln", MalformedTokenError),
    "duplicate alg in header": (
        lambda k: _raw_header(
            k,
            json.dumps({"alg": "RS256", "kid": k.rsa.kid, "typ": "at+jwt"})[:-1]
            + ', "alg": "none"}',
        ),
        MalformedTokenError,
    ),
    "two segments": (lambda k: mint_token(k.rsa).rsplit(".", 1)[0], MalformedTokenError),
    "five segments (JWE)": (lambda k: "a.b.c.d.e", MalformedTokenError),
    "payload not JSON": (lambda k: _raw_payload(k, "not json"), MalformedTokenError),
    "exp NaN": (
        lambda k: _raw_payload(k, json.dumps(default_claims(exp=float("nan")))),
        MalformedTokenError,
    ),
    "exp a string": (
        lambda k: mint_token(k.rsa, claims=default_claims(exp=str(NOW + 300))),
        MissingClaimError,
    ),
    "exp missing": (
        lambda k: mint_token(k.rsa, claims=default_claims(exp=None)),
        MissingClaimError,
    ),
    "sub missing": (
        lambda k: mint_token(k.rsa, claims=default_claims(sub=None)),
        MissingClaimError,
    ),
    "client_id missing": (
        lambda k: mint_token(k.rsa, claims=default_claims(client_id=None)),
        MissingClaimError,
    ),
    "bytes instead of text": (lambda k: mint_token(k.rsa).encode(), MalformedTokenError),
}


@pytest.mark.parametrize(("build", "expected_error"), ATTACKS.values(), ids=ATTACKS.keys())
def test_attack_is_refused_with_the_right_error(keys, client, build, expected_error):
    token = build(keys)
    with pytest.raises(TokenValidationError) as raised:
        _validate(token, client)
    assert type(raised.value) is expected_error
    assert raised.value.error == "invalid_token"
    assert raised.value.description


def test_valid_rs256_token_is_accepted(keys, client):
    access_token = _validate(mint_token(keys.rsa), client)
    assert access_token.kid == keys.rsa.kid
    assert access_token.algorithm == "RS256"
    assert access_token.subject == "client-42"
    assert access_token.scopes == {"orders.read", "orders.write"}
    with pytest.raises(TypeError):
        access_token.claims["sub"] = "someone-else"


def test_valid_es256_token_is_accepted(keys, client):
    access_token = _validate(mint_token(keys.ec), client)
    assert (access_token.kid, access_token.algorithm) == (keys.ec.kid, "ES256")


def test_token_signed_by_python_jose_is_accepted(keys, client):
    token = jwt.encode(
        default_claims(),
        keys.rsa.private_key,
        algorithm="RS256",
        headers={"kid": keys.rsa.kid, "typ": "at+jwt"},
    )
    assert _validate(token, client).client_id == "client-42"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_typ_accepts_short_and_full_media_type_case_insensitively(keys, client, typ):
    assert _validate(mint_token(keys.rsa, header={"typ": typ}), client)


def test_aud_list_containing_ours_is_accepted(keys, client):
    token = mint_token(keys.rsa, claims=default_claims(aud=["billing-api", AUDIENCE]))
    assert _validate(token, client).audience == ("billing-api", AUDIENCE)


def test_expiry_within_leeway_is_accepted_and_beyond_is_not(keys, client):
    token = mint_token(keys.rsa, claims=default_claims(exp=NOW - 10, iat=NOW - 310))
    assert _validate(token, client, leeway_seconds=30, now=NOW)
    with pytest.raises(ExpiredTokenError):
        _validate(token, client, leeway_seconds=30, now=NOW + 21)


def test_missing_required_scope_is_insufficient_scope(keys, client):
    token = mint_token(keys.rsa, claims=default_claims(scope="orders.read"))
    with pytest.raises(InsufficientScopeError) as raised:
        _validate(token, client, required_scopes=["orders.read", "orders.delete"])
    assert (raised.value.error, raised.value.status_code) == ("insufficient_scope", 403)
    assert _validate(token, client, required_scopes=["orders.read"])


def test_forged_headers_are_refused_before_any_fetch(keys, clock):
    stub = JWKSStub(keys=[keys.rsa.jwk()])
    server = JWKSServer(stub)
    try:
        client = JWKSClient(server.url, now=clock)
        for name in ("alg none", "embedded jwk of the forger's key", "oversized header"):
            build, expected_error = ATTACKS[name]
            with pytest.raises(expected_error):
                _validate(build(keys), client)
        assert stub.fetch_count == 0
    finally:
        server.stop()


def test_validation_outcomes_are_counted_by_reason(keys, client):
    metrics = ValidatorMetrics(registry=None)
    _validate(mint_token(keys.rsa), client, metrics=metrics)
    for name in ("expired", "wrong aud", "expired"):
        with pytest.raises(TokenValidationError):
            _validate(ATTACKS[name][0](keys), client, metrics=metrics)
    assert metrics.snapshot()["validations"] == {
        "valid/ok": 1,
        "invalid/expired": 2,
        "invalid/wrong_audience": 1,
    }
