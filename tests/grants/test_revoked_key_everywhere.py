"""A key revoked with `tokenidp keys revoke` is dead everywhere the IdP decides, in the
running instance (at its next keyring refresh) and after a restart alike: the access token,
refresh token and ID token it signed are refused by introspection, userinfo and the refresh
grant. On SQLite and PostgreSQL."""

from __future__ import annotations

import time

from grants_support import WEB_CLIENT_ID, code_flow_tokens, refresh_form
from idp_support import invoke_tokenidp
from revocation_support import Idp, header_of

from app.documents import TOKEN_PATH, USERINFO_PATH


def refused_everywhere(idp, tokens, web_secret) -> None:
    web = (WEB_CLIENT_ID, web_secret)
    assert idp.introspect(tokens["access_token"], auth=web).json() == {"active": False}
    assert idp.introspect(tokens["refresh_token"], auth=web).json() == {"active": False}
    userinfo = idp.flask_app.test_client().get(
        USERINFO_PATH, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["WWW-Authenticate"]
    refreshed = idp.post(TOKEN_PATH, refresh_form(tokens["refresh_token"]), auth=web)
    assert refreshed.status == 400 and refreshed.json()["error"] == "invalid_grant"


def test_a_key_revoked_in_the_database_is_refused_without_and_with_a_restart(
    store, config_dir, environ, idp, web_secret, other_rsa_key, signing_certificate, clock
):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    compromised = signing_certificate.thumbprint
    assert header_of(tokens["id_token"])["kid"] == compromised
    replacement = store.add(key=other_rsa_key, subject="CN=replacement").thumbprint
    for command in (
        ("keys", "activate", replacement, "--emergency", "--reason", "drill"),
        ("keys", "revoke", compromised, "--reason", "drill", "--yes"),
    ):
        result = invoke_tokenidp(*command, environ=environ)
        assert result.exit_code == 0, result.output

    # The instance's next refresh (every KeyringRefreshInterval) comes after the commands,
    # which recorded the activation at the real time: the frozen clock catches up first.
    clock.advance(max(0.0, time.time() - clock()) + 1)
    idp.services.keys.refresh()

    assert idp.services.keyring.signing.kid == replacement
    refused_everywhere(idp, tokens, web_secret)
    refused_everywhere(Idp(environ, config_dir, clock=clock), tokens, web_secret)
