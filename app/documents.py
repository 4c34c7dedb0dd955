"""Discovery and JWKS documents: rendered once per key change, shared with the publisher.

Pure functions of settings and keyring. The bytes are deterministic (sorted keys, fixed
separators) because the publisher compares and hashes them, and validators cache by ETag.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.config import Settings
from app.keys.keyring import Keyring, KeyringKey
from app.oauth.grant_types import GRANT_TYPE_NAMES, RESPONSE_TYPES
from app.oauth.subjects import CLAIMS_SUPPORTED, OPENID_SCOPES

JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
TOKEN_PATH = "/connect/token"
INTROSPECTION_PATH = "/connect/introspect"
REVOCATION_PATH = "/connect/revocation"
USERINFO_PATH = "/connect/userinfo"
AUTHORIZATION_PATH = "/connect/authorize"
END_SESSION_PATH = "/connect/endsession"
# How clients authenticate at the token, introspection and revocation endpoints alike.
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# At the token endpoint a public client also names itself by client_id alone (its grants
# bind what they redeem to it: PKCE, refresh token rotation).
TOKEN_ENDPOINT_AUTH_METHODS = (*CLIENT_AUTH_METHODS, "none")
CODE_CHALLENGE_METHODS = ("S256",)  # RFC 7636 §4.2: plain is refused


@dataclass(frozen=True)
class Document:
    """A published document: exact bytes plus the headers every copy must carry."""

    path: str
    body: bytes
    content_type: str
    cache_control: str

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def etag(self) -> str:
        """A strong ETag derived from the bytes, so every instance and the CDN agree."""
        return f'"{self.sha256_hex[:32]}"'


@dataclass(frozen=True)
class Documents:
    jwks: Document
    discovery: Document

    def __iter__(self):  # noqa: ANN204 - iterate in publication order: JWKS first
        return iter((self.jwks, self.discovery))


def render_documents(settings: Settings, keyring: Keyring) -> Documents:
    """Both well-known documents, JWKS first (the order they must be published in)."""
    cache_control = f"public, max-age={settings.token.jwks_cache_max_age_seconds}"
    return Documents(
        jwks=Document(JWKS_PATH, render_jwks(keyring), "application/json", cache_control),
        discovery=Document(
            DISCOVERY_PATH, render_discovery(settings, keyring), "application/json", cache_control
        ),
    )


def render_jwks(keyring: Keyring) -> bytes:
    """The JWK Set (RFC 7517 §5): every published key, signing key first; never a revoked one."""
    keys = [public_jwk(key) for key in keyring.keys if key.kid not in keyring.revoked_kids]
    return canonical_json({"keys": keys})


def render_discovery(settings: Settings, keyring: Keyring) -> bytes:
    """OpenID Provider (Discovery 1.0 §3) and RFC 8414 §2 metadata for what this IdP implements.

    `response_types_supported` lists the authorization endpoint's response types (`code`).
    Introspection (RFC 7662) and revocation (RFC 7009) authenticate clients as the token
    endpoint does, public clients excepted. The signing algorithms are those of every
    published key, so a client accepts the next key's algorithm before it signs. Scopes:
    the OpenID Connect ones and every configured client's (database clients are not read
    here: the document must be the same bytes the publisher renders without a request).
    """
    issuer = settings.token.issuer
    scopes = sorted(
        {scope for client in settings.clients for scope in client.allowed_scopes}.union(
            OPENID_SCOPES
        )
    )
    return canonical_json(
        {
            "issuer": issuer,
            "jwks_uri": settings.token.jwks_uri,
            "authorization_endpoint": f"{issuer}{AUTHORIZATION_PATH}",
            "token_endpoint": f"{issuer}{TOKEN_PATH}",
            "userinfo_endpoint": f"{issuer}{USERINFO_PATH}",
            "end_session_endpoint": f"{issuer}{END_SESSION_PATH}",
            "grant_types_supported": list(GRANT_TYPE_NAMES),
            "response_types_supported": list(RESPONSE_TYPES),
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": list(CODE_CHALLENGE_METHODS),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted(
                {key.algorithm for key in keyring.keys}
            ),
            "claims_supported": list(CLAIMS_SUPPORTED),
            "token_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
            "introspection_endpoint": f"{issuer}{INTROSPECTION_PATH}",
            "introspection_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
            "revocation_endpoint": f"{issuer}{REVOCATION_PATH}",
            "revocation_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
            "scopes_supported": scopes,
        }
    )


def public_jwk(key: KeyringKey) -> dict[str, Any]:
    """A JWK with the certificate: x5c is base64 DER, x5t/x5t#S256 base64url (RFC 7517 §4.6-4.9)."""
    der = key.certificate.public_bytes(serialization.Encoding.DER)
    public_key = key.certificate.public_key()
    entry: dict[str, Any] = {"kid": key.kid, "use": "sig", "alg": key.algorithm}
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        entry.update(kty="RSA", n=_b64url_uint(numbers.n), e=_b64url_uint(numbers.e))
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        numbers = public_key.public_numbers()
        size = (public_key.curve.key_size + 7) // 8
        entry.update(
            kty="EC",
            crv="P-256",
            x=_b64url(numbers.x.to_bytes(size, "big")),
            y=_b64url(numbers.y.to_bytes(size, "big")),
        )
    entry["x5c"] = [base64.b64encode(der).decode()]
    entry["x5t"] = _b64url(hashlib.sha1(der).digest())  # noqa: S324 - RFC 7517 §4.8 names SHA-1
    entry["x5t#S256"] = _b64url(hashlib.sha256(der).digest())
    return entry


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_uint(value: int) -> str:
    return _b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))
