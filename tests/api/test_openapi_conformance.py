"""The OpenAPI description at `/openapi.json` holds for a live IdP under gunicorn.

schemathesis (not our code) generates requests from the description, valid and not, with
a real client's credentials, and checks every answer: no 5xx, a documented status, content
type and headers, and a body matching its schema. Whether a schema-valid request must be
accepted is not checked: an OAuth endpoint rightly refuses a well-formed form whose
credentials or grant are wrong.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import requests
from idp_support import CLIENT_ID, CLIENT_SECRET, Gunicorn, venv_bin

from app.api import OPENAPI_PATH, load_description

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
    )
)


@pytest.fixture
def idp(store, config_dir, rsa_key):
    signing = store.add(key=rsa_key)
    server = Gunicorn(
        store.environ(CertificateThumbprint=signing.thumbprint),
        cwd=config_dir,
        log=config_dir.parent / "gunicorn.log",
    )
    server.wait_ready()
    yield server
    server.stop()


def test_the_served_description_is_the_file_with_this_issuer_as_server(idp):
    served = requests.get(f"{idp.url}{OPENAPI_PATH}", timeout=5).json()

    assert served["servers"] == [{"url": "https://id.example.test"}]
    assert {**served, "servers": None} == {**load_description(), "servers": None}


@pytest.mark.slow
def test_every_answer_matches_the_description(idp, tmp_path):
    result = subprocess.run(
        [
            venv_bin("schemathesis"),
            "run",
            f"{idp.url}{OPENAPI_PATH}",
            "--url",
            idp.url,
            "--checks",
            CHECKS,
            "--auth",
            f"{CLIENT_ID}:{CLIENT_SECRET}",
            "--max-examples",
            "40",
            "--seed",
            "20261126",
            "--request-timeout",
            "10",
            "--max-redirects",
            "0",  # a redirect to a client's redirect URI leaves loopback: never follow it
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=240,
    )
    output = result.stdout.decode(errors="replace")  # it quotes the bytes it sent

    assert result.returncode == 0, output[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None and int(generated[1]) > 100, output[-2000:]
    assert "Traceback" not in idp.stderr()
