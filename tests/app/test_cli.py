"""The `tokenidp` command as a whole: version, secret hashes, configuration warnings, and
permission problems as one line with exit status 2."""

from __future__ import annotations

import importlib.metadata
import tomllib

import pytest
from idp_support import ROOT, invoke_tokenidp
from idp_support import run_tokenidp as tokenidp

from app.cli import package_version
from app.config import hash_client_secret

MISSPELLED = {"TokenOptions__Isuer": "https://id.example.test"}


def test_hash_secret_reads_standard_input():
    result = tokenidp("hash-secret", stdin="demo-secret\n")
    assert result.returncode == 0
    assert result.stdout.strip() == hash_client_secret("demo-secret")


def test_version_is_the_installed_distributions():
    result = tokenidp("--version")

    assert result.returncode == 0
    assert result.stdout == f"tokenidp {importlib.metadata.version('tokenidp')}\n"


def test_version_falls_back_to_pyproject_when_the_distribution_is_not_installed(monkeypatch):
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())

    assert package_version() == pyproject["project"]["version"]


@pytest.mark.parametrize(
    "command",
    [("keys", "status", "--offline"), ("certs", "list"), ("config", "show")],
    ids=" ".join,
)
def test_configuration_warnings_are_printed_once_on_stderr(store, config_dir, rsa_key, command):
    signing = store.add(key=rsa_key)
    environ = {
        **store.environ(CertificateThumbprint=signing.thumbprint),
        **MISSPELLED,
        "TOKENIDP_CONFIG_DIR": str(config_dir),
    }

    result = invoke_tokenidp(*command, environ=environ)

    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "tokenidp: warning: $TokenOptions__Isuer: unknown setting TokenOptions:Isuer "
        "(did you mean TokenOptions:Issuer?); it is ignored"
    ]
    assert "Isuer" not in result.stdout


def test_check_prints_configuration_warnings_once(store, config_dir, rsa_key):
    signing = store.add(key=rsa_key)
    environ = {**store.environ(CertificateThumbprint=signing.thumbprint), **MISSPELLED}

    result = tokenidp("check", environ=environ, cwd=config_dir)

    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "Isuer" in line] == [
        "tokenidp: warning: $TokenOptions__Isuer: unknown setting TokenOptions:Isuer "
        "(did you mean TokenOptions:Issuer?); it is ignored"
    ]


def test_a_config_folder_the_service_user_cannot_open_is_one_line_and_exit_2(tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "appsettings.json").write_text("{}")
    config_dir.chmod(0)
    try:
        result = tokenidp(
            "keys",
            "status",
            environ={"TOKENIDP_CONFIG_DIR": str(config_dir)},
            as_service_user=True,
        )
    finally:
        config_dir.chmod(0o755)

    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"tokenidp: {config_dir}")
    assert "permission denied" in result.stderr.lower()
