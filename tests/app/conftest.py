"""An IdP signing with a real RSA certificate from a temporary store."""

from __future__ import annotations

import pytest
from idp_support import CLIENT_ID, CLIENT_SECRET

from app import create_app


@pytest.fixture
def signing_certificate(store, rsa_key):
    return store.add(key=rsa_key, subject="CN=tokenidp signing 2026, O=Example")


@pytest.fixture
def app(store, config_dir, signing_certificate):
    settings = store.settings(config_dir, CertificateThumbprint=signing_certificate.thumbprint)
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def basic_auth():
    return (CLIENT_ID, CLIENT_SECRET)
