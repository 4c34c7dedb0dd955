"""The authorization_code grant: an RFC 9068 access token, an ID token signed by the same key
(at_hash, nonce, auth_time, profile claims as granted) and a refresh token for
offline_access; single use (a replay revokes the first issuance, audited); redirect_uri,
client and PKCE checked; a public client by client_id alone. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib

import pytest
from grants_support import (
    PUBLIC_CLIENT_ID,
    PUBLIC_REDIRECT_URI,
    REDIRECT_URI,
    USER_EMAIL,
    USER_NAME,
    USER_SUBJECT,
    WEB_CLIENT_ID,
    Pkce,
    add_user,
    code_flow_tokens,
    issue_code,
    refresh_form,
)
from idp_support import AUDIENCE, ISSUER
from jose import jwk, jws
from revocation_support import claims_of, header_of

from app.documents import TOKEN_PATH
from app.oauth.codes import CodeGrant, new_code, store_code


def redeem(idp, code: str, /, *, secret: str | None, pkce: Pkce | None = None, **overrides):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if pkce is not None:
        form["code_verifier"] = pkce.verifier
    form.update(overrides)
    auth = (WEB_CLIENT_ID, secret) if secret is not None else None
    return idp.post(TOKEN_PATH, {k: v for k, v in form.items() if v is not None}, auth=auth)


def verify_signature(token: str, certificate) -> None:
    key = jwk.construct(certificate.certificate.public_key(), "RS256")
    assert jws.verify(token, key, algorithms=["RS256"])


def test_a_code_with_pkce_gets_access_id_and_refresh_tokens(
    idp, web_secret, clock, signing_certificate
):
    pkce = Pkce.new()
    code = issue_code(idp.services.storage, now=clock(), pkce=pkce)
    answer = redeem(idp, code, secret=web_secret, pkce=pkce)
    assert answer.status == 200, answer.body
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email offline_access orders.read"
    assert len(body["refresh_token"]) >= 43 and "." not in body["refresh_token"]
    kid = signing_certificate.thumbprint
    access = body["access_token"]
    assert header_of(access) == {"alg": "RS256", "kid": kid, "typ": "at+jwt"}
    assert claims_of(access)["sub"] == USER_SUBJECT
    assert claims_of(access)["client_id"] == WEB_CLIENT_ID
    assert claims_of(access)["aud"] == AUDIENCE
    id_token = body["id_token"]
    assert header_of(id_token) == {"alg": "RS256", "kid": kid, "typ": "JWT"}
    verify_signature(id_token, signing_certificate)
    verify_signature(access, signing_certificate)
    claims = claims_of(id_token)
    left_half = hashlib.sha256(access.encode()).digest()[:16]
    assert claims == {
        "iss": ISSUER,
        "sub": USER_SUBJECT,
        "aud": WEB_CLIENT_ID,
        "iat": int(clock()),
        "exp": int(clock()) + 3600,
        "auth_time": int(clock()) - 5,
        "nonce": "n-0S6_WzA2Mj",
        "at_hash": base64.urlsafe_b64encode(left_half).rstrip(b"=").decode(),
        "name": USER_NAME,
        "email": USER_EMAIL,
        "email_verified": True,
    }
    [issued] = idp.audit("token.issued")
    assert issued["kid"] == kid
    assert issued["jti"] == claims_of(access)["jti"]
    assert issued["grant_type"] == "authorization_code"
    assert issued["subject"] == USER_SUBJECT


@pytest.mark.parametrize(
    ("scopes", "has_id_token", "has_refresh_token", "profile_claims"),
    [
        (("openid",), True, False, set()),
        (("openid", "profile"), True, False, {"name"}),
        (("openid", "email"), True, False, {"email", "email_verified"}),
        (("openid", "offline_access"), True, True, set()),
        (("orders.read", "offline_access"), False, True, set()),
    ],
)
def test_what_is_answered_follows_the_granted_scopes(
    idp, web_secret, clock, scopes, has_id_token, has_refresh_token, profile_claims
):
    code = issue_code(idp.services.storage, now=clock(), scopes=scopes, nonce=None)
    body = redeem(idp, code, secret=web_secret).json()
    assert body["scope"] == " ".join(scopes)
    assert ("id_token" in body) is has_id_token
    assert ("refresh_token" in body) is has_refresh_token
    if has_id_token:
        claims = claims_of(body["id_token"])
        assert "nonce" not in claims
        assert set(claims) & {"name", "email", "email_verified"} == profile_claims


def test_a_code_redeemed_twice_revokes_what_the_first_redemption_issued(idp, web_secret, clock):
    code = issue_code(idp.services.storage, now=clock())
    first = redeem(idp, code, secret=web_secret).json()
    auth = (WEB_CLIENT_ID, web_secret)
    assert idp.is_active(first["access_token"], auth=auth)
    assert idp.introspect(first["refresh_token"], auth=auth).json()["active"] is True

    clock.advance(2)
    second = redeem(idp, code, secret=web_secret)
    assert second.status == 400
    assert second.json()["error"] == "invalid_grant"
    assert not idp.is_active(first["access_token"], auth=auth)
    assert idp.introspect(first["refresh_token"], auth=auth).json() == {"active": False}
    refreshed = idp.post(
        TOKEN_PATH,
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=auth,
    )
    assert refreshed.json()["error"] == "invalid_grant"
    [replayed] = idp.audit("authorization_code.replayed")
    assert replayed["client_id"] == WEB_CLIENT_ID
    assert replayed["jti"] == claims_of(first["access_token"])["jti"]
    assert code not in str(replayed) and first["refresh_token"] not in str(replayed)
    assert len(idp.audit("token.issued")) == 1


PKCE_FAILURES = {
    "wrong verifier": (True, lambda pkce: Pkce.new().verifier, "does not match"),
    "missing verifier": (True, lambda pkce: None, "code_verifier is required"),
    "short verifier": (True, lambda pkce: pkce.verifier[:42], "43 to 128"),
    "verifier with a space": (True, lambda pkce: pkce.verifier[:-1] + " ", "43 to 128"),
    "verifier without a challenge": (False, lambda pkce: pkce.verifier, "no code_challenge"),
}


@pytest.mark.parametrize("case", PKCE_FAILURES)
def test_pkce_failures_get_invalid_grant_and_leave_the_code_usable(idp, web_secret, clock, case):
    with_challenge, verifier_of, message = PKCE_FAILURES[case]
    pkce = Pkce.new()
    code = issue_code(idp.services.storage, now=clock(), pkce=pkce if with_challenge else None)
    answer = redeem(idp, code, secret=web_secret, code_verifier=verifier_of(pkce))
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_grant"
    assert message in answer.json()["error_description"]
    assert idp.audit("token.issued") == []
    retry = redeem(idp, code, secret=web_secret, pkce=pkce if with_challenge else None)
    assert retry.status == 200, retry.body


def test_a_plain_challenge_is_refused(idp, web_secret, clock):
    code = new_code()
    verifier = Pkce.new().verifier
    grant = CodeGrant(
        WEB_CLIENT_ID,
        USER_SUBJECT,
        REDIRECT_URI,
        ("openid",),
        int(clock()),
        code_challenge=verifier,
        code_challenge_method="plain",
    )
    with idp.services.storage.transaction() as work:
        store_code(work, code, grant, now=int(clock()))
    answer = redeem(idp, code, secret=web_secret, code_verifier=verifier)
    assert answer.json()["error"] == "invalid_grant"
    assert "S256" in answer.json()["error_description"]


def test_a_public_client_redeems_with_its_client_id_and_pkce(idp, clock):
    pkce = Pkce.new()
    code = issue_code(
        idp.services.storage,
        now=clock(),
        client_id=PUBLIC_CLIENT_ID,
        redirect_uri=PUBLIC_REDIRECT_URI,
        pkce=pkce,
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": PUBLIC_REDIRECT_URI,
        "client_id": PUBLIC_CLIENT_ID,
        "code_verifier": pkce.verifier,
    }
    answer = idp.post(TOKEN_PATH, form, auth=None)
    assert answer.status == 200, answer.body
    assert claims_of(answer.json()["id_token"])["aud"] == PUBLIC_CLIENT_ID
    refreshed = idp.post(
        TOKEN_PATH,
        {
            "grant_type": "refresh_token",
            "refresh_token": answer.json()["refresh_token"],
            "client_id": PUBLIC_CLIENT_ID,
        },
        auth=None,
    )
    assert refreshed.status == 200, refreshed.body


def test_a_public_client_without_pkce_is_refused(idp, clock):
    code = issue_code(
        idp.services.storage,
        now=clock(),
        client_id=PUBLIC_CLIENT_ID,
        redirect_uri=PUBLIC_REDIRECT_URI,
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": PUBLIC_REDIRECT_URI,
        "client_id": PUBLIC_CLIENT_ID,
    }
    answer = idp.post(TOKEN_PATH, form, auth=None)
    assert answer.json()["error"] == "invalid_grant"
    assert "PKCE" in answer.json()["error_description"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": PUBLIC_CLIENT_ID},
            401,
            "invalid_client",
        ),
        ({"grant_type": "authorization_code", "client_id": WEB_CLIENT_ID}, 401, "invalid_client"),
        ({"grant_type": "authorization_code", "client_id": "nobody"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code"}, 401, "invalid_client"),
        (
            {"grant_type": "authorization_code", "client_id": PUBLIC_CLIENT_ID},
            400,
            "invalid_request",
        ),
    ],
    ids=["public-cc", "confidential-without-secret", "unknown", "no-client", "public-no-code"],
)
def test_only_a_public_client_goes_without_a_secret_and_only_for_its_grants(
    idp, form, status, error
):
    answer = idp.post(TOKEN_PATH, form, auth=None)
    assert answer.status == status, answer.body
    assert answer.json()["error"] == error


def test_a_public_client_presenting_a_secret_is_refused(idp, clock):
    answer = idp.post(
        TOKEN_PATH,
        {"grant_type": "authorization_code", "code": "x"},
        auth=(PUBLIC_CLIENT_ID, "guess"),
    )
    assert answer.status == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"redirect_uri": "https://app.example/other"}, "redirect_uri"),
        ({"redirect_uri": None}, "redirect_uri"),
        ({"code": "not-a-code"}, "unknown or has expired"),
    ],
)
def test_a_mismatched_redirect_uri_or_unknown_code_is_invalid_grant(
    idp, web_secret, clock, change, message
):
    code = issue_code(idp.services.storage, now=clock())
    answer = redeem(idp, code, secret=web_secret, **change)
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_grant"
    assert message in answer.json()["error_description"]


def test_a_code_issued_to_another_client_is_refused(idp, web_secret, clock):
    code = issue_code(
        idp.services.storage, now=clock(), client_id=PUBLIC_CLIENT_ID, redirect_uri=REDIRECT_URI
    )
    answer = redeem(idp, code, secret=web_secret)
    assert answer.json()["error"] == "invalid_grant"
    assert "not issued to this client" in answer.json()["error_description"]


def test_an_expired_code_is_refused(idp, web_secret, clock):
    code = issue_code(idp.services.storage, now=clock())
    clock.advance(61)
    answer = redeem(idp, code, secret=web_secret)
    assert answer.json()["error"] == "invalid_grant"


def test_a_disabled_user_gets_no_tokens(idp, web_secret, clock):
    add_user(idp.services.storage, "u-gone", disabled_at=int(clock()) - 1)
    code = issue_code(idp.services.storage, now=clock(), subject="u-gone")
    answer = redeem(idp, code, secret=web_secret)
    assert answer.json()["error"] == "invalid_grant"
    assert "disabled" in answer.json()["error_description"]


def test_every_grants_tokens_carry_the_signing_kid_and_the_audit_log_records_it(
    idp, web_secret, clock, signing_certificate
):
    client_credentials = idp.issue()
    code_flow = code_flow_tokens(idp, web_secret, now=clock())
    refreshed = idp.post(
        TOKEN_PATH, refresh_form(code_flow["refresh_token"]), auth=(WEB_CLIENT_ID, web_secret)
    ).json()
    tokens = {
        "client_credentials": client_credentials,
        "authorization_code": code_flow["access_token"],
        "refresh_token": refreshed["access_token"],
    }
    audited = {row["jti"]: (row["grant_type"], row["kid"]) for row in idp.audit("token.issued")}
    for grant_type, token in tokens.items():
        kid = header_of(token)["kid"]
        assert kid == signing_certificate.thumbprint
        assert audited[claims_of(token)["jti"]] == (grant_type, kid)
    for id_token in (code_flow["id_token"], refreshed["id_token"]):
        assert header_of(id_token)["kid"] == signing_certificate.thumbprint
