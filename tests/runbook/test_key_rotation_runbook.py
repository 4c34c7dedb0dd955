"""The product page's Key Rotation Runbook and Working Example, end to end, with real parts.

gunicorn runs the IdP; `python -m publisher` publishes to moto's S3 server as the deploy
hook does; a CDN stand-in serves what CloudFront would; the example downstream API
validates tokens against the CDN's JWKS. Each step below is one line of the runbook.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cdn_stand_in import CdnStandIn
from downstream_support import DownstreamApi, kids_at
from idp_support import ROOT, Gunicorn, run_tokenidp
from jose import jwt
from runbook_support import AWS_ENVIRONMENT, BUCKET


class Deployment:
    """One environment: its store, its configuration, the IdP process and the deploy hook."""

    def __init__(self, store, config_dir: Path, moto_url: str, cdn: CdnStandIn, distribution: str):
        self.store = store
        self.config_dir = config_dir
        self.moto_url = moto_url
        self.cdn = cdn
        self.distribution = distribution
        self.idp: Gunicorn | None = None
        self.token_options: dict[str, str] = {}

    def environ(self) -> dict[str, str]:
        return {
            **AWS_ENVIRONMENT,
            **self.store.environ(
                JwksUri=f"{self.cdn.url}/.well-known/jwks.json", **self.token_options
            ),
        }

    def deploy(self, **token_options: str) -> str:
        """Release: run the publisher (Procfile `release:`), then restart the web process."""
        self.token_options = token_options
        published = subprocess.run(
            [
                sys.executable,
                "-m",
                "publisher",
                "--target",
                f"s3://{BUCKET}",
                "--endpoint-url",
                self.moto_url,
                "--cdn-endpoint-url",
                self.moto_url,
                "--cdn-distribution-id",
                self.distribution,
            ],
            env={**os.environ, **self.environ(), "PYTHONPATH": str(ROOT)},
            cwd=self.config_dir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stderr
        # A rolling restart: the old process serves until the new one is ready.
        started = Gunicorn(self.environ(), cwd=self.config_dir, workers=1)
        try:
            started.wait_ready()
        except AssertionError:
            started.stop()
            raise
        if self.idp:
            self.idp.stop()
        self.idp = started
        return published.stdout

    def issue_token(self) -> str:
        return self.idp.issue_token()

    def cdn_kids(self) -> set[str]:
        return kids_at(f"{self.cdn.url}/.well-known/jwks.json")


@pytest.fixture
def deployment(moto_server, store, config_dir, cdn):
    deployed = Deployment(store, config_dir, moto_server, cdn, cdn.distribution)
    yield deployed
    if deployed.idp:
        deployed.idp.stop()


@pytest.fixture
def downstream(deployment):
    api = DownstreamApi(f"{deployment.cdn.url}/.well-known/jwks.json")
    yield api
    api.stop()


# Short enough for a test, long enough to be seen: the new key waits this long after the
# publisher first observes it at the CDN (twice the JWKS cache lifetime, the minimum).
CACHE_MAX_AGE = "4"
ACTIVATION_DELAY = 8


def test_key_rotation_runbook(deployment, downstream, store, rsa_key, other_rsa_key):
    timing = {"JwksCacheMaxAge": CACHE_MAX_AGE, "KeyActivationDelay": str(ACTIVATION_DELAY)}

    # Before: the old certificate signs, and the downstream API accepts its tokens.
    old = store.add(key=other_rsa_key, subject="CN=tokenidp signing 2025")
    deployment.deploy(CertificateThumbprint=old.thumbprint, **timing)
    old_token = deployment.issue_token()
    assert downstream.get_orders(old_token).status_code == 200

    # Add the new certificate to the target environment (published, not yet signing): the
    # deploy hook publishes it and records when the CDN first served it.
    new = store.add(key=rsa_key, subject="CN=tokenidp signing 2026")
    output = deployment.deploy(
        CertificateThumbprint=old.thumbprint,
        AdditionalValidationCertificates=new.thumbprint,
        **timing,
    )
    observed_by = time.time()
    assert f"+ {new.thumbprint}" in output
    assert f"Observed {new.thumbprint} at {deployment.cdn.url}" in output
    assert deployment.cdn_kids() == {old.thumbprint, new.thumbprint}

    # Pointing TokenIDP at it too early is refused with how long is left (`tokenidp check`
    # resolves the key as a start would, in a second rather than a deploy's few)...
    deployment.token_options = {
        "CertificateThumbprint": new.thumbprint,
        "AdditionalValidationCertificates": old.thumbprint,
        **timing,
    }
    early = run_tokenidp("check", environ=deployment.environ(), cwd=deployment.config_dir)
    assert early.returncode == 2
    assert "less than TokenOptions:KeyActivationDelay" in early.stderr
    # ...and the old key went on signing meanwhile.
    assert jwt.get_unverified_header(deployment.issue_token())["kid"] == old.thumbprint

    # Deploy configuration pointing TokenIDP to the new certificate once its delay has
    # passed; the old one is retired.
    time.sleep(max(0.0, observed_by + ACTIVATION_DELAY + 1 - time.time()))
    deployment.deploy(
        CertificateThumbprint=new.thumbprint,
        AdditionalValidationCertificates=old.thumbprint,
        **timing,
    )

    # Verify discovery and JWKS output.
    discovery = requests.get(
        f"{deployment.cdn.url}/.well-known/openid-configuration", timeout=5
    ).json()
    assert discovery["jwks_uri"] == f"{deployment.cdn.url}/.well-known/jwks.json"
    assert deployment.cdn_kids() == {new.thumbprint, old.thumbprint}

    # Issue a fresh token and validate it against a downstream API (the Working Example).
    fresh_token = deployment.issue_token()
    answer = downstream.get_orders(fresh_token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["kid"] == new.thumbprint
    assert downstream.get_orders(old_token).status_code == 200  # still within its lifetime

    # Monitor validation failures and cache behaviour: one refresh brought the new kid in.
    metrics = downstream.metrics()
    assert 'result="invalid"' not in metrics
    assert 'tokenidp_validator_validations_total{reason="ok",result="valid"} 3.0' in metrics

    # Remove the retired key only after validation consumers have moved.
    output = deployment.deploy(CertificateThumbprint=new.thumbprint, **timing)
    assert f"- {old.thumbprint}" in output
    assert deployment.cdn_kids() == {new.thumbprint}
    assert downstream.get_orders(deployment.issue_token()).status_code == 200
