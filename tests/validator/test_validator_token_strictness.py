"""One spelling per token, integer dates in range, and refusals described in our own words."""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask
from validator_support import (
    AUDIENCE,
    ISSUER,
    b64url,
    b64url_decode,
    b64url_json,
    default_claims,
    mint_token,
)

from tokenidp_validator import (
    JWKSClient,
    MalformedTokenError,
    MissingClaimError,
    TokenValidationError,
    read_unverified,
    validate_token,
)
from tokenidp_validator.flask import init_app, require_token

NOW = int(time.time())
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
LAST_SECOND_OF_9999 = 253402300799


def _validate(token: str, jwks_client: JWKSClient, **overrides):
    arguments = {"jwks_client": jwks_client, "issuer": ISSUER, "audience": AUDIENCE, **overrides}
    return validate_token(token, **arguments)


def _signed(signer, header_segment: str, payload_segment: str) -> str:
    """Sign exactly these segment spellings, so only the spelling can be refused."""
    signing_input = f"{header_segment}.{payload_segment}"
    return f"{signing_input}.{b64url(signer.sign(signing_input.encode()))}"


def _header_segment(signer, **extra) -> str:
    return b64url_json({"alg": signer.alg, "kid": signer.kid, "typ": "at+jwt", **extra})


def _raw_claims_segment(text: str) -> str:
    return b64url(text.encode())


def _with_unused_bits_set(segment: str, bits: int = 1) -> str:
    """The same bytes spelled differently: `bits` OR-ed into the unused low bits of the last
    character (RFC 4648 §3.5 says an encoder sets them to zero)."""
    unused_bits = {2: 4, 3: 2}[len(segment) % 4]
    assert 0 < bits < 1 << unused_bits
    last = BASE64URL.index(segment[-1])
    assert last & ((1 << unused_bits) - 1) == 0
    spelled = segment[:-1] + BASE64URL[last | bits]
    assert b64url_decode(spelled) == b64url_decode(segment)
    return spelled


def _not_a_multiple_of_three_long(make_segment) -> str:
    """A segment whose bytes do not fill whole base64 quanta, so it has unused bits."""
    for pad in range(3):
        segment = make_segment("x" * pad)
        if len(segment) % 4:
            return segment
    raise AssertionError("unreachable")


# --- canonical base64url ---------------------------------------------------------------------


@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
def test_padded_segment_is_refused(jwks_client, rsa_signer, part):
    segments = mint_token(rsa_signer).split(".")
    segments[part] += "=" * (-len(segments[part]) % 4 or 4)
    with pytest.raises(MalformedTokenError) as raised:
        _validate(".".join(segments), jwks_client)
    assert raised.value.description == "a segment is padded with =, which JWS forbids (RFC 7515 §2)"


def test_header_with_nonzero_unused_bits_is_refused(jwks_client, rsa_signer):
    header = _not_a_multiple_of_three_long(lambda pad: _header_segment(rsa_signer, pad=pad))
    payload = b64url_json(default_claims())
    assert _validate(_signed(rsa_signer, header, payload), jwks_client)
    with pytest.raises(MalformedTokenError) as raised:
        _validate(_signed(rsa_signer, _with_unused_bits_set(header), payload), jwks_client)
    assert raised.value.description == "the header is not canonical base64url (unused bits set)"


def test_payload_with_nonzero_unused_bits_is_refused(jwks_client, rsa_signer):
    header = _header_segment(rsa_signer)
    payload = _not_a_multiple_of_three_long(lambda pad: b64url_json(default_claims(pad=pad)))
    assert _validate(_signed(rsa_signer, header, payload), jwks_client)
    with pytest.raises(MalformedTokenError) as raised:
        _validate(_signed(rsa_signer, header, _with_unused_bits_set(payload)), jwks_client)
    assert raised.value.description == "the payload is not canonical base64url (unused bits set)"


@pytest.mark.parametrize("bits", range(1, 16))
def test_signature_with_nonzero_unused_bits_is_refused(jwks_client, rsa_signer, ec_signer, bits):
    for signer in (rsa_signer, ec_signer):  # 256 and 64 bytes: 4 unused bits in the last char
        token = mint_token(signer)
        assert _validate(token, jwks_client)
        signing_input, signature = token.rsplit(".", 1)
        malleated = f"{signing_input}.{_with_unused_bits_set(signature, bits)}"
        with pytest.raises(MalformedTokenError) as raised:
            _validate(malleated, jwks_client)
        assert raised.value.description == (
            "the signature is not canonical base64url (unused bits set)"
        )


def test_read_unverified_refuses_the_same_spellings(rsa_signer):
    signing_input, signature = mint_token(rsa_signer).rsplit(".", 1)
    with pytest.raises(MalformedTokenError):
        read_unverified(f"{signing_input}.{_with_unused_bits_set(signature)}")


# --- exp, nbf and iat: integers from 0 to the last second of 9999 ----------------------------

