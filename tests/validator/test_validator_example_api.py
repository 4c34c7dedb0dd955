"""The example downstream API, started with its one command, as the rotation runbook does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from validator_support import AUDIENCE, ISSUER, mint_token

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
