"""Discovery and JWKS: rendered once, cacheable, and exactly the keys that should be trusted."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

from cryptography.hazmat.primitives import serialization
from idp_support import ISSUER

from app import create_app
from app.documents import DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_jwks_publishes_the_signing_certificate(client, signing_certificate):
    response = client.get(JWKS_PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    [entry] = response.get_json()["keys"]
    der = signing_certificate.certificate.public_bytes(serialization.Encoding.DER)
    numbers = signing_certificate.certificate.public_key().public_numbers()
    assert entry["kid"] == signing_certificate.thumbprint
    assert (entry["kty"], entry["use"], entry["alg"], entry["e"]) == ("RSA", "sig", "RS256", "AQAB")
    assert entry["n"] == _b64url(numbers.n.to_bytes(256, "big"))
    assert entry["x5c"] == [base64.b64encode(der).decode()]
    assert entry["x5t"] == _b64url(hashlib.sha1(der).digest())
    assert entry["x5t#S256"] == _b64url(hashlib.sha256(der).digest())
    assert "d" not in entry and "p" not in entry


def test_ec_keys_are_published_with_their_curve(store, config_dir, ec_key):
    added = store.add(key=ec_key, subject="CN=ec", file_format="pem")
    client = create_app(
        store.settings(config_dir, CertificateThumbprint=added.thumbprint)
    ).test_client()
    [entry] = client.get(JWKS_PATH).get_json()["keys"]
    assert (entry["kty"], entry["crv"], entry["alg"]) == ("EC", "P-256", "ES256")
    assert len(base64.urlsafe_b64decode(entry["x"] + "=")) == 32
    assert "d" not in entry


def test_documents_carry_cache_control_and_a_strong_etag(client):
    for path in (JWKS_PATH, DISCOVERY_PATH):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "public, max-age=300"
        etag = response.headers["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.data == b""
        assert again.headers["ETag"] == etag
        assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_discovery_names_the_issuer_endpoints_and_jwks(client):
    discovery = client.get(DISCOVERY_PATH).get_json()
    assert discovery["issuer"] == ISSUER
    assert discovery["jwks_uri"] == f"{ISSUER}{JWKS_PATH}"
    assert discovery["token_endpoint"] == f"{ISSUER}{TOKEN_PATH}"
    assert discovery["grant_types_supported"] == [
        "client_credentials",
        "authorization_code",
        "refresh_token",
    ]
    assert discovery["scopes_supported"] == [
        "email",
        "offline_access",
        "openid",
        "orders.read",
        "orders.write",
        "profile",
    ]


def test_jwks_uri_can_point_at_the_cdn(store, config_dir, signing_certificate):
    settings = store.settings(
        config_dir,
        CertificateThumbprint=signing_certificate.thumbprint,
        JwksUri="https://keys.example.test/.well-known/jwks.json",
        JwksCacheMaxAge="60",
    )
    client = create_app(settings).test_client()
    response = client.get(DISCOVERY_PATH)
    assert response.get_json()["jwks_uri"] == "https://keys.example.test/.well-known/jwks.json"
    assert response.headers["Cache-Control"] == "public, max-age=60"


def test_next_and_retired_certificates_are_published_but_never_sign(
    store, config_dir, rsa_key, other_rsa_key, ec_key
):
    now = dt.datetime.now(dt.UTC)
    retired = store.add(
        key=other_rsa_key, subject="CN=old", not_before=now - dt.timedelta(days=200)
    )
    current = store.add(key=rsa_key, subject="CN=current", not_before=now - dt.timedelta(days=10))
    upcoming = store.add(key=ec_key, subject="CN=next", file_format="pem")
    settings = store.settings(
        config_dir,
        CertificateThumbprint=current.thumbprint,
        AdditionalValidationCertificates=f"{upcoming.thumbprint},{retired.thumbprint.lower()}",
    )
    app = create_app(settings)
    kids = [entry["kid"] for entry in app.test_client().get(JWKS_PATH).get_json()["keys"]]
    assert kids == sorted([current.thumbprint, upcoming.thumbprint, retired.thumbprint])
    roles = {key.kid: key.role for key in app.extensions["tokenidp"].keyring.keys}
    assert roles == {
        current.thumbprint: "signing",
        upcoming.thumbprint: "next",
        retired.thumbprint: "retired",
    }


def test_a_revoked_certificate_is_never_published(store, config_dir, rsa_key, other_rsa_key):
    current = store.add(key=rsa_key, subject="CN=current")
    compromised = store.add(key=other_rsa_key, subject="CN=compromised")
    settings = store.settings(
        config_dir,
        CertificateThumbprint=current.thumbprint,
        AdditionalValidationCertificates=compromised.thumbprint,
        RevokedCertificateThumbprints=compromised.thumbprint,
    )
    keys = create_app(settings).test_client().get(JWKS_PATH).get_json()["keys"]
    assert [entry["kid"] for entry in keys] == [current.thumbprint]


def test_documents_are_rendered_once_not_per_request(app):
    precomputed = app.extensions["tokenidp"].documents.jwks.body
    for _ in range(2):
        assert app.test_client().get(JWKS_PATH).data is precomputed


# OpenID Connect Discovery 1.0 §3 and RFC 8414 §2: the members each marks REQUIRED.
OIDC_DISCOVERY_REQUIRED = {
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
}
RFC8414_REQUIRED = {
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "response_types_supported",
}
AUTHORIZATION_ENDPOINT_GRANTS = {"authorization_code", "implicit"}


def test_discovery_holds_every_member_both_specifications_require(client):
    discovery = client.get(DISCOVERY_PATH).get_json()
    grants = set(discovery["grant_types_supported"])
    for member in sorted(OIDC_DISCOVERY_REQUIRED | RFC8414_REQUIRED):
        if member == "authorization_endpoint" and not grants & AUTHORIZATION_ENDPOINT_GRANTS:
            continue  # RFC 8414 §2: required unless no grant type uses the endpoint
        assert member in discovery, f"discovery lacks {member}"
    assert isinstance(discovery["response_types_supported"], list)
    assert discovery["subject_types_supported"] == ["public"]
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]


def test_discovery_and_jwks_answer_cors_requests_from_any_origin(client):
    for path in (DISCOVERY_PATH, JWKS_PATH):
        response = client.get(path, headers={"Origin": "https://spa.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]
        not_modified = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
        assert not_modified.status_code == 304
        assert not_modified.headers["Access-Control-Allow-Origin"] == "*"
        preflight = client.options(
            path,
            headers={
                "Origin": "https://spa.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "if-none-match",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
        assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
        assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]


def test_the_token_endpoint_never_answers_cors(client, basic_auth):
    origin = {"Origin": "https://spa.example"}
    issued = client.post(
        TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=basic_auth, headers=origin
    )
    refused = client.post(TOKEN_PATH, data={"grant_type": "client_credentials"}, headers=origin)
    preflight = client.options(
        TOKEN_PATH, headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert (issued.status_code, refused.status_code, preflight.status_code) == (200, 401, 405)
    for response in (issued, refused, preflight):
        assert not any(name.startswith("Access-Control-") for name in response.headers.keys())
