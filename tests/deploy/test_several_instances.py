"""Several instances behind a load balancer: two gunicorn IdPs on different loopback ports
sharing one PostgreSQL database act as one IdP."""

from __future__ import annotations

import pytest
import requests
from database_support import PostgresqlSchema, requires_postgresql
from idp_support import CLIENT_ID, CLIENT_SECRET, Gunicorn
from revocation_support import idp_environ

from app.documents import DISCOVERY_PATH, INTROSPECTION_PATH, JWKS_PATH, REVOCATION_PATH


@pytest.fixture
def two_instances(store, config_dir, rsa_key):
    schema = PostgresqlSchema()
    signing = store.add(key=rsa_key)
    environ = idp_environ(store, config_dir, schema.url, CertificateThumbprint=signing.thumbprint)
    instances = [
        Gunicorn(environ, cwd=config_dir, log=config_dir.parent / f"instance-{n}.log")
        for n in (1, 2)
    ]
    try:
        for instance in instances:
            instance.wait_ready()
        yield instances
    finally:
        for instance in instances:
            instance.stop()
        schema.drop()


@requires_postgresql
@pytest.mark.slow
def test_two_instances_on_one_database_act_as_one_idp(two_instances):
    first, second = two_instances

    for path in (DISCOVERY_PATH, JWKS_PATH):
        one, other = (requests.get(f"{i.url}{path}", timeout=5) for i in two_instances)
        assert one.content == other.content, f"{path} differs between instances"
        assert one.headers["ETag"] == other.headers["ETag"]

    token = first.issue_token()
    revoked = requests.post(
        f"{second.url}{REVOCATION_PATH}",
        data={"token": token},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert revoked.status_code == 200
    introspected = requests.post(
        f"{first.url}{INTROSPECTION_PATH}",
        data={"token": token},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert introspected.json() == {"active": False}, "revoked on one, refused on the other"
