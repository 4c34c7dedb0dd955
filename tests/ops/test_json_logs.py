"""`TOKENIDP_LOG_FORMAT=json`: every line gunicorn and the IdP write is one JSON object,
the access log names request id, client, status and latency, and no line of a run that
used secrets and tokens holds any of them."""

from __future__ import annotations

import json

import pytest
import requests
from idp_support import CLIENT_ID, CLIENT_SECRET, Gunicorn, run_tokenidp

from app.documents import INTROSPECTION_PATH, REVOCATION_PATH, TOKEN_PATH
from app.errors import ConfigError
from app.logs import log_format

WRONG_SECRET = "wrong-secret-7f3a9c1e-never-logged"


def test_a_json_run_logs_one_object_a_line_and_never_a_secret_or_token(store, config_dir, rsa_key):
    added = store.add(key=rsa_key)
    environ = {
        **store.environ(CertificateThumbprint=added.thumbprint),
        "TOKENIDP_LOG_FORMAT": "json",
    }
    server = Gunicorn(environ, cwd=config_dir, workers=2)
    session = requests.Session()  # keep-alive: one connection, request after request
    try:
        server.wait_ready()
        issued = session.post(
            f"{server.url}{TOKEN_PATH}",
            data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, CLIENT_SECRET),
            headers={"X-Request-Id": "trace-token-1"},
            timeout=5,
        )
        token = issued.json()["access_token"]
        failed = session.post(
            f"{server.url}{TOKEN_PATH}",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": WRONG_SECRET,
            },
            timeout=5,
        )
        assert failed.status_code == 401
        for path in (INTROSPECTION_PATH, REVOCATION_PATH):
            answer = session.post(
                f"{server.url}{path}",
                data={"token": token},
                auth=(CLIENT_ID, CLIENT_SECRET),
                timeout=5,
            )
            assert answer.status_code == 200
        assert session.get(f"{server.url}/healthz?access_token={token}", timeout=5).ok
        session.get(f"{server.url}/metrics", timeout=5)
        session.get(f"{server.url}/no/such/path?code={WRONG_SECRET}", timeout=5)
    finally:
        session.close()
        log = server.stop()
    lines = log.splitlines()
    records = [json.loads(line) for line in lines]  # every line: one JSON object
    assert all({"time", "level", "logger", "pid"} <= set(record) for record in records)
    for secret in (CLIENT_SECRET, WRONG_SECRET, token, token.split(".")[2]):
        assert secret not in log
    assert any(r["logger"] == "gunicorn" and "Booting worker" in r["message"] for r in records)
    assert any(r["logger"] == "tokenidp" and "TokenIDP ready" in r["message"] for r in records)
    access = [record for record in records if record["logger"] == "tokenidp.access"]
    first = next(record for record in access if record["request_id"] == "trace-token-1")
    assert first["client_id"] == CLIENT_ID
    assert (first["method"], first["path"], first["status"]) == ("POST", TOKEN_PATH, 200)
    assert first["duration_ms"] >= 0 and first["bytes"] > 0
    refused = [r for r in access if r["path"] == TOKEN_PATH and r["status"] == 401]
    assert refused and refused[0]["client_id"] == CLIENT_ID
    health = next(record for record in access if record["path"] == "/healthz")
    assert health["client_id"] is None, "a keep-alive connection's next request starts clean"
    assert any(r["path"] == "/no/such/path" and r["status"] == 404 for r in access)


def test_an_unknown_log_format_is_one_line_naming_the_setting(store, config_dir, rsa_key):
    with pytest.raises(ConfigError) as refused:
        log_format({"TOKENIDP_LOG_FORMAT": "xml"})
    assert str(refused.value) == "TOKENIDP_LOG_FORMAT: 'xml' is not one of text, json"
    added = store.add(key=rsa_key)
    result = run_tokenidp(
        "check",
        environ={
            **store.environ(CertificateThumbprint=added.thumbprint),
            "TOKENIDP_LOG_FORMAT": "xml",
            "TOKENIDP_CONFIG_DIR": str(config_dir),
        },
    )
    assert result.returncode == 2
    assert "TOKENIDP_LOG_FORMAT: 'xml' is not one of text, json" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_refused_start_is_one_json_line_naming_the_setting(store, config_dir):
    idp = Gunicorn(
        {
            **store.environ(CertificateThumbprint="AB" * 20),
            "TOKENIDP_LOG_FORMAT": "json",
        },
        cwd=config_dir,
    )
    idp.process.wait(timeout=30)
    stderr = idp.stop()

    assert idp.process.returncode != 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    [refusal] = [line for line in lines if line["message"].startswith("refusing to start:")]
    assert refusal["level"] == "ERROR"
    assert "TokenOptions:CertificateThumbprint" in refusal["message"]
    assert "Traceback" not in stderr
