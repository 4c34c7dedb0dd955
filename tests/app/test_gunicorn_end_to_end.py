"""The runbook's check, for real: gunicorn serves a token that an independent library verifies."""

from __future__ import annotations

import jwt
import pytest
from idp_support import AUDIENCE, CLIENT_ID, CLIENT_SECRET, ISSUER, Gunicorn

from app.documents import JWKS_PATH


@pytest.mark.parametrize(
    ("key_fixture", "file_format", "algorithm"),
    [("rsa_key", "pfx", "RS256"), ("ec_key", "pem", "ES256")],
)
def test_token_from_gunicorn_verifies_against_served_jwks(
    request, store, config_dir, key_fixture, file_format, algorithm
):
    added = store.add(
        key=request.getfixturevalue(key_fixture),
        file_format=file_format,
        password="pfx password" if file_format == "pfx" else None,
    )
    options = {"CertificateThumbprint": added.thumbprint}
    if file_format == "pfx":
        options["CertificatePassword"] = "pfx password"
    server = Gunicorn(store.environ(**options), cwd=config_dir, workers=2)
    try:
        server.wait_ready()
        token = server.issue_token()

        signing_key = jwt.PyJWKClient(f"{server.url}{JWKS_PATH}").get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
        assert jwt.get_unverified_header(token)["kid"] == added.thumbprint == signing_key.key_id
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
        assert claims["client_id"] == CLIENT_ID
        assert claims["scope"] == "orders.read"
    finally:
        log = server.stop()
    ready = [line for line in log.splitlines() if "TokenIDP ready" in line]
    assert len(ready) == 1
    assert f"kid={added.thumbprint} alg={algorithm}" in ready[0]
    assert "environment=Production" in ready[0] and str(added.path) in ready[0]
    assert CLIENT_SECRET not in log and token not in log
