"""RFC 7662 introspection: active for an untouched token of ours; `{"active": false}` for a
token covered by any revocation rule, expired, signed by a revoked or foreign key, malformed,
or for another issuer or audience, never saying why. On SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from idp_support import AUDIENCE, CLIENT_ID, CLIENT_SECRET, ISSUER, invoke_tokenidp
from revocation_support import (
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    RESOURCE_SERVER_ID,
    RESOURCE_SERVER_SECRET,
    UNREACHABLE_DATABASE,
    Idp,
    claims_of,
    header_of,
    idp_environ,
    signed_token,
)

from app.documents import DISCOVERY_PATH, INTROSPECTION_PATH, REVOCATION_PATH

ADAPTERS = ["wsgi", "asgi"]


@pytest.fixture
def environ(store, config_dir, signing_certificate, database_url):
    return idp_environ(
        store, config_dir, database_url, CertificateThumbprint=signing_certificate.thumbprint
    )


@pytest.fixture
def idp(environ, config_dir):
    return Idp(environ, config_dir)


def revoke_with_cli(environ, *arguments: str) -> str:
    result = invoke_tokenidp("tokens", "revoke", *arguments, environ=environ)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_untouched_token_is_active_with_its_claims(environ, config_dir, adapter):
    idp = Idp(environ, config_dir, adapter=adapter)
    token = idp.issue()
    answer = idp.introspect(token)
    assert answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"] == "application/json"
    claims = claims_of(token)
    assert answer.json() == {
        "active": True,
        "scope": "orders.read orders.write",
        "client_id": CLIENT_ID,
        "token_type": "Bearer",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "sub": CLIENT_ID,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "jti": claims["jti"],
    }


RULES = {
    "jti": lambda token: ["--jti", claims_of(token)["jti"]],
    "client": lambda token: ["--client", CLIENT_ID],
    "subject": lambda token: ["--subject", CLIENT_ID],
    "kid": lambda token: ["--kid", header_of(token)["kid"]],
    "issued-before": lambda token: ["--issued-before", str(int(time.time()) + 1), "--yes"],
    "all": lambda token: ["--all", "--yes"],
}


@pytest.mark.parametrize("rule", RULES)
def test_each_revocation_rule_makes_the_tokens_it_covers_inactive(idp, environ, rule):
    token = idp.issue()
    assert idp.is_active(token)
    revoke_with_cli(environ, *RULES[rule](token))
    answer = idp.introspect(token)
    assert answer.status == 200
    assert answer.json() == {"active": False}
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("rule", ["jti", "client", "subject"])
def test_a_rule_for_one_token_or_client_leaves_other_clients_tokens_active(idp, environ, rule):
    token = idp.issue()
    bystander = idp.issue(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
    revoke_with_cli(environ, *RULES[rule](token))
    assert not idp.is_active(token)
    assert idp.is_active(bystander, auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))


@pytest.mark.parametrize("selector", ["--client", "--subject"])
def test_tokens_issued_after_a_client_or_subject_rule_stay_active(environ, config_dir, selector):
    now = time.time()
    before = Idp(environ, config_dir, clock=lambda: now - 900).issue()
    revoke_with_cli(environ, selector, CLIENT_ID, "--issued-before", str(int(now) - 600))
    idp = Idp(environ, config_dir)
    after = idp.issue()
    assert not idp.is_active(before)
    assert idp.is_active(after)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_revoked_token_is_inactive_through_either_adapter(environ, config_dir, adapter):
    idp = Idp(environ, config_dir, adapter=adapter)
    token = idp.issue()
    revoke_with_cli(environ, "--client", CLIENT_ID)
    assert idp.introspect(token).json() == {"active": False}


def test_an_expired_token_is_inactive(environ, config_dir):
    issued_two_hours_ago = Idp(environ, config_dir, clock=lambda: time.time() - 7200).issue()
    assert not Idp(environ, config_dir).is_active(issued_two_hours_ago)


def test_a_token_is_inactive_from_its_exp_on_without_leeway(environ, config_dir):
    """Validators allow a leeway after exp; the IdP's own clock decides, and has none."""
    expired_two_seconds_ago = Idp(environ, config_dir, clock=lambda: time.time() - 3602).issue()
    assert not Idp(environ, config_dir).is_active(expired_two_seconds_ago)


