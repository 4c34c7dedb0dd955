"""Under gunicorn with several workers, Redis counts every worker's failures together:
exactly the limit's worth of attempts get their secret checked."""

from __future__ import annotations

import uuid

import requests
from idp_support import CLIENT_ID, Gunicorn
from ops_support import REDIS_URL, requires_redis

from app.documents import TOKEN_PATH


@requires_redis
def test_workers_count_failures_together_in_redis(store, config_dir, rsa_key):
    added = store.add(key=rsa_key)
    environ = {
        **store.environ(CertificateThumbprint=added.thumbprint),
        "TOKENIDP_REDIS_URL": REDIS_URL,
        "TOKENIDP_REDIS_KEY_PREFIX": f"tokenidp-test-{uuid.uuid4().hex}",
        "RateLimits__FailuresPerAddress": "5/minute",
    }
    server = Gunicorn(environ, cwd=config_dir, workers=2)
    try:
        server.wait_ready()
        statuses = [
            requests.post(  # a new connection each time: both workers answer
                f"{server.url}{TOKEN_PATH}",
                data={"grant_type": "client_credentials"},
                auth=(CLIENT_ID, "guess"),
                timeout=5,
            ).status_code
            for _ in range(40)
        ]
    finally:
        server.stop()
    assert statuses.count(401) == 5
    assert statuses.count(429) == 35
