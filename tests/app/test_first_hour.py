"""A new user's first hour: `make run` after following the Production walkthrough."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from idp_support import ROOT

from app import create_app
from app.config import load_config
from app.errors import ConfigError

PRODUCTION_SETTINGS = {
    "TokenOptions": {
        "Issuer": "https://id.example.com",
        "CertificateSubjectName": "CN=id.example.com signing",
        "CertificateStoreRoot": "/nonexistent/certstores",
    }
}


def test_production_settings_in_their_own_file_do_not_break_make_run(tmp_path):
    """`make run` is Development: it never reads appsettings.Production.json."""
    (tmp_path / "appsettings.Production.json").write_text(json.dumps(PRODUCTION_SETTINGS))
    settings = load_config(
        {"TOKENIDP_ENVIRONMENT": "Development", "TOKENIDP_INSTANCE_DIR": str(tmp_path / "i")},
        config_dir=tmp_path,
    )
    app = create_app(settings)
    assert app.extensions["tokenidp"].keyring.signing.is_development


def test_production_settings_in_appsettings_json_are_named_when_development_refuses_them(
    tmp_path,
):
    (tmp_path / "appsettings.json").write_text(json.dumps(PRODUCTION_SETTINGS))
    settings = load_config(
        {"TOKENIDP_ENVIRONMENT": "Development", "TOKENIDP_INSTANCE_DIR": str(tmp_path / "i")},
        config_dir=tmp_path,
    )
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert refused.value.setting == "TokenOptions:CertificateStoreRoot"
    assert "which every environment reads: keep Production settings in " in str(refused.value)
    assert "appsettings.Production.json" in str(refused.value)


def test_the_first_make_run_says_it_is_installing(tmp_path):
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert plan.returncode == 0, plan.stderr
    first = plan.stdout.splitlines()[0]
    assert first.startswith("echo") and "Installing TokenIDP" in first
