"""`tokenidp keys status` reads like the runbook's checklist: a new key published and
observed, when it can sign, when the retired key may go, and what needs an operator (exit 1):
the signing key missing at `JwksUri`, or an instance still on another keyring."""

from __future__ import annotations

import io
import json
import time

import pytest
from idp_support import epoch_of, invoke_tokenidp
from revocation_support import Idp

from app.keys.instances import Instance, write_heartbeat
from publisher.cli import run as run_publisher

CACHE_MAX_AGE = 300
ACTIVATION_DELAY = 3600  # the defaults
ACCESS_TOKEN_LIFETIME = 3600


@pytest.fixture
def rotation(config_dir, signing_certificate_pair, file_cdn, cdn_environ):
    """The current key has signed; its successor is configured as published, not signing."""
    current, successor = signing_certificate_pair
    folder, _ = file_cdn
    environ = cdn_environ(AdditionalValidationCertificates=successor.thumbprint)
    idp = Idp(environ, config_dir)
    idp.issue()
    return idp, environ, current, successor, folder


def keys_status(environ, *options):
    result = invoke_tokenidp("keys", "status", *options, environ=environ)
    return result


def publish(environ, folder) -> str:
    printed = io.StringIO()
    outcome = run_publisher(
        ["--target", folder.as_uri(), "--observe-timeout", "2"],
        environ=environ,
        stdout=printed,
        stderr=printed,
    )
    assert outcome.exit_status == 0, printed.getvalue()
    return printed.getvalue()


def by_kid(document) -> dict[str, dict]:
    return {key["kid"]: key for key in document["keys"]}


def test_a_published_successor_shows_when_it_can_sign(rotation):
    idp, environ, current, successor, folder = rotation

    published = publish(environ, folder)
    result = keys_status(environ, "--json")

    assert f"Observed {successor.thumbprint} at " in published
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    keys = by_kid(document)
    assert keys[current.thumbprint]["role"] == "signing"
    assert keys[current.thumbprint]["first_signed_at"] is not None
    assert keys[current.thumbprint]["at_jwks_uri"] is True
    upcoming = keys[successor.thumbprint]
    assert upcoming["role"] == "next"
    assert upcoming["observed_at"] is not None and upcoming["at_jwks_uri"] is True
    observed = epoch_of(upcoming["observed_at"])
    assert epoch_of(upcoming["can_sign_from"]) == observed + ACTIVATION_DELAY
    assert upcoming["first_signed_at"] is None
    assert document["problems"] == []

    table = keys_status(environ)
    assert "can sign from" in table.stdout and "(in 1 h)" in table.stdout


def test_a_retired_key_is_removable_after_its_last_token_and_two_cache_lifetimes(rotation):
    idp, environ, current, successor, folder = rotation
    publish(environ, folder)
    activated = invoke_tokenidp(
        "keys",
        "activate",
        successor.thumbprint,
        "--emergency",
        "--reason",
        "drill",
        environ=environ,
    )
    assert activated.exit_code == 0, activated.output

    document = json.loads(keys_status(environ, "--json", "--offline").stdout)

    retired = by_kid(document)[current.thumbprint]
    assert retired["role"] == "retired"
    assert epoch_of(retired["removable_at"]) == epoch_of(retired["last_signed_at"]) + (
        ACCESS_TOKEN_LIFETIME + 2 * CACHE_MAX_AGE
    )
    assert by_kid(document)[successor.thumbprint]["role"] == "signing"


def test_the_signing_key_missing_at_jwks_uri_exits_1(rotation):
    idp, environ, current, successor, folder = rotation
    (folder / ".well-known").mkdir()
    (folder / ".well-known" / "jwks.json").write_text('{"keys": []}')

    result = keys_status(environ)

    assert result.exit_code == 1
    assert f"the signing key {current.thumbprint} is missing at " in result.stderr
    assert "run the publisher" in result.stderr


def test_an_instance_on_another_keyring_exits_1(rotation):
    idp, environ, current, successor, folder = rotation
    now = int(time.time())
    behind = Instance(
        instance_id="web-2:4242:old",
        host="web-2",
        pid=4242,
        started_at=now - 60,
        heartbeat_at=now,
        signing_kid=successor.thumbprint,
        jwks_sha256="",
        published_kids=(successor.thumbprint,),
    )
    with idp.services.storage.transaction() as work:
        write_heartbeat(work, behind)

    result = keys_status(environ, "--offline")

    assert result.exit_code == 1
    assert "instance web-2:4242 is on another keyring" in result.stderr
    assert "web-2:4242  signing " in result.stdout and "(another keyring)" in result.stdout
