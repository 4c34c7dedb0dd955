"""RFC 7009 revocation: a client revokes its own access tokens until they expire; anything
else (another client's token, an invalid one) is answered 200 and revokes nothing."""

from __future__ import annotations

import time

import pytest
from idp_support import CLIENT_ID, CLIENT_SECRET
from revocation_support import (
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    UNREACHABLE_DATABASE,
    Idp,
    claims_of,
    header_of,
    idp_environ,
    signed_token,
)

from app.documents import REVOCATION_PATH

ADAPTERS = ["wsgi", "asgi"]


@pytest.fixture
def environ(store, config_dir, signing_certificate, database_url):
    return idp_environ(
        store, config_dir, database_url, CertificateThumbprint=signing_certificate.thumbprint
    )


@pytest.fixture
def idp(environ, config_dir):
    return Idp(environ, config_dir)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_client_revokes_its_own_token_until_the_token_expires(environ, config_dir, adapter):
    idp = Idp(environ, config_dir, adapter=adapter)
    token = idp.issue()
    answer = idp.revoke(token)
    assert answer.status == 200
    assert answer.body == b""
    assert answer.headers["cache-control"] == "no-store"
    assert not idp.is_active(token)
    claims = claims_of(token)
    [rule] = idp.rules()
    assert (rule["kind"], rule["value"], rule["issued_before"]) == ("jti", claims["jti"], None)
    assert rule["expires_at"] == claims["exp"]
    [event] = idp.audit("token.revoked")
    assert event["jti"] == claims["jti"]
    assert event["client_id"] == CLIENT_ID
    assert event["kid"] == header_of(token)["kid"]
    assert event["address"] == "127.0.0.1"


def test_revoking_one_token_leaves_the_clients_other_tokens_active(idp):
    token, sibling = idp.issue(), idp.issue()
    idp.revoke(token)
    assert not idp.is_active(token)
    assert idp.is_active(sibling)


def test_another_clients_token_is_answered_200_and_not_revoked(idp):
    token = idp.issue()
    answer = idp.revoke(token, auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
    assert answer.status == 200
    assert answer.body == b""
    assert idp.is_active(token)
    assert idp.rules() == []
    assert idp.audit("token.revoked") == []


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c", "opaque-refresh-token-value"])
def test_an_invalid_token_is_answered_200_and_revokes_nothing(idp, token):
    answer = idp.revoke(token)
    assert answer.status == 200
    assert idp.rules() == []


def test_an_expired_token_is_answered_200_and_revokes_nothing(environ, config_dir):
    expired = Idp(environ, config_dir, clock=lambda: time.time() - 7200).issue()
    idp = Idp(environ, config_dir)
    assert idp.revoke(expired).status == 200
    assert idp.rules() == []


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "no_such_type"])
def test_any_token_type_hint_is_ignored_and_the_access_token_revoked(idp, hint):
    """RFC 7009 §2.1: a hint that does not find the token extends the search to every type."""
    token = idp.issue()
    answer = idp.revoke(token, token_type_hint=hint)
    assert answer.status == 200
    assert not idp.is_active(token)


def test_revocation_requires_client_authentication(idp):
    token = idp.issue()
    answer = idp.revoke(token, auth=(CLIENT_ID, "wrong secret"))
    assert answer.status == 401
    assert answer.json()["error"] == "invalid_client"
    assert idp.post(REVOCATION_PATH, {"token": token}, auth=None).status == 401
    assert idp.is_active(token)
    assert len(idp.audit("client.authentication_failed")) == 2


def test_revocation_without_a_token_is_invalid_request(idp):
    answer = idp.post(REVOCATION_PATH, {}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_request"


def test_revocation_answers_only_post(idp):
    response = idp.flask_app.test_client().get(REVOCATION_PATH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_revocation_that_cannot_be_recorded_is_503(
    store, config_dir, signing_certificate, adapter
):
    environ = idp_environ(
        store,
        config_dir,
        UNREACHABLE_DATABASE,
        CertificateThumbprint=signing_certificate.thumbprint,
    )
    idp = Idp(environ, config_dir, adapter=adapter)
    token = signed_token(signing_certificate.private_key, kid=signing_certificate.thumbprint)
    answer = idp.revoke(token)
    assert answer.status == 503
    assert answer.json()["error"] == "temporarily_unavailable"
