"""Refresh tokens revoked with `tokenidp tokens revoke` (every selector) and the RFC 7009
endpoint, and introspected (RFC 7662): `--kid K` revokes exactly the refresh tokens issued
under K, and introspection then answers `active: false` for each. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest
from grants_support import (
    ALL_SCOPES,
    USER_SUBJECT,
    WEB_CLIENT_ID,
    add_user,
    code_flow_tokens,
    issue_code,
    refresh_form,
)
from idp_support import invoke_tokenidp
from revocation_support import (
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    RESOURCE_SERVER_ID,
    RESOURCE_SERVER_SECRET,
    Idp,
    header_of,
)

from app.documents import TOKEN_PATH
from app.keys.records import record_observations


def revoke_with_cli(environ, *arguments: str) -> str:
    result = invoke_tokenidp("tokens", "revoke", *arguments, environ=environ)
    assert result.exit_code == 0, result.output
    return result.output


def is_active(idp, token: str, web_secret: str) -> bool:
    answer = idp.introspect(token, auth=(WEB_CLIENT_ID, web_secret))
    assert answer.status == 200, answer.body
    return answer.json()["active"]


def test_introspection_describes_a_live_refresh_token(idp, web_secret, clock):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    for hint in ({}, {"token_type_hint": "refresh_token"}, {"token_type_hint": "access_token"}):
        answer = idp.introspect(tokens["refresh_token"], auth=(WEB_CLIENT_ID, web_secret), **hint)
        assert answer.json() == {
            "active": True,
            "client_id": WEB_CLIENT_ID,
            "token_type": "refresh_token",
            "sub": USER_SUBJECT,
            "scope": " ".join(ALL_SCOPES),
            "exp": int(clock()) + 2_592_000,
            "iss": idp.services.settings.token.issuer,
        }
    by_api = idp.introspect(
        tokens["refresh_token"], auth=(RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET)
    )
    assert by_api.json()["active"] is True  # allowed the scope introspect


def test_introspection_of_a_spent_or_foreign_refresh_token_is_inactive(idp, web_secret, clock):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    other = idp.introspect(tokens["refresh_token"], auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
    assert other.json() == {"active": False}
    idp.post(TOKEN_PATH, refresh_form(tokens["refresh_token"]), auth=(WEB_CLIENT_ID, web_secret))
    assert not is_active(idp, tokens["refresh_token"], web_secret)


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
def test_the_revocation_endpoint_revokes_a_refresh_tokens_family(idp, web_secret, clock, hint):
    first = code_flow_tokens(idp, web_secret, now=clock())
    other_sign_in = code_flow_tokens(idp, web_secret, now=clock())["refresh_token"]
    successor = idp.post(
        TOKEN_PATH, refresh_form(first["refresh_token"]), auth=(WEB_CLIENT_ID, web_secret)
    ).json()["refresh_token"]
    form = {"token_type_hint": hint} if hint else {}
    answer = idp.revoke(first["refresh_token"], auth=(WEB_CLIENT_ID, web_secret), **form)
    assert answer.status == 200
    assert answer.body == b""
    assert not is_active(idp, successor, web_secret)
    assert is_active(idp, other_sign_in, web_secret)
    refused = idp.post(TOKEN_PATH, refresh_form(successor), auth=(WEB_CLIENT_ID, web_secret))
    assert refused.json()["error"] == "invalid_grant"
    [event] = idp.audit("token.revoked")
    assert event["client_id"] == WEB_CLIENT_ID
    assert json.loads(event["detail"])["token_type"] == "refresh_token"
    assert json.loads(event["detail"])["count"] == 2
    assert first["refresh_token"] not in str(event) and successor not in str(event)


def test_another_clients_refresh_token_is_not_revoked(idp, web_secret, clock):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    answer = idp.revoke(tokens["refresh_token"], auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
    assert answer.status == 200
    assert is_active(idp, tokens["refresh_token"], web_secret)
    assert idp.audit("token.revoked") == []


def test_tokens_revoke_kid_revokes_exactly_the_refresh_tokens_issued_under_that_key(
    store, config_dir, environ, idp, web_secret, other_rsa_key, signing_certificate, clock
):
    key_a = signing_certificate.thumbprint
    under_a = [code_flow_tokens(idp, web_secret, now=clock()) for _ in range(3)]
    key_b = store.add(key=other_rsa_key, subject="CN=next signing").thumbprint
    with idp.services.storage.transaction() as work:
        record_observations(
            work,
            [key_b],
            now=int(clock()) - 7200,
            observed_by="publisher",
            jwks_uri=idp.services.settings.token.jwks_uri,
        )
    idp_b = Idp({**environ, "TokenOptions__CertificateThumbprint": key_b}, config_dir, clock=clock)
    under_b = [code_flow_tokens(idp_b, web_secret, now=clock()) for _ in range(2)]
    assert {header_of(tokens["access_token"])["kid"] for tokens in under_a} == {key_a}
    assert {header_of(tokens["access_token"])["kid"] for tokens in under_b} == {key_b}

    output = revoke_with_cli(environ, "--kid", key_a, "--reason", "key compromised")
    assert "refresh tokens revoked: 3" in output.splitlines()
    for tokens in under_a:
        assert not is_active(idp_b, tokens["refresh_token"], web_secret)
        refused = idp_b.post(
            TOKEN_PATH, refresh_form(tokens["refresh_token"]), auth=(WEB_CLIENT_ID, web_secret)
        )
        assert refused.json()["error"] == "invalid_grant"
    for tokens in under_b:
        assert is_active(idp_b, tokens["refresh_token"], web_secret)
    events = [
        json.loads(event["detail"])
        for event in idp_b.audit("token.revoked")
        if json.loads(event["detail"])["token_type"] == "refresh_token"
    ]
    assert [(event["kind"], event["value"], event["count"]) for event in events] == [
        ("kid", key_a, 3)
    ]


@pytest.mark.parametrize(
    ("arguments", "revoked"),
    [
        (("--client", WEB_CLIENT_ID), 2),
        (("--client", "someone-else"), 0),
        (("--subject", USER_SUBJECT), 1),
        (("--all", "--yes"), 2),
        (("--jti", "any-jti"), 0),
    ],
)
def test_every_selector_revokes_the_matching_refresh_tokens(
    idp, environ, web_secret, clock, arguments, revoked
):
    add_user(idp.services.storage, "u-second")
    tokens = [code_flow_tokens(idp, web_secret, now=clock())]
    code = issue_code(idp.services.storage, now=clock(), subject="u-second")
    second = idp.post(
        TOKEN_PATH,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example/callback",
        },
        auth=(WEB_CLIENT_ID, web_secret),
    ).json()
    tokens.append(second)
    document = json.loads(revoke_with_cli(environ, *arguments, "--json"))
    assert document["refresh_tokens_revoked"] == revoked
    still_active = sum(is_active(idp, t["refresh_token"], web_secret) for t in tokens)
    assert still_active == 2 - revoked


def test_refresh_tokens_outlive_access_tokens_so_an_old_cutoff_still_revokes_them(
    idp, environ, web_secret, clock
):
    clock.advance(-7200)  # signed in two hours ago: its access token has expired since
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    clock.advance(7200)
    cutoff = str(int(time.time()) - 3700)
    output = revoke_with_cli(environ, "--client", WEB_CLIENT_ID, "--issued-before", cutoff)
    assert output.splitlines()[0].startswith("nothing to revoke: access tokens of client")
    assert "refresh tokens revoked: 1" in output.splitlines()
    assert not is_active(idp, tokens["refresh_token"], web_secret)