def test_a_token_signed_by_a_revoked_key_is_inactive(
    store, config_dir, signing_certificate, database_url, other_rsa_key
):
    """The runbook's order: the next key is published, observed, and signs after the delay;
    the old key's tokens stay active until its key is revoked."""
    retired = store.add(key=other_rsa_key, subject="CN=tokenidp signing 2025")
    delay = {"KeyActivationDelay": "600"}
    old_environ = idp_environ(
        store,
        config_dir,
        database_url,
        CertificateThumbprint=retired.thumbprint,
        AdditionalValidationCertificates__0=signing_certificate.thumbprint,
        **delay,
    )
    old_idp = Idp(old_environ, config_dir)
    old_idp.services.keys.refresh()  # serving both keys at JwksUri: they are observed
    token = old_idp.issue()
    published = {
        "CertificateThumbprint": signing_certificate.thumbprint,
        "AdditionalValidationCertificates__0": retired.thumbprint,
        **delay,
    }
    later = time.time() + 601
    still_published = idp_environ(store, config_dir, database_url, **published)
    assert Idp(still_published, config_dir, clock=lambda: later).is_active(token)
    revoked = idp_environ(
        store,
        config_dir,
        database_url,
        **published,
        RevokedCertificateThumbprints__0=retired.thumbprint,
    )
    assert not Idp(revoked, config_dir, clock=lambda: later).is_active(token)


def test_a_token_signed_by_a_foreign_key_is_inactive(idp, signing_certificate, other_rsa_key):
    ours = signed_token(signing_certificate.private_key, kid=signing_certificate.thumbprint)
    assert idp.is_active(ours)
    impostor = signed_token(other_rsa_key, kid=signing_certificate.thumbprint)
    assert not idp.is_active(impostor)
    unknown_kid = signed_token(other_rsa_key, kid="0" * 40)
    assert not idp.is_active(unknown_kid)


@pytest.mark.parametrize(
    "claims",
    [{"iss": "https://other-idp.example.test"}, {"aud": "some-other-api"}],
    ids=["another issuer", "another audience"],
)
def test_a_token_for_another_issuer_or_audience_is_inactive(idp, signing_certificate, claims):
    token = signed_token(
        signing_certificate.private_key, kid=signing_certificate.thumbprint, **claims
    )
    assert not idp.is_active(token)


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c", "e30.e30.", "x" * 9000])
def test_a_malformed_token_is_inactive(idp, token):
    assert idp.introspect(token).json() == {"active": False}


def test_another_client_may_not_introspect_a_token_it_was_not_issued(idp):
    token = idp.issue()
    assert not idp.is_active(token, auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
    own = idp.issue(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
    assert idp.is_active(own, auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))


def test_a_resource_server_allowed_introspect_may_introspect_any_token(idp):
    token = idp.issue()
    answer = idp.introspect(token, auth=(RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET))
    assert answer.json()["active"] is True
    assert answer.json()["client_id"] == CLIENT_ID


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "something_else"])
def test_token_type_hint_is_accepted_and_ignored(idp, hint):
    token = idp.issue()
    assert idp.introspect(token, token_type_hint=hint).json()["active"] is True


def test_introspection_requires_client_authentication_and_audits_a_failure(idp):
    token = idp.issue()
    answer = idp.introspect(token, auth=(CLIENT_ID, "wrong secret"))
    assert answer.status == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert b"active" not in answer.body
    failures = idp.audit("client.authentication_failed")
    assert [failure["client_id"] for failure in failures] == [CLIENT_ID]
    assert idp.post(INTROSPECTION_PATH, {"token": token}, auth=None).status == 401


def test_introspection_without_a_token_is_invalid_request(idp):
    answer = idp.post(INTROSPECTION_PATH, {}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_request"


def test_introspection_answers_only_post(idp):
    response = idp.flask_app.test_client().get(INTROSPECTION_PATH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_unreachable_database_is_503_never_active(
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
    answer = idp.introspect(token)
    assert answer.status == 503
    assert answer.json()["error"] == "temporarily_unavailable"
    assert answer.headers["retry-after"]
    assert b"active" not in answer.body


def test_discovery_names_introspection_and_revocation(idp):
    discovery = idp.flask_app.test_client().get(DISCOVERY_PATH).get_json()
    assert discovery["introspection_endpoint"] == f"{ISSUER}{INTROSPECTION_PATH}"
    assert discovery["revocation_endpoint"] == f"{ISSUER}{REVOCATION_PATH}"
    methods = ["client_secret_basic", "client_secret_post"]
    assert discovery["token_endpoint_auth_methods_supported"] == [*methods, "none"]  # public
    assert discovery["introspection_endpoint_auth_methods_supported"] == methods
    assert discovery["revocation_endpoint_auth_methods_supported"] == methods
