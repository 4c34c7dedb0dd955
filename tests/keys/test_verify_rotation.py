"""`tokenidp keys verify-rotation` fails loudly on what breaks validators after a rotation:
a JWKS without the signing key, a cache lifetime the activation delay cannot cover, no
running instance; without a check client the token checks say SKIP, never PASS."""

from __future__ import annotations

import json

from idp_support import CLIENT_ID, invoke_tokenidp
from revocation_support import Idp

from publisher.cli import run as run_publisher


def verify(environ, *options, secret=None):
    if secret is not None:
        environ = {**environ, "TOKENIDP_CHECK_CLIENT_SECRET": secret}
    return invoke_tokenidp("keys", "verify-rotation", *options, environ=environ)


def lines_for(result, verdict):
    return [line for line in result.stdout.splitlines() if line.startswith(f"[{verdict}]")]


def test_without_a_running_idp_or_cache_headers_it_fails_and_says_why(
    config_dir, signing_certificate_pair, file_cdn, cdn_environ
):
    signing, _ = signing_certificate_pair
    folder, _ = file_cdn
    environ = cdn_environ()
    Idp(environ, config_dir).issue()
    assert run_publisher(["--target", folder.as_uri()], environ=environ).exit_status == 0

    result = verify(environ)

    assert result.exit_code == 1
    failed = "\n".join(lines_for(result, "FAIL"))
    assert "sends no Cache-Control max-age" in failed
    assert "no live instance reports a heartbeat" in failed
    passed = "\n".join(lines_for(result, "PASS"))
    assert "discovery names this issuer and JwksUri" in passed
    assert f"signing {signing.thumbprint}" in passed
    assert lines_for(result, "SKIP") == [
        "[SKIP] a fresh token validates against JwksUri: no check client: pass --client ID "
        "with its secret in TOKENIDP_CHECK_CLIENT_SECRET"
    ]


def test_a_jwks_without_the_signing_key_fails(signing_certificate_pair, file_cdn, cdn_environ):
    signing, _ = signing_certificate_pair
    folder, jwks_uri = file_cdn
    environ = cdn_environ()
    (folder / ".well-known").mkdir()
    (folder / ".well-known" / "jwks.json").write_text(json.dumps({"keys": []}))

    result = verify(environ)

    assert result.exit_code == 1
    assert (
        f"[FAIL] JwksUri holds the signing key and no revoked key: {jwks_uri}: the signing key "
        f"{signing.thumbprint} is missing (run the publisher)"
    ) in result.stdout


def test_a_check_client_without_its_secret_is_a_usage_error(store):
    result = verify(store.environ(), "--client", CLIENT_ID)

    assert result.exit_code == 2
    assert f"--client {CLIENT_ID} needs its secret in $TOKENIDP_CHECK_CLIENT_SECRET" in (
        result.stderr or result.output
    )
