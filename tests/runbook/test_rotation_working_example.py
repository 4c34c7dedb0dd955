"""The product page's Working Example, with the rotation safe by construction: two IdP
instances on one database renew their certificate by subject name, without a restart.

The renewed certificate is dropped into the store; both instances publish it at once, the
publisher (deploy hook, moto's S3 server behind a CDN stand-in) records when the CDN first
served it, `keys status` says when it can sign, and it signs on both instances only after
`KeyActivationDelay`; a client issuing tokens all along never gets one under it earlier.
`keys verify-rotation --api` passes, and the old key's tokens validate until it is removed.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from downstream_support import DownstreamApi, command, kids_at
from idp_support import CLIENT_ID, CLIENT_SECRET, Gunicorn, epoch_of, venv_bin
from revocation_support import claims_of, header_of
from runbook_support import AWS_ENVIRONMENT, BUCKET

SUBJECT = "CN=tokenidp signing"
ACTIVATION_DELAY = 10  # seconds; twice the cache lifetime, the shortest Production allows
CACHE_MAX_AGE = 5


class TokenWatch:
    """A client asking both instances for tokens throughout: each token's kid and `iat`."""

    def __init__(self, instances: list[Gunicorn]) -> None:
        self.instances = instances
        self.seen: list[tuple[str, int]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            for instance in self.instances:
                token = instance.issue_token()
                self.seen.append((header_of(token)["kid"], claims_of(token)["iat"]))
            time.sleep(0.1)

    def stop(self) -> list[tuple[str, int]]:
        self.stopping.set()
        self.thread.join(timeout=10)
        return self.seen


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_renewed_certificate_signs_on_every_instance_after_its_delay_without_a_restart(
    store, config_dir, moto_server, cdn, rsa_key, other_rsa_key
):
    current = store.add(key=other_rsa_key, subject=SUBJECT)
    jwks_uri = f"{cdn.url}/.well-known/jwks.json"
    environ = {
        **AWS_ENVIRONMENT,
        **store.environ(
            CertificateSubjectName=SUBJECT,
            JwksUri=jwks_uri,
            JwksCacheMaxAge=str(CACHE_MAX_AGE),
            KeyActivationDelay=str(ACTIVATION_DELAY),
            KeyringRefreshInterval="1",
        ),
        "TOKENIDP_PUBLISH_TARGET": f"s3://{BUCKET}",
        "TOKENIDP_PUBLISH_CDN_DISTRIBUTION_ID": cdn.distribution,
        "AWS_ENDPOINT_URL_S3": moto_server,
        "AWS_ENDPOINT_URL_CLOUDFRONT": moto_server,
        "TOKENIDP_CHECK_CLIENT_SECRET": CLIENT_SECRET,
    }

    def tokenidp(*args: str):
        return command(environ, venv_bin("tokenidp"), *args, cwd=config_dir)

    def publish():
        published = command(environ, venv_bin("python"), "-m", "publisher", cwd=config_dir)
        assert published.returncode == 0, published.stderr
        return published.stdout

    publish()
    instances = [Gunicorn(environ, cwd=config_dir) for _ in range(2)]
    downstream = DownstreamApi(jwks_uri)
    watch = None
    try:
        for instance in instances:
            instance.wait_ready()
        old_token = instances[0].issue_token()
        assert header_of(old_token)["kid"] == current.thumbprint
        assert downstream.get_orders(old_token).status_code == 200
        watch = TokenWatch(instances)

        # Add the renewed certificate: every instance publishes it at once, none signs with it.
        renewed = store.add(key=rsa_key, subject=SUBJECT)
        for instance in instances:
            wait_until(
                lambda instance=instance: (
                    renewed.thumbprint in kids_at(f"{instance.url}/.well-known/jwks.json")
                ),
                timeout=10,
                what="the instances to publish the renewal",
            )
        output = publish()
        assert f"Observed {renewed.thumbprint} at {jwks_uri} for the first time" in output

        # `keys status` says when it can sign.
        status = tokenidp("keys", "status", "--json")
        assert status.returncode == 0, status.stderr
        keys = {key["kid"]: key for key in json.loads(status.stdout)["keys"]}
        assert keys[renewed.thumbprint]["role"] == "next"
        assert keys[renewed.thumbprint]["at_jwks_uri"] is True
        can_sign_from = epoch_of(keys[renewed.thumbprint]["can_sign_from"])
        assert can_sign_from == epoch_of(keys[renewed.thumbprint]["observed_at"]) + ACTIVATION_DELAY

        # Then it signs on both instances, without a restart.
        for instance in instances:
            wait_until(
                lambda instance=instance: (
                    header_of(instance.issue_token())["kid"] == renewed.thumbprint
                ),
                timeout=ACTIVATION_DELAY + 10,
                what="the renewal to sign",
            )
        time.sleep(0.5)
        seen = watch.stop()
        early = [iat for kid, iat in seen if kid == renewed.thumbprint and iat < can_sign_from]
        assert early == [], "no token carries the new key before it may sign"
        assert {kid for kid, _ in seen} == {current.thumbprint, renewed.thumbprint}

        # The runbook's checks pass, the downstream API included.
        verified = tokenidp(
            "keys",
            "verify-rotation",
            "--api",
            f"{downstream.url}/orders",
            "--client",
            CLIENT_ID,
            "--idp-url",
            instances[1].url,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "[FAIL]" not in verified.stdout and "[SKIP]" not in verified.stdout
        assert "6 passed, 0 failed, 0 skipped" in verified.stdout

        # The old key's tokens validate until it is removed...
        assert downstream.get_orders(old_token).status_code == 200
        retired = json.loads(tokenidp("keys", "status", "--json").stdout)
        assert {key["kid"]: key["role"] for key in retired["keys"]}[current.thumbprint] == "retired"
        current.path.unlink()
        for instance in instances:
            wait_until(
                lambda instance=instance: (
                    current.thumbprint not in kids_at(f"{instance.url}/.well-known/jwks.json")
                ),
                timeout=10,
                what="the instances to drop the removed key",
            )
        assert f"- {current.thumbprint}" in publish()
        assert kids_at(jwks_uri) == {renewed.thumbprint}  # validators drop it as copies expire
    finally:
        if watch is not None:
            watch.stop()
        downstream.stop()
        for instance in instances:
            instance.stop()
