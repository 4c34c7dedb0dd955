"""UserInfo (OpenID Connect Core §5.3): the person's claims for a Bearer access token from
the header or a POST form; RFC 6750 errors for no token, a bad, revoked or foreign-key
token, a token without openid, and a disabled user. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from asgi_support import asgi_request
from grants_support import (
    USER_EMAIL,
    USER_NAME,
    USER_SUBJECT,
    code_flow_tokens,
)
from idp_support import invoke_tokenidp
from revocation_support import Idp, claims_of
from sqlalchemy import update

from app.documents import USERINFO_PATH
from app.keys.records import record_observations
from app.storage.schema import users


def userinfo(idp, token: str | None, *, method: str = "GET", form: dict | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    client = idp.flask_app.test_client()
    return client.open(USERINFO_PATH, method=method, headers=headers, data=form)


def test_a_bearer_token_in_the_header_gets_the_persons_claims(idp, web_secret, clock):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    response = userinfo(idp, tokens["access_token"])
    assert response.status_code == 200, response.data
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "sub": USER_SUBJECT,
        "name": USER_NAME,
        "email": USER_EMAIL,
        "email_verified": True,
    }
    assert response.get_json()["sub"] == claims_of(tokens["id_token"])["sub"]


def test_a_post_with_the_token_in_the_form_and_the_asgi_adapter_agree(idp, web_secret, clock):
    token = code_flow_tokens(idp, web_secret, now=clock())["access_token"]
    by_form = userinfo(idp, None, method="POST", form={"access_token": token})
    by_asgi = asgi_request(
        idp.application, "GET", USERINFO_PATH, headers={"Authorization": f"Bearer {token}"}
    )
    assert by_form.status_code == by_asgi.status == 200
    assert by_form.get_json() == by_asgi.json()


@pytest.mark.parametrize(
    ("scopes", "claims"),
    [
        (("openid",), {"sub"}),
        (("openid", "profile"), {"sub", "name"}),
        (("openid", "email"), {"sub", "email", "email_verified"}),
    ],
)
def test_the_claims_follow_the_tokens_scopes(idp, web_secret, clock, scopes, claims):
    token = code_flow_tokens(idp, web_secret, now=clock(), scopes=scopes)["access_token"]
    assert set(userinfo(idp, token).get_json()) == claims


def test_no_token_gets_a_bare_bearer_challenge(idp):
    response = userinfo(idp, None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="tokenidp"'
    assert response.get_json()["error"] == "invalid_request"


def test_a_token_sent_two_ways_is_an_invalid_request(idp, web_secret, clock):
    token = code_flow_tokens(idp, web_secret, now=clock())["access_token"]
    response = userinfo(idp, token, method="POST", form={"access_token": token})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="tokenidp", error="invalid_token"')


def test_a_malformed_token_is_invalid_token(idp):
    assert_invalid_token(userinfo(idp, "not.a.token"))


def test_a_token_without_openid_is_insufficient_scope(idp, web_secret, clock):
    token = code_flow_tokens(idp, web_secret, now=clock(), scopes=("orders.read",))["access_token"]
    response = userinfo(idp, token)
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_a_revoked_token_is_invalid_token(idp, environ, web_secret, clock):
    token = code_flow_tokens(idp, web_secret, now=clock())["access_token"]
    result = invoke_tokenidp("tokens", "revoke", "--jti", claims_of(token)["jti"], environ=environ)
    assert result.exit_code == 0, result.output
    assert_invalid_token(userinfo(idp, token))


def test_an_expired_token_is_invalid_token(idp, web_secret, clock):
    token = code_flow_tokens(idp, web_secret, now=clock())["access_token"]
    clock.advance(3600)
    assert_invalid_token(userinfo(idp, token))


def test_a_disabled_user_is_invalid_token(idp, web_secret, clock):
    token = code_flow_tokens(idp, web_secret, now=clock())["access_token"]
    with idp.services.storage.transaction() as work:
        work.execute(update(users).values(disabled_at=int(clock())))
    assert_invalid_token(userinfo(idp, token))


def test_a_token_signed_by_a_revoked_key_is_invalid_token(
    store, config_dir, environ, idp, web_secret, other_rsa_key, signing_certificate, clock
):
    token = code_flow_tokens(idp, web_secret, now=clock())["access_token"]
    replacement = store.add(key=other_rsa_key, subject="CN=replacement").thumbprint
    with idp.services.storage.transaction() as work:
        record_observations(
            work,
            [replacement],
            now=int(clock()) - 7200,
            observed_by="publisher",
            jwks_uri=idp.services.settings.token.jwks_uri,
        )
    after_rollover = Idp(
        {
            **environ,
            "TokenOptions__CertificateThumbprint": replacement,
            "TokenOptions__RevokedCertificateThumbprints": signing_certificate.thumbprint,
        },
        config_dir,
        clock=clock,
    )
    assert_invalid_token(userinfo(after_rollover, token))


def test_other_methods_are_refused_with_allow(idp):
    response = idp.flask_app.test_client().put(USERINFO_PATH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
