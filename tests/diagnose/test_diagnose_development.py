"""diagnose judges a development IdP's key the way local APIs do: only when they opt in."""

from __future__ import annotations

import time

import pytest
from diagnose_support import diagnose, issue_token, origin_jwks, revoked_kids
from idp_support import client_environ
from idp_support import run_tokenidp as tokenidp

from app.config import load_config
from app.diagnosis import diagnose_token
from app.diagnosis.report import render_report
from app.diagnosis.sources import configured_origin


@pytest.fixture
def development_environ(tmp_path):
    return {
        "TOKENIDP_ENVIRONMENT": "Development",
        "TOKENIDP_INSTANCE_DIR": str(tmp_path / "instance"),
        **client_environ(),
    }


@pytest.fixture
def development_settings(development_environ, config_dir):
    return load_config(development_environ, config_dir=config_dir)


@pytest.fixture
def development_token(development_settings):
    return issue_token(development_settings)


def test_development_token_validates_when_diagnosed_in_development(
    development_settings, development_token
):
    diagnosis = diagnose(development_token, development_settings)
    assert diagnosis.would_validate, diagnosis.verdict.message


def test_development_key_is_reported_ignored_where_apis_do_not_opt_in(
    development_settings, development_token
):
    now = time.time()
    diagnosis = diagnose_token(
        development_token,
        responses=[configured_origin(origin_jwks(development_settings), now=now)],
        issuer=development_settings.token.issuer,
        audience=development_settings.token.audience,
        revoked_kids=revoked_kids(development_settings),
        now=now,
        leeway_seconds=30,
        allow_development_keys=False,
    )
    assert not diagnosis.would_validate
    (origin,) = diagnosis.sources
    assert origin.kids == ()
    assert "its x5c certificate is marked as a development key; refused" in origin.ignored[0]
    assert "marked as a development key" in render_report(diagnosis, now=now)


def test_tokenidp_diagnose_in_development_accepts_the_development_key(
    development_environ, development_token, config_dir
):
    result = tokenidp("diagnose", development_token, environ=development_environ, cwd=config_dir)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("verdict: the token validates at every source")
