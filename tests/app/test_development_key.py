"""The development key: generated once, reused across restarts, refused in Production."""

from __future__ import annotations

import logging
import os

import pytest

from app import create_app
from app.config import load_config
from app.documents import JWKS_PATH
from app.errors import ConfigError


def _development(tmp_path, environment="Development"):
    return load_config(
        {
            "TOKENIDP_ENVIRONMENT": environment,
            "TOKENIDP_INSTANCE_DIR": str(tmp_path / "instance"),
            "TokenOptions__Issuer": "http://127.0.0.1:5000",
        },
        config_dir=tmp_path,
    )


def _signing_kid(app) -> str:
    return app.extensions["tokenidp"].keyring.signing.kid


def test_development_key_survives_a_restart(tmp_path):
    first = create_app(_development(tmp_path))
    second = create_app(_development(tmp_path))
    assert _signing_kid(first) == _signing_kid(second)
    [entry] = second.test_client().get(JWKS_PATH).get_json()["keys"]
    assert entry["kid"] == _signing_kid(first)
    key_file = tmp_path / "instance" / "development-signing-key.pem"
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"


def test_development_key_is_marked_and_logged_loudly(tmp_path, caplog):
    logger = logging.getLogger("tokenidp")
    logger.propagate = True
    try:
        with caplog.at_level(logging.WARNING, logger="tokenidp"):
            app = create_app(_development(tmp_path))
    finally:
        logger.propagate = False
    assert app.extensions["tokenidp"].keyring.signing.is_development
    assert any("DEVELOPMENT key" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("environment", ["Production", "Staging"])
def test_development_key_refused_in_production(tmp_path, environment):
    create_app(_development(tmp_path))
    with pytest.raises(ConfigError) as refused:
        create_app(_development(tmp_path, environment))
    assert refused.value.setting == "TokenOptions:CertificateThumbprint"


def test_development_key_refused_even_when_the_thumbprint_points_at_it(tmp_path):
    kid = _signing_kid(create_app(_development(tmp_path)))
    store = tmp_path / "stores" / "CurrentUser" / "My"
    store.mkdir(parents=True)
    (store / "copied.pem").write_bytes(
        (tmp_path / "instance" / "development-signing-key.pem").read_bytes()
    )
    settings = load_config(
        {
            "TokenOptions__Issuer": "https://id.example.test",
            "TokenOptions__CertificateStoreRoot": str(tmp_path / "stores"),
            "TokenOptions__CertificateThumbprint": kid,
        },
        config_dir=tmp_path,
    )
    with pytest.raises(ConfigError, match="is a development key; Production requires"):
        create_app(settings)