NOT_NUMERIC_DATES = {
    "1e400 (infinity once parsed)": "1e400",
    "a float": "1700000000.5",
    "an integral float": "1700000000.0",
    "an exponent": "17e8",
    "a string": '"1700000000"',
    "true": "true",
    "null": "null",
    "negative": "-1",
    "past year 9999": str(LAST_SECOND_OF_9999 + 1),
    "2**53": str(2**53),
    "a huge integer": "9" * 400,
    "an object": '{"$date": 1700000000}',
}


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("json_value", NOT_NUMERIC_DATES.values(), ids=NOT_NUMERIC_DATES.keys())
def test_exp_nbf_and_iat_must_be_integer_numeric_dates(jwks_client, rsa_signer, claim, json_value):
    claims_text = json.dumps(default_claims(**{claim: "PLACEHOLDER"}))
    payload = _raw_claims_segment(claims_text.replace('"PLACEHOLDER"', json_value))
    token = _signed(rsa_signer, _header_segment(rsa_signer), payload)
    with pytest.raises(MissingClaimError) as raised:
        _validate(token, jwks_client)
    assert raised.value.description == (
        f"the {claim} claim is not an integer number of seconds from 0 to {LAST_SECOND_OF_9999} "
        "(NumericDate)"
    )


def test_numeric_dates_at_the_ends_of_the_range_are_accepted(jwks_client, rsa_signer):
    claims = default_claims(nbf=0, iat=0, exp=LAST_SECOND_OF_9999)
    access_token = _validate(mint_token(rsa_signer, claims=claims), jwks_client)
    assert (access_token.issued_at, access_token.expires_at) == (0, LAST_SECOND_OF_9999)


def test_missing_exp_is_named_missing(jwks_client, rsa_signer):
    with pytest.raises(MissingClaimError) as raised:
        _validate(mint_token(rsa_signer, claims=default_claims(exp=None)), jwks_client)
    assert raised.value.description == "the exp claim is missing"


# --- refusals described in our own words, never a parser's message ---------------------------


def _header_text(k, text: str) -> str:
    return _signed(k, b64url(text.encode("latin-1")), b64url_json(default_claims()))


def _payload_bytes(k, data: bytes) -> str:
    return _signed(k, _header_segment(k), b64url(data))


OUR_WORDS = {
    "header not UTF-8": (
        lambda k: _header_text(k, '{"alg":"RS256","kid":"\xb7"}'),
        "the header is not UTF-8",
    ),
    "header not JSON": (lambda k: _header_text(k, '{"alg":'), "the header is not valid JSON"),
    "header with a UTF-8 byte order mark": (
        lambda k: _signed(k, b64url(b"\xef\xbb\xbf{}"), b64url_json(default_claims())),
        "the header is not valid JSON",
    ),
    "header with a duplicate member": (
        lambda k: _header_text(k, '{"alg":"RS256","alg":"none"}'),
        "the header has duplicate member names",
    ),
    "payload not UTF-8": (
        lambda k: _payload_bytes(k, b'{"sub":"\xb7\xff"}'),
        "the payload is not UTF-8",
    ),
    "payload UTF-16": (
        lambda k: _payload_bytes(k, json.dumps(default_claims()).encode("utf-16")),
        "the payload is not UTF-8",
    ),
    "payload not JSON": (
        lambda k: _payload_bytes(k, b"{'sub': 1}"),
        "the payload is not valid JSON",
    ),
    "payload with NaN": (
        lambda k: _payload_bytes(k, b'{"exp": NaN}'),
        "the payload holds NaN or Infinity, which are not JSON numbers",
    ),
    "payload with a 5000-digit number": (
        lambda k: _payload_bytes(k, b'{"exp": ' + b"9" * 5000 + b"}"),
        "the payload holds a number too long to read",
    ),
    "payload nested 1000 deep": (
        lambda k: _payload_bytes(k, b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"),
        "the payload is nested too deeply",
    ),
    "payload a JSON array": (
        lambda k: _payload_bytes(k, b"[]"),
        "the payload is not a JSON object",
    ),
    "header alg not a string": (
        lambda k: _signed(k, b64url_json({"alg": ["RS256"]}), b64url_json(default_claims())),
        "the header has no alg string",
    ),
    "header typ not a string": (
        lambda k: mint_token(k, header={"typ": {"media": "at+jwt"}}),
        "the header has no typ string; access tokens carry at+jwt",
    ),
}


@pytest.mark.parametrize(("build", "description"), OUR_WORDS.values(), ids=OUR_WORDS.keys())
def test_refusals_are_described_in_our_own_words(jwks_client, rsa_signer, build, description):
    with pytest.raises(TokenValidationError) as raised:
        _validate(build(rsa_signer), jwks_client)
    assert raised.value.description == description


@pytest.fixture
def api(jwks_client):
    app = Flask(__name__)
    init_app(app, issuer=ISSUER, jwks_client=jwks_client, audience=AUDIENCE)

    @app.get("/orders")
    @require_token(scopes=["orders.read"])
    def orders():
        return "never"

    return app.test_client()


@pytest.mark.parametrize(
    "attack", ["payload not UTF-8", "header not UTF-8", "header not JSON", "payload not JSON"]
)
def test_challenge_carries_no_python_exception_text(api, rsa_signer, attack):
    build, description = OUR_WORDS[attack]
    response = api.get("/orders", headers={"Authorization": f"Bearer {build(rsa_signer)}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{description}"'
    )
    assert response.json == {"error": "invalid_token", "error_description": description}
