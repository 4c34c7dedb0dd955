"""Discovery names everything an OpenID Connect client needs for the code flow, and the
publisher writes the same bytes the IdP serves (they share app/documents.py)."""

from __future__ import annotations

import io

from idp_support import ISSUER

from app.documents import DISCOVERY_PATH
from publisher.cli import run


def test_discovery_names_every_endpoint_and_capability_of_the_code_flow(idp):
    discovery = idp.flask_app.test_client().get(DISCOVERY_PATH).get_json()
    assert discovery["authorization_endpoint"] == f"{ISSUER}/connect/authorize"
    assert discovery["token_endpoint"] == f"{ISSUER}/connect/token"
    assert discovery["userinfo_endpoint"] == f"{ISSUER}/connect/userinfo"
    assert discovery["end_session_endpoint"] == f"{ISSUER}/connect/endsession"
    assert discovery["revocation_endpoint"] == f"{ISSUER}/connect/revocation"
    assert discovery["introspection_endpoint"] == f"{ISSUER}/connect/introspect"
    assert discovery["response_types_supported"] == ["code"]
    assert discovery["grant_types_supported"] == [
        "client_credentials",
        "authorization_code",
        "refresh_token",
    ]
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    assert discovery["subject_types_supported"] == ["public"]
    assert {"openid", "profile", "email", "offline_access"} <= set(discovery["scopes_supported"])
    assert {"sub", "name", "email", "email_verified", "nonce", "at_hash", "auth_time"} <= set(
        discovery["claims_supported"]
    )
    assert discovery["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    for endpoint in ("revocation", "introspection"):
        methods = discovery[f"{endpoint}_endpoint_auth_methods_supported"]
        assert methods == ["client_secret_basic", "client_secret_post"]


def test_the_publisher_writes_the_bytes_the_idp_serves(idp, environ, tmp_path):
    served = idp.flask_app.test_client().get(DISCOVERY_PATH).data
    folder = tmp_path / "site"
    stdout, stderr = io.StringIO(), io.StringIO()
    status = run([f"--target={folder.as_uri()}"], environ=environ, stdout=stdout, stderr=stderr)
    assert status.exit_status == 0, stderr.getvalue()
    assert (folder / ".well-known" / "openid-configuration").read_bytes() == served
