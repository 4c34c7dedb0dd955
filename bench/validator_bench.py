"""Validations/s with a warm cache against bare cryptography RSA-2048 verifies/s, same run.

python bench/validator_bench.py [--seconds 2.0]

Also prints python-jose jwt.decode with a JWKS dict and PyJWT's PyJWKClient for reference.
Keys are generated in memory; the JWKS is served by a loopback http.server.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "validator"))

import jwt as pyjwt  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from jose import jwt as jose_jwt  # noqa: E402
from validator_support import JWKSServer, JWKSStub, make_signer  # noqa: E402

from tokenidp_validator import JWKSClient, ValidatorMetrics, validate_token  # noqa: E402

ISSUER = "https://id.example.test"
AUDIENCE = "orders-api"


def rate(function, seconds: float) -> float:
    """Calls per second of `function`, best of three slices of `seconds`/3."""
    best = 0.0
    for _ in range(3):
        count, started = 0, time.perf_counter()
        deadline = started + seconds / 3
        while True:
            for _ in range(200):
                function()
            count += 200
            elapsed = time.perf_counter() - started
            if elapsed >= seconds / 3 and time.perf_counter() >= deadline:
                break
        best = max(best, count / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    signer = make_signer(rsa.generate_private_key(65537, 2048), "RS256", "bench")
    private_key, kid = signer.private_key, signer.kid
    jwks = {"keys": [signer.jwk()]}
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "client-42",
        "client_id": "client-42",
        "exp": now + 3600,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "scope": "orders.read orders.write",
    }
    header = {"alg": "RS256", "kid": kid, "typ": "at+jwt"}
    token = jose_jwt.encode(claims, private_key, algorithm="RS256", headers=header)
    server = JWKSServer(JWKSStub(keys=jwks["keys"], cache_control="public, max-age=3600"))
    jwks_uri = server.url

    public_key = private_key.public_key()
    signing_input, signature_segment = token.rsplit(".", 1)
    signing_input_bytes = signing_input.encode()
    signature = base64.urlsafe_b64decode(signature_segment + "=" * (-len(signature_segment) % 4))

    def bare_verify():
        public_key.verify(signature, signing_input_bytes, padding.PKCS1v15(), hashes.SHA256())

    client = JWKSClient(jwks_uri, metrics=ValidatorMetrics(registry=None))
    validate_token(token, jwks_client=client, issuer=ISSUER, audience=AUDIENCE)  # warm

    def ours():
        validate_token(token, jwks_client=client, issuer=ISSUER, audience=AUDIENCE)

    def jose_with_jwks_dict():
        jose_jwt.decode(token, jwks, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    pyjwk_client = pyjwt.PyJWKClient(jwks_uri)
    pyjwk_client.get_signing_key_from_jwt(token)  # warm

    def pyjwt_jwks_client():
        signing_key = pyjwk_client.get_signing_key_from_jwt(token)
        pyjwt.decode(token, signing_key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    results = {}
    for name, function in (
        ("bare cryptography RSA-2048 verify", bare_verify),
        ("tokenidp_validator.validate_token (warm cache)", ours),
        ("python-jose jwt.decode with JWKS dict", jose_with_jwks_dict),
        ("PyJWT PyJWKClient + jwt.decode", pyjwt_jwks_client),
    ):
        results[name] = rate(function, seconds)
    server.stop()

    bare = results["bare cryptography RSA-2048 verify"]
    print(f"{'measurement':46} {'per second':>12} {'µs each':>9} {'× bare':>7}")
    for name, per_second in results.items():
        print(f"{name:46} {per_second:12,.0f} {1e6 / per_second:9.1f} {per_second / bare:7.2f}")
    ratio = results["tokenidp_validator.validate_token (warm cache)"] / bare
    print(f"\nvalidate_token / bare verify ratio: {ratio:.2f} (target ≥ 0.35)")


if __name__ == "__main__":
    main()
