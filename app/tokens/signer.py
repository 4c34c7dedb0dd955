"""Signing access tokens with the keyring's prebuilt key: the kid is the certificate thumbprint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jose import jws

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1


def sign_access_token(claims: Mapping[str, Any], *, signer: Any, kid: str, algorithm: str) -> str:
    """A compact JWS with header `typ: at+jwt`; `signer` is a python-jose key built once."""
    return jws.sign(
        dict(claims), signer, headers={"kid": kid, "typ": ACCESS_TOKEN_TYPE}, algorithm=algorithm
    )
