"""RP-initiated logout: a hint verified against every published key (a retired key's
hint works, a revoked key's and a forged one's do not, `exp` is ignored), a registered
post_logout_redirect_uri with the state, the session cookie cleared, and a confirmation
form with a CSRF token when there is no hint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from idp_support import ISSUER
from jose import jwt
from people_support import (
    LOGOUT_URI,
    PUBLIC_CLIENT,
    add_test_user,
    audit_events_named,
    authorization_parameters,
    form_fields,
    open_test_storage,
    redirect_query,
    register_web_clients,
)

from app import create_app
from app.config import load_config
from app.oauth.authorize import AUTHORIZE_PATH
from app.oauth.endsession import END_SESSION_PATH


@pytest.fixture
def retired(store, other_rsa_key):
    return store.add(key=other_rsa_key, subject="CN=tokenidp signing 2025, O=Example")


@pytest.fixture
def revoked(store, ec_key):
    return store.add(key=ec_key, subject="CN=tokenidp leaked, O=Example")


@pytest.fixture
def storage(environ, config_dir):
    storage = open_test_storage(environ["TOKENIDP_DATABASE_URL"], config_dir)
    register_web_clients(storage)
    yield storage
    storage.engine.dispose()


@pytest.fixture
def subject(storage):
    return add_test_user(storage)


@pytest.fixture
def browser(environ, config_dir, storage, subject, retired, revoked):
    environ = {
        **environ,
        "TokenOptions__AdditionalValidationCertificates": retired.thumbprint,
        "TokenOptions__RevokedCertificateThumbprints": revoked.thumbprint,
    }
    return create_app(load_config(environ, config_dir=config_dir)).test_client()


def id_token(certificate, subject: str, *, algorithm: str = "RS256", **claims) -> str:
    """An ID token as the IdP signs one (OpenID Connect Core §2), long expired."""
    now = int(time.time())
    pem = certificate.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    body = {
        "iss": ISSUER,
        "sub": subject,
        "aud": PUBLIC_CLIENT,
        "iat": now - 7200,
        "exp": now - 3600,
        **claims,
    }
    return jwt.encode(
        body, pem.decode(), algorithm=algorithm, headers={"kid": certificate.thumbprint}
    )


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_in(browser) -> None:
    page = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters())
    _, fields = form_fields(page.text)
    response = browser.post(
        AUTHORIZE_PATH,
        data={**fields, "username": "alice", "password": "correct horse battery staple 2026"},
    )
    assert response.status_code == 303


def session_cleared(response) -> bool:
    return any(
        value.startswith("tokenidp_session=;") and "Expires=Thu, 01 Jan 1970" in value
        for value in response.headers.getlist("Set-Cookie")
    )


def test_an_expired_hint_signs_out_and_redirects_to_the_registered_uri_with_state(
    browser, signing_certificate, subject, storage
):
    signed_in(browser)
    response = browser.get(
        END_SESSION_PATH,
        query_string={
            "id_token_hint": id_token(signing_certificate, subject),
            "post_logout_redirect_uri": LOGOUT_URI,
            "state": "bye-1",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"{LOGOUT_URI}?state=bye-1"
    assert session_cleared(response)
    [event] = audit_events_named(storage, "user.signed_out")
    assert (event["subject"], event["client_id"]) == (subject, PUBLIC_CLIENT)
    after = browser.get(AUTHORIZE_PATH, query_string=authorization_parameters(prompt="none"))
    assert redirect_query(after.headers["Location"])["error"] == "login_required"


def test_a_hint_signed_by_a_retired_published_key_still_works(browser, retired, subject):
    response = browser.get(
        END_SESSION_PATH,
        query_string={
            "id_token_hint": id_token(retired, subject),
            "post_logout_redirect_uri": LOGOUT_URI,
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == LOGOUT_URI


def test_a_hint_signed_by_a_revoked_key_is_refused(browser, revoked, subject):
    response = browser.get(
        END_SESSION_PATH,
        query_string={
            "id_token_hint": id_token(revoked, subject, algorithm="ES256"),
            "post_logout_redirect_uri": LOGOUT_URI,
        },
    )
    assert response.status_code == 400 and "Location" not in response.headers
    assert "not issued by this sign-in service" in response.text


@pytest.mark.parametrize("forgery", ["tampered", "hmac with the public key", "other issuer"])
def test_a_forged_hint_is_refused(browser, signing_certificate, subject, forgery):
    if forgery == "tampered":
        header, payload, signature = id_token(signing_certificate, subject).split(".")
        other = id_token(signing_certificate, "someone-else").split(".")[1]
        hint = f"{header}.{other}.{signature}"
    elif forgery == "hmac with the public key":
        public_pem = signing_certificate.certificate.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # CVE-2026-85394's shape: the public key as an HMAC secret (jose refuses to sign it).
        header = b64(json.dumps({"alg": "HS256", "kid": signing_certificate.thumbprint}))
        payload = b64(json.dumps({"iss": ISSUER, "sub": subject, "aud": PUBLIC_CLIENT}))
        mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        hint = f"{header}.{payload}.{b64(mac)}"
    else:
        hint = id_token(signing_certificate, subject, iss="https://evil.example")
    response = browser.get(
        END_SESSION_PATH,
        query_string={"id_token_hint": hint, "post_logout_redirect_uri": LOGOUT_URI},
    )
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize(
    "uri",
    ["https://evil.example/signed-out", LOGOUT_URI + "/", "https://app.example.test/callback"],
)
def test_an_unregistered_post_logout_redirect_uri_gets_a_page(
    browser, signing_certificate, subject, uri
):
    response = browser.get(
        END_SESSION_PATH,
        query_string={
            "id_token_hint": id_token(signing_certificate, subject),
            "post_logout_redirect_uri": uri,
        },
    )
    assert response.status_code == 400 and "Location" not in response.headers
    assert "not registered" in response.text
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_redirect_uri_without_a_hint_gets_a_page(browser):
    response = browser.get(END_SESSION_PATH, query_string={"post_logout_redirect_uri": LOGOUT_URI})
    assert response.status_code == 400 and "needs an id_token_hint" in response.text


def test_without_a_hint_the_person_confirms_with_a_csrf_protected_form(browser, storage, subject):
    signed_in(browser)
    page = browser.get(END_SESSION_PATH)
    action, fields = form_fields(page.text)
    assert page.status_code == 200 and action == END_SESSION_PATH

    refused = browser.post(END_SESSION_PATH, data={"csrf_token": "forged"})
    assert refused.status_code == 400 and not session_cleared(refused)

    confirmed = browser.post(END_SESSION_PATH, data=fields)
    assert confirmed.status_code == 200 and "You are signed out" in confirmed.text
    assert session_cleared(confirmed)
    [event] = audit_events_named(storage, "user.signed_out")
    assert event["subject"] == subject
