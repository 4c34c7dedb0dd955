"""Fixtures: an IdP signing with a real RSA certificate, its tokens, and a loopback CDN."""

from __future__ import annotations

import pytest
from diagnose_support import JwksServer, issue_token


@pytest.fixture
def signing(store, rsa_key):
    return store.add(key=rsa_key, subject="CN=tokenidp signing 2026")


@pytest.fixture
def settings(store, config_dir, signing):
    return store.settings(config_dir, CertificateThumbprint=signing.thumbprint)


@pytest.fixture
def token(settings):
    return issue_token(settings)


@pytest.fixture
def cdn():
    server = JwksServer()
    yield server
    server.stop()
