"""The require_token decorator answers the RFC 6750 §3 way and hands views the claims."""

from __future__ import annotations

import pytest
from flask import Flask, g, jsonify
from validator_support import AUDIENCE, ISSUER, default_claims, mint_token

from tokenidp_validator import ValidatorConfigError
from tokenidp_validator.flask import init_app, require_token


@pytest.fixture
def app(jwks_client):
    app = Flask(__name__)
    init_app(app, issuer=ISSUER, jwks_client=jwks_client, audience=AUDIENCE)

    @app.get("/orders")
    @require_token(scopes=["orders.read"])
    def orders():
        return jsonify(sub=g.access_token.subject, scopes=sorted(g.access_token.scopes))

    @app.get("/billing")
    @require_token(audience="billing-api")
    def billing():
        return jsonify(ok=True)

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def test_missing_token_is_401_with_a_bare_bearer_challenge(client):
    response = client.get("/orders")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert set(response.json) == {"error", "error_description"}


def test_other_scheme_is_treated_as_no_token(client):
    response = client.get("/orders", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, "Bearer")


def test_bad_token_is_401_invalid_token_with_description(client, rsa_signer):
    token = mint_token(rsa_signer, claims=default_claims(exp=1, iat=0))
    response = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="the token has expired"'
    )
    assert response.json == {"error": "invalid_token", "error_description": "the token has expired"}


def test_description_never_breaks_the_challenge_quoting(client, rsa_signer):
    token = mint_token(rsa_signer, header={"alg": 'RS"\\256'})
    response = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    challenge = response.headers["WWW-Authenticate"]
    description = challenge.split('error_description="', 1)[1]
    assert description.count('"') == 1 and description.endswith('"')
    assert "\\" not in description


def test_malformed_authorization_header_is_400_invalid_request(client):
    response = client.get("/orders", headers={"Authorization": "Bearer"})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_missing_scope_is_403_insufficient_scope(client, rsa_signer):
    token = mint_token(rsa_signer, claims=default_claims(scope="orders.write"))
    response = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert challenge.endswith('scope="orders.read"')
    assert response.json["error"] == "insufficient_scope"


def test_valid_token_reaches_the_view_with_claims_on_g(client, rsa_signer, ec_signer):
    for signer in (rsa_signer, ec_signer):
        token = mint_token(signer)
        response = client.get("/orders", headers={"Authorization": f"bearer {token}"})
        assert response.status_code == 200
        assert response.json == {"sub": "client-42", "scopes": ["orders.read", "orders.write"]}


def test_audience_on_the_decorator_overrides_the_app_default(client, rsa_signer):
    ours = mint_token(rsa_signer)
    billing = mint_token(rsa_signer, claims=default_claims(aud="billing-api"))
    assert client.get("/billing", headers={"Authorization": f"Bearer {ours}"}).status_code == 401
    assert client.get("/billing", headers={"Authorization": f"Bearer {billing}"}).status_code == 200


def test_unreachable_issuer_before_first_fetch_is_503_not_401(client, jwks_server, rsa_signer):
    jwks_server.stub.mode = "unavailable"
    token = mint_token(rsa_signer)
    response = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.json["error"] == "temporarily_unavailable"
    assert "WWW-Authenticate" not in response.headers


def test_keys_older_than_the_max_staleness_are_503_with_retry_after(
    client, jwks_server, jwks_client, clock, rsa_signer
):
    token = mint_token(rsa_signer)
    assert client.get("/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    jwks_server.stub.mode = "unavailable"
    clock.advance(jwks_client.max_staleness_seconds + 1)
    response = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.json == {
        "error": "temporarily_unavailable",
        "error_description": "the issuer's signing keys are unavailable",
    }
    assert response.headers["Retry-After"] == "30"
    assert "WWW-Authenticate" not in response.headers


def test_outcomes_are_counted_on_the_client_metrics(client, jwks_client, rsa_signer):
    client.get("/orders")
    client.get("/orders", headers={"Authorization": f"Bearer {mint_token(rsa_signer)}"})
    assert jwks_client.metrics.snapshot()["validations"] == {"missing/no_token": 1, "valid/ok": 1}


def test_decorator_without_init_app_says_what_to_call():
    app = Flask(__name__)

    @app.get("/")
    @require_token(audience=AUDIENCE)
    def index():
        return "never"

    with app.test_request_context("/"), pytest.raises(ValidatorConfigError, match="init_app"):
        index()
