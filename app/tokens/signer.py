"""Signing compact JWS with the keyring's key, built once: per token, only the payload and
the signature are computed (the header segment is fixed per key and token type)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from app.keys.certificates import PrivateKey

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1
P256_COORDINATE_BYTES = 32


class TokenSigner:
    """One signing key with its algorithm fixed at construction: RS256 or ES256.

    The padding, hash and ECDSA objects are made once; ES256 signatures are written as
    r‖s, each 32 bytes (RFC 7518 §3.4), not as the DER OpenSSL returns.
    """

    def __init__(self, private_key: PrivateKey, *, kid: str, algorithm: str) -> None:
        self.kid = kid
        self.algorithm = algorithm
        self._sign = _signature_function(private_key, algorithm)
        self._header_segments: dict[str, bytes] = {}

    def header_segment(self, token_type: str) -> bytes:
        """base64url of `{"alg","kid","typ"}`, computed once per token type."""
        segment = self._header_segments.get(token_type)
        if segment is None:
            header = {"alg": self.algorithm, "kid": self.kid, "typ": token_type}
            segment = b64url(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
            self._header_segments[token_type] = segment
        return segment

    def sign(self, payload: bytes, *, token_type: str) -> str:
        """`header.payload.signature` for a JSON payload already encoded."""
        signing_input = self.header_segment(token_type) + b"." + b64url(payload)
        return (signing_input + b"." + b64url(self._sign(signing_input))).decode("ascii")


def _signature_function(private_key: PrivateKey, algorithm: str) -> Callable[[bytes], bytes]:
    if algorithm == "RS256" and isinstance(private_key, rsa.RSAPrivateKey):
        pkcs1v15, sha256 = padding.PKCS1v15(), hashes.SHA256()  # RFC 7518 §3.3
        return lambda signing_input: private_key.sign(signing_input, pkcs1v15, sha256)
    if algorithm == "ES256" and isinstance(private_key, ec.EllipticCurvePrivateKey):
        ecdsa = ec.ECDSA(hashes.SHA256())

        def sign_es256(signing_input: bytes) -> bytes:
            r, s = decode_dss_signature(private_key.sign(signing_input, ecdsa))
            return r.to_bytes(P256_COORDINATE_BYTES, "big") + s.to_bytes(
                P256_COORDINATE_BYTES, "big"
            )

        return sign_es256
    raise ValueError(f"a {type(private_key).__name__} cannot sign {algorithm}")


def b64url(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")
