"""The client_credentials grant: RFC 9068 tokens, and an OAuth JSON error for every failure."""

from __future__ import annotations

import base64
import json

import pytest
from idp_support import AUDIENCE, CLIENT_ID, CLIENT_SECRET, ISSUER, client_environ
from jose import jwk, jws

from app import create_app
from app.config import load_config
from app.documents import TOKEN_PATH


def _decode_segment(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _basic(client_id: str, secret: str) -> dict:
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def test_client_secret_basic_gets_an_rfc9068_access_token(client, signing_certificate):
    response = client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "scope": "orders.read"},
        headers=_basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "orders.read"
    header_segment, claims_segment, _ = body["access_token"].split(".")
    header = _decode_segment(header_segment)
    assert header == {"alg": "RS256", "kid": signing_certificate.thumbprint, "typ": "at+jwt"}
    claims = _decode_segment(claims_segment)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == CLIENT_ID
    assert claims["client_id"] == CLIENT_ID
    assert claims["scope"] == "orders.read"
    assert claims["exp"] - claims["iat"] == 3600
    assert len(claims["jti"]) >= 16
    public_key = jwk.construct(signing_certificate.certificate.public_key(), "RS256")
    assert jws.verify(body["access_token"], public_key, algorithms=["RS256"])


def test_client_secret_post_is_accepted(client):
    response = client.post(
        TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert response.status_code == 200
    assert response.get_json()["scope"] == "orders.read orders.write"


def test_each_token_has_its_own_jti(client):
    def jti() -> str:
        response = client.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers=_basic(CLIENT_ID, CLIENT_SECRET),
        )
        return _decode_segment(response.get_json()["access_token"].split(".")[1])["jti"]

    assert jti() != jti()


def test_basic_credentials_are_form_urlencoded_first(store, config_dir, signing_certificate):
    """RFC 6749 §2.3.1: a secret with ':' or '%' survives Basic authentication."""
    environ = store.environ(CertificateThumbprint=signing_certificate.thumbprint)
    environ.update(client_environ("odd:client", "p%ss:word+", index=0))
    client = create_app(load_config(environ, config_dir=config_dir)).test_client()
    response = client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        headers=_basic("odd%3Aclient", "p%25ss%3Aword%2B"),
    )
    assert response.status_code == 200, response.get_json()


def test_either_of_two_secrets_works_during_secret_rotation(store, config_dir, signing_certificate):
    environ = store.environ(CertificateThumbprint=signing_certificate.thumbprint)
    second = client_environ(secret="the new secret")["Clients__0__ClientSecrets__0__Value"]
    environ["Clients__0__ClientSecrets__1__Value"] = second
    client = create_app(load_config(environ, config_dir=config_dir)).test_client()
    for secret in (CLIENT_SECRET, "the new secret"):
        response = client.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers=_basic(CLIENT_ID, secret),
        )
        assert response.status_code == 200


BAD_REQUESTS = [
    (
        "wrong secret",
        {"grant_type": "client_credentials"},
        _basic(CLIENT_ID, "nope"),
        401,
        "invalid_client",
    ),
    (
        "unknown client",
        {"grant_type": "client_credentials"},
        _basic("stranger", CLIENT_SECRET),
        401,
        "invalid_client",
    ),
    ("no client authentication", {"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
    (
        "malformed basic",
        {"grant_type": "client_credentials"},
        {"Authorization": "Basic %%%"},
        401,
        "invalid_client",
    ),
    (
        "bearer instead of basic",
        {"grant_type": "client_credentials"},
        {"Authorization": "Bearer abc"},
        401,
        "invalid_client",
    ),
    (
        "two authentication methods",
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        _basic(CLIENT_ID, CLIENT_SECRET),
        400,
        "invalid_request",
    ),
    ("missing grant_type", {}, _basic(CLIENT_ID, CLIENT_SECRET), 400, "invalid_request"),
    (
        "unsupported grant",
        {"grant_type": "password"},
        _basic(CLIENT_ID, CLIENT_SECRET),
        400,
        "unsupported_grant_type",
    ),
    (
        "scope not allowed",
        {"grant_type": "client_credentials", "scope": "orders.read admin"},
        _basic(CLIENT_ID, CLIENT_SECRET),
        400,
        "invalid_scope",
    ),
]


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_token_requests_get_oauth_json_errors(client, form, headers, status, error):
    response = client.post(TOKEN_PATH, data=form, headers=headers)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == error
    assert body["error_description"]
    assert "access_token" not in body
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_repeated_parameter_is_refused(client):
    response = client.post(
        TOKEN_PATH,
        data="grant_type=client_credentials&scope=orders.read&scope=orders.write",
        headers={
            **_basic(CLIENT_ID, CLIENT_SECRET),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "scope" in response.get_json()["error_description"]


def test_a_json_body_is_refused(client):
    response = client.post(
        TOKEN_PATH,
        json={"grant_type": "client_credentials"},
        headers=_basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_get_on_the_token_endpoint_is_a_json_405(client):
    response = client.get(TOKEN_PATH)
    assert response.status_code == 405
    assert response.get_json()["error"] == "invalid_request"
    assert "POST" in response.headers["Allow"]


def test_unknown_paths_are_json_404s(client):
    response = client.get("/admin")
    assert response.status_code == 404
    assert response.get_json()["error"] == "invalid_request"


def test_an_unsupported_grant_in_the_configuration_refuses_start(
    store, config_dir, signing_certificate
):
    environ = store.environ(CertificateThumbprint=signing_certificate.thumbprint)
    environ["Clients__0__AllowedGrantTypes__0"] = "password"
    with pytest.raises(Exception, match="AllowedGrantTypes"):
        create_app(load_config(environ, config_dir=config_dir))


def test_a_client_not_allowed_the_grant_is_unauthorized(client):
    response = client.post(
        TOKEN_PATH,
        data={"grant_type": "authorization_code", "code": "c", "redirect_uri": "https://a/cb"},
        headers=_basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_ec_certificates_sign_es256(store, config_dir, ec_key):
    added = store.add(key=ec_key, subject="CN=ec signing", file_format="pem")
    client = create_app(
        store.settings(config_dir, CertificateThumbprint=added.thumbprint)
    ).test_client()
    token = client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        headers=_basic(CLIENT_ID, CLIENT_SECRET),
    ).get_json()["access_token"]
    assert _decode_segment(token.split(".")[0])["alg"] == "ES256"
    public_key = jwk.construct(added.certificate.public_key(), "ES256")
    assert jws.verify(token, public_key, algorithms=["ES256"])


def test_the_token_lifetime_comes_from_configuration(store, config_dir, signing_certificate):
    settings = store.settings(
        config_dir, CertificateThumbprint=signing_certificate.thumbprint, AccessTokenLifetime="300"
    )
    client = create_app(settings, clock=lambda: 1_800_000_000.0).test_client()
    body = client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        headers=_basic(CLIENT_ID, CLIENT_SECRET),
    ).get_json()
    claims = _decode_segment(body["access_token"].split(".")[1])
    assert (claims["iat"], claims["exp"], body["expires_in"]) == (1_800_000_000, 1_800_000_300, 300)


def test_a_client_id_that_differs_from_basic_credentials_is_refused(client):
    response = client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_id": "someone-else"},
        headers=_basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
