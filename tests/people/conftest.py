"""An IdP environment on a migrated database of each engine, as the CLI and the app read it."""

from __future__ import annotations

import pytest
from clients_support import idp_environ


@pytest.fixture
def signing_certificate(store, rsa_key):
    return store.add(key=rsa_key, subject="CN=tokenidp signing 2026, O=Example")


@pytest.fixture
def environ(store, config_dir, signing_certificate, database_url):
    return idp_environ(store, config_dir, signing_certificate, database_url)
