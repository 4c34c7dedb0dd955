"""The example downstream API, started with its one command, as the rotation runbook does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from validator_support import AUDIENCE, ISSUER, FakeClock, JWKSServer, JWKSStub, mint_token

from examples.downstream_api import create_app
from examples.downstream_api.__main__ import parse_arguments

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def downstream_api(jwks_server):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "examples.downstream_api",
            "--jwks-uri",
            jwks_server.url,
            "--issuer",
            ISSUER,
            "--port",
            "0",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DOWNSTREAM_API_AUDIENCE": AUDIENCE, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        yield process, line.rsplit(" ", 1)[1].strip()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
        process.stdout.close()


def test_example_api_answers_200_for_a_valid_token_and_401_for_a_bad_one(
    downstream_api, rsa_signer, attacker_signer
):
    _, base_url = downstream_api
    good = requests.get(
        f"{base_url}/orders",
        headers={"Authorization": f"Bearer {mint_token(rsa_signer)}"},
        timeout=5,
    )
    assert good.status_code == 200
    assert good.json()["kid"] == rsa_signer.kid
    bad = requests.get(
        f"{base_url}/orders",
        headers={"Authorization": f"Bearer {mint_token(attacker_signer)}"},
        timeout=5,
    )
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    metrics = requests.get(f"{base_url}/metrics", timeout=5).text
    assert 'tokenidp_validator_validations_total{reason="ok",result="valid"} 1.0' in metrics


def test_example_api_stops_cleanly_on_sigterm(downstream_api):
    process, _ = downstream_api
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert "stopped" in process.stdout.read()


@pytest.mark.parametrize(
    ("extra_arguments", "environment_value", "expected_status"),
    [
        ([], None, 401),
        ([], "0", 401),
        (["--allow-development-keys"], None, 200),
        ([], "1", 200),
        ([], "TRUE", 200),
    ],
)
def test_example_api_trusts_development_keys_only_when_told(
    monkeypatch, development_signer, rsa_signer, extra_arguments, environment_value, expected_status
):
    if environment_value is not None:
        monkeypatch.setenv("DOWNSTREAM_API_ALLOW_DEVELOPMENT_KEYS", environment_value)
    server = JWKSServer(JWKSStub(keys=[development_signer.jwk(), rsa_signer.jwk()]))
    try:
        arguments = parse_arguments(
            ["--jwks-uri", server.url, "--issuer", ISSUER, "--audience", AUDIENCE, *extra_arguments]
        )
        api = create_app(
            jwks_uri=arguments.jwks_uri,
            issuer=arguments.issuer,
            audience=arguments.audience,
            allow_development_keys=arguments.allow_development_keys,
        ).test_client()
        token = mint_token(development_signer)
        response = api.get("/orders", headers={"Authorization": f"Bearer {token}"})
    finally:
        server.stop()
    assert response.status_code == expected_status


def test_example_api_refuses_an_unclear_development_keys_setting(monkeypatch):
    monkeypatch.setenv("DOWNSTREAM_API_ALLOW_DEVELOPMENT_KEYS", "maybe")
    with pytest.raises(SystemExit, match="DOWNSTREAM_API_ALLOW_DEVELOPMENT_KEYS"):
        parse_arguments(["--jwks-uri", "http://x", "--issuer", ISSUER, "--audience", AUDIENCE])


def test_example_api_answers_503_once_its_keys_are_too_stale_and_200_when_the_jwks_returns(
    jwks_server, rsa_signer
):
    clock = FakeClock()
    arguments = parse_arguments(
        ["--jwks-uri", jwks_server.url, "--issuer", ISSUER, "--audience", AUDIENCE]
        + ["--max-staleness", "7200"]
    )
    api = create_app(
        jwks_uri=arguments.jwks_uri,
        issuer=arguments.issuer,
        audience=arguments.audience,
        max_staleness_seconds=arguments.max_staleness,
        now=clock,
    ).test_client()
    bearer = {"Authorization": f"Bearer {mint_token(rsa_signer)}"}
    assert api.get("/orders", headers=bearer).status_code == 200

    jwks_server.stub.mode = "unavailable"  # the JWKS (the CDN) is cut off
    clock.advance(7199)
    assert api.get("/orders", headers=bearer).status_code == 200
    clock.advance(2)
    stale = api.get("/orders", headers=bearer)
    assert stale.status_code == 503
    assert stale.json["error"] == "temporarily_unavailable"
    assert set(stale.json) == {"error", "error_description"}
    assert stale.headers["Retry-After"] == "30"
    health = api.get("/healthz").json
    assert (health["cached_kids"], health["jwks_keys_dropped_as_stale"]) == ([], True)
    assert health["counts"]["key_set_drops"] == {"too_stale": 1}
    assert health["counts"]["validations"]["unavailable/key_set_too_stale"] == 1
    assert (
        'tokenidp_validator_jwks_key_set_drops_total{reason="too_stale"} 1.0'
        in api.get("/metrics").text
    )

    jwks_server.stub.mode = "ok"
    clock.advance(31)
    assert api.get("/orders", headers=bearer).status_code == 200
    assert api.get("/healthz").json["jwks_keys_dropped_as_stale"] is False


def test_example_api_reads_the_max_staleness_from_the_environment(monkeypatch):
    monkeypatch.setenv("DOWNSTREAM_API_MAX_STALENESS", "3600")
    arguments = parse_arguments(
        ["--jwks-uri", "http://x", "--issuer", ISSUER, "--audience", AUDIENCE]
    )
    assert arguments.max_staleness == 3600
