"""An IdP signing with a real RSA certificate, on each database engine, on a movable clock,
with the people clients registered and one user."""

from __future__ import annotations

import pytest
from clients_support import MovableClock
from grants_support import add_user, register_people_clients
from revocation_support import Idp, idp_environ


@pytest.fixture
def signing_certificate(store, rsa_key):
    return store.add(key=rsa_key, subject="CN=tokenidp signing 2026, O=Example")


@pytest.fixture
def environ(store, config_dir, signing_certificate, database_url):
    return idp_environ(
        store, config_dir, database_url, CertificateThumbprint=signing_certificate.thumbprint
    )


@pytest.fixture
def web_secret(environ):
    return register_people_clients(environ)


@pytest.fixture
def clock():
    return MovableClock()


@pytest.fixture
def idp(environ, config_dir, web_secret, clock):
    idp = Idp(environ, config_dir, clock=clock)
    add_user(idp.services.storage)
    return idp
