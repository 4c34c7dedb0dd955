"""The tokenidp-validator distribution installs on its own and validates a real token.

A fresh virtual environment gets `pip install ./validator` and nothing else: its dependencies
come from the package index, not from the project's venv, and no `app` package is in sight.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from validator_support import AUDIENCE, ISSUER, mint_token

VALIDATOR_SOURCE = Path(__file__).resolve().parents[2] / "validator"

# Run by the fresh venv's interpreter in isolated mode (-I: no PYTHONPATH, no script folder).
VALIDATE_ONE_TOKEN = """
import importlib.metadata, importlib.util, json, sys
import tokenidp_validator
from tokenidp_validator import JWKSClient, validate_token

token, jwks_uri, issuer, audience = sys.stdin.read().split()
access_token = validate_token(
    token, jwks_client=JWKSClient(jwks_uri), issuer=issuer, audience=audience
)
print(json.dumps({
    "kid": access_token.kid,
    "version": importlib.metadata.version("tokenidp-validator"),
    "module": tokenidp_validator.__file__,
    "importable": {name: importlib.util.find_spec(name) is not None for name in ("app", "flask")},
}))
"""


def _run(*command: str | Path, cwd: Path, stdin: str | None = None) -> str:
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.mark.slow
def test_validator_installs_alone_in_a_fresh_venv_and_validates_a_token(
    tmp_path, jwks_server, rsa_signer
):
    # A copy, so the in-tree build leaves nothing in the checkout.
    source = shutil.copytree(
        VALIDATOR_SOURCE,
        tmp_path / "validator",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", source, cwd=tmp_path)

    token = mint_token(rsa_signer)
    output = _run(
        python,
        "-I",
        "-c",
        VALIDATE_ONE_TOKEN,
        cwd=tmp_path,
        stdin=f"{token} {jwks_server.url} {ISSUER} {AUDIENCE}",
    )

    result = json.loads(output)
    assert result["kid"] == rsa_signer.kid
    assert result["version"] == "0.1.0"
    assert Path(result["module"]).is_relative_to(venv)
    assert result["importable"] == {"app": False, "flask": False}
    assert jwks_server.stub.fetch_count == 1
