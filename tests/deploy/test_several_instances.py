"""Several instances behind a load balancer: two gunicorn IdPs on different loopback ports
sharing one PostgreSQL database and one Redis act as one IdP: the same discovery and JWKS
bytes, a revocation or a spent refresh token on one holds on the other at once, and failed
authentications count across both."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from database_support import PostgresqlSchema, requires_postgresql
from grants_support import (
    REDIRECT_URI,
    WEB_CLIENT_ID,
    add_user,
    issue_code,
    refresh_form,
    register_people_clients,
)
from idp_support import CLIENT_ID, CLIENT_SECRET, Gunicorn
from ops_support import REDIS_URL, requires_redis
from revocation_support import idp_environ

from app.config import load_config
from app.documents import (
    DISCOVERY_PATH,
    INTROSPECTION_PATH,
    JWKS_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
)
from app.storage import open_storage

FAILURES_PER_ID = 4


@pytest.fixture
def two_instances(store, config_dir, rsa_key):
    schema = PostgresqlSchema()
    signing = store.add(key=rsa_key)
    environ = idp_environ(store, config_dir, schema.url, CertificateThumbprint=signing.thumbprint)
    environ.update(
        {
            "TOKENIDP_REDIS_URL": REDIS_URL,
            "TOKENIDP_REDIS_KEY_PREFIX": f"tokenidp-test-{uuid.uuid4().hex[:12]}",
            "RateLimits__FailuresPerId": f"{FAILURES_PER_ID}/minute",
        }
    )
    web_secret = register_people_clients(environ)
    storage = open_storage(load_config(environ, config_dir=config_dir))
    add_user(storage)
    instances = [
        Gunicorn(environ, cwd=config_dir, log=config_dir.parent / f"instance-{n}.log")
        for n in (1, 2)
    ]
    try:
        for instance in instances:
            instance.wait_ready()
        yield instances, storage, web_secret
    finally:
        for instance in instances:
            instance.stop()
        storage.engine.dispose()
        schema.drop()


def post_token(
    instance: Gunicorn, form: dict[str, str], auth: tuple[str, str]
) -> requests.Response:
    return requests.post(f"{instance.url}{TOKEN_PATH}", data=form, auth=auth, timeout=10)


@requires_postgresql
@requires_redis
@pytest.mark.slow
def test_two_instances_on_one_database_act_as_one_idp(two_instances):
    (first, second), storage, web_secret = two_instances
    web = (WEB_CLIENT_ID, web_secret)

    for path in (DISCOVERY_PATH, JWKS_PATH):
        one, other = (requests.get(f"{i.url}{path}", timeout=5) for i in (first, second))
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

    # A refresh token spent on one cannot be replayed on the other; its successor works there.
    code = issue_code(storage, now=time.time())
    signed_in = post_token(
        first,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        web,
    ).json()
    spent = signed_in["refresh_token"]
    successor = post_token(first, refresh_form(spent), web)
    assert successor.status_code == 200, successor.text
    replayed = post_token(second, refresh_form(spent), web)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    assert (
        post_token(second, refresh_form(successor.json()["refresh_token"]), web).status_code == 200
    )

    # Failed authentications count across both instances (Redis).
    wrong = (CLIENT_ID, "not the secret")
    answers = [
        post_token(instance, {"grant_type": "client_credentials"}, wrong).status_code
        for instance in (first, second) * FAILURES_PER_ID
    ]
    assert answers[:FAILURES_PER_ID] == [401] * FAILURES_PER_ID
    assert set(answers[FAILURES_PER_ID:]) == {429}, answers
