"""The product page's Emergency Key Rollover, end to end: `tokenidp keys emergency-rollover`
against two running IdP instances on one database, the publisher to moto's S3 server, a
CDN stand-in, and the example downstream API reading keys from the CDN."""

from __future__ import annotations

import re
import time

import pytest
import requests
from downstream_support import DownstreamApi, command, kids_at
from grants_support import (
    REDIRECT_URI,
    WEB_CLIENT_ID,
    add_user,
    issue_code,
    register_people_clients,
)
from idp_support import CLIENT_ID, CLIENT_SECRET, Gunicorn, venv_bin
from revocation_support import header_of
from runbook_support import AWS_ENVIRONMENT, BUCKET

from app.config import load_config
from app.storage import open_storage


@pytest.mark.slow
def test_emergency_rollover_with_two_running_instances(
    store, config_dir, moto_server, cdn, rsa_key, other_rsa_key
):
    compromised = store.add(key=rsa_key, subject="CN=tokenidp signing 2026")
    replacement = store.add(key=other_rsa_key, subject="CN=tokenidp signing 2026 replacement")
    jwks_uri = f"{cdn.url}/.well-known/jwks.json"
    environ = {
        **AWS_ENVIRONMENT,
        **store.environ(
            CertificateThumbprint=compromised.thumbprint,
            JwksUri=jwks_uri,
            JwksCacheMaxAge="1",
            KeyActivationDelay="2",
            KeyringRefreshInterval="1",
        ),
        "TOKENIDP_PUBLISH_TARGET": f"s3://{BUCKET}",
        "TOKENIDP_PUBLISH_CDN_DISTRIBUTION_ID": cdn.distribution,
        "AWS_ENDPOINT_URL_S3": moto_server,
        "AWS_ENDPOINT_URL_CLOUDFRONT": moto_server,
    }
    published = command(environ, venv_bin("python"), "-m", "publisher", cwd=config_dir)
    assert published.returncode == 0, published.stderr
    # A web application whose user signed in: its refresh token is issued under the key too.
    environ["TOKENIDP_CONFIG_DIR"] = str(config_dir)
    web_secret = register_people_clients(environ)
    storage = open_storage(load_config(environ, config_dir=config_dir))
    add_user(storage)
    instances = [Gunicorn(environ, cwd=config_dir) for _ in range(2)]
    downstream = DownstreamApi(jwks_uri)
    try:
        for instance in instances:
            instance.wait_ready()
        stolen = instances[0].issue_token()
        assert header_of(stolen)["kid"] == compromised.thumbprint
        assert downstream.get_orders(stolen).status_code == 200
        signed_in = requests.post(
            f"{instances[0].url}/connect/token",
            data={
                "grant_type": "authorization_code",
                "code": issue_code(storage, now=time.time()),
                "redirect_uri": REDIRECT_URI,
            },
            auth=(WEB_CLIENT_ID, web_secret),
            timeout=5,
        ).json()
        assert header_of(signed_in["id_token"])["kid"] == compromised.thumbprint
        refresh_token = signed_in["refresh_token"]

        started = time.monotonic()
        rollover = command(
            environ,
            venv_bin("tokenidp"),
            "keys",
            "emergency-rollover",
            "--compromised",
            compromised.thumbprint,
            "--reason",
            "private key found in a public repository",
            "--yes",
            cwd=config_dir,
        )
        seconds = time.monotonic() - started
        assert rollover.returncode == 0, rollover.stdout + rollover.stderr
        output = rollover.stdout
        assert seconds < 60
        assert re.search(r"this run took \d+\.\d s \(within the 60 s bound\)", output)
        assert f"replacement: {replacement.thumbprint}" in output
        assert f"issued under {compromised.thumbprint}: 2 token(s)" in output
        assert f"{CLIENT_ID}: 1 (" in output, "the report names the issuance under the key"
        assert f"{WEB_CLIENT_ID}: 1 (" in output
        assert "1 refresh token(s) revoked" in output

        for instance in instances:
            assert header_of(instance.issue_token())["kid"] == replacement.thumbprint
            assert compromised.thumbprint not in kids_at(f"{instance.url}/.well-known/jwks.json")
        assert kids_at(jwks_uri) == {replacement.thumbprint}
        introspected = requests.post(
            f"{instances[1].url}/connect/introspect",
            data={"token": stolen},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=5,
        )
        assert introspected.json() == {"active": False}
        refresh_introspected = requests.post(
            f"{instances[1].url}/connect/introspect",
            data={"token": refresh_token},
            auth=(WEB_CLIENT_ID, web_secret),
            timeout=5,
        )
        assert refresh_introspected.json() == {"active": False}, "its refresh tokens are dead"
        refreshed = requests.post(
            f"{instances[0].url}/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(WEB_CLIENT_ID, web_secret),
            timeout=5,
        )
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"

        fresh = instances[1].issue_token()
        assert downstream.get_orders(fresh).status_code == 200  # an unknown kid: it refreshes
        assert downstream.get_orders(stolen).status_code == 401, "refused after its refresh"

        again = command(
            environ,
            venv_bin("tokenidp"),
            "keys",
            "emergency-rollover",
            "--compromised",
            compromised.thumbprint,
            "--yes",
            cwd=config_dir,
        )
        assert again.returncode == 0, again.stderr
        assert "is complete" in again.stdout, "a second run has nothing left to do"
    finally:
        downstream.stop()
        for instance in instances:
            instance.stop()
