"""Failed client authentication is rate-limited per address and per client id, on memory
and on Redis, and a correct secret is never locked out by someone else's failures."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from idp_support import CLIENT_ID, CLIENT_SECRET, free_port
from ops_support import REDIS_URL, requires_redis, sample
from sqlalchemy import select

from app import create_app
from app.config import load_config
from app.documents import INTROSPECTION_PATH, TOKEN_PATH
from app.storage.schema import audit_events

STORAGES = ["memory", pytest.param("redis", marks=requires_redis)]


@pytest.fixture
def signing(store, rsa_key):
    return store.add(key=rsa_key, subject="CN=limits signing")


@pytest.fixture(params=STORAGES)
def limits_environ(request):
    """Counting in memory, or in Redis under a key prefix of this test's own."""
    if request.param == "memory":
        return {}
    return {
        "TOKENIDP_REDIS_URL": REDIS_URL,
        "TOKENIDP_REDIS_KEY_PREFIX": f"tokenidp-test-{uuid.uuid4().hex}",
    }


def make_app(store, config_dir, signing, **environ):
    settings = load_config(
        {**store.environ(CertificateThumbprint=signing.thumbprint), **environ},
        config_dir=config_dir,
    )
    return create_app(settings)


def token(client, secret: str, address: str, client_id: str = CLIENT_ID):
    return client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        environ_base={"REMOTE_ADDR": address},
    )


def audited(app, event: str) -> list:
    storage = app.extensions["tokenidp"].storage
    with storage.reading() as connection:
        return list(connection.execute(select(audit_events).where(audit_events.c.event == event)))


def test_an_address_over_its_limit_gets_429_even_with_the_right_secret(
    store, config_dir, signing, limits_environ
):
    app = make_app(
        store, config_dir, signing, RateLimits__FailuresPerAddress="3/minute", **limits_environ
    )
    client = app.test_client()
    for _ in range(3):
        assert token(client, "guess", "198.51.100.1").status_code == 401
    refused = token(client, CLIENT_SECRET, "198.51.100.1")
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "slow_down"
    assert "from this address (3 per 1 minute)" in refused.get_json()["error_description"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Cache-Control"] == "no-store"
    assert token(client, CLIENT_SECRET, "198.51.100.2").status_code == 200, "another address"


def test_a_client_over_its_limit_is_refused_only_where_failures_came_from(
    store, config_dir, signing, limits_environ
):
    """Failures spread over many addresses lock the client id at those addresses; the real
    client, at an address with no failure, is never locked out by them."""
    app = make_app(
        store,
        config_dir,
        signing,
        RateLimits__FailuresPerAddress="10/minute",
        RateLimits__FailuresPerId="4/minute",
        **limits_environ,
    )
    client = app.test_client()
    for attacker in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"):
        assert token(client, "guess", attacker).status_code == 401
    refused = token(client, CLIENT_SECRET, "203.0.113.1")
    assert refused.status_code == 429
    assert "for this client (4 per 1 minute)" in refused.get_json()["error_description"]
    assert token(client, "guess", "203.0.113.4").status_code == 429, "no more guesses there"
    assert token(client, CLIENT_SECRET, "192.0.2.10").status_code == 200, "the real client"
    other = app.test_client()
    assert token(other, CLIENT_SECRET, "192.0.2.10").status_code == 200


def test_a_shared_address_is_locked_no_longer_than_the_window_after_the_last_failure(
    store, config_dir, signing, limits_environ
):
    app = make_app(
        store,
        config_dir,
        signing,
        RateLimits__FailuresPerAddress="2 per 2 seconds",
        **limits_environ,
    )
    client = app.test_client()
    token(client, "guess", "198.51.100.7")
    last_failure = time.monotonic()
    token(client, "guess", "198.51.100.7")
    refused = token(client, CLIENT_SECRET, "198.51.100.7")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) <= 2
    for _ in range(5):  # refusals are not failures: they do not extend the block
        assert token(client, "guess", "198.51.100.7").status_code == 429
    time.sleep(max(0.0, last_failure + 2.1 - time.monotonic()))
    assert token(client, CLIENT_SECRET, "198.51.100.7").status_code == 200


def test_a_rate_limit_is_audited_once_per_window_and_counted(
    store, config_dir, signing, limits_environ
):
    app = make_app(
        store, config_dir, signing, RateLimits__FailuresPerAddress="2/minute", **limits_environ
    )
    client = app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(2):
        token(client, "guess", "198.51.100.9")
    for _ in range(5):
        assert token(client, "guess", "198.51.100.9").status_code == 429
    events = audited(app, "client.rate_limited")
    assert len(events) == 1
    assert events[0].address == "198.51.100.9"
    assert events[0].client_id == CLIENT_ID
    assert "2 per 1 minute" in events[0].reason
    after = client.get("/metrics").get_data(as_text=True)
    name = "tokenidp_rate_limited_requests_total"
    labels = {"kind": "client", "limit": "address"}
    assert sample(after, name, **labels) == sample(before, name, **labels) + 5


def test_introspection_failures_count_toward_the_same_limit(
    store, config_dir, signing, limits_environ
):
    app = make_app(
        store, config_dir, signing, RateLimits__FailuresPerAddress="2/minute", **limits_environ
    )
    client = app.test_client()
    for _ in range(2):
        response = client.post(
            INTROSPECTION_PATH,
            data={"token": "x"},
            auth=(CLIENT_ID, "guess"),
            environ_base={"REMOTE_ADDR": "198.51.100.11"},
        )
        assert response.status_code == 401
    assert token(client, CLIENT_SECRET, "198.51.100.11").status_code == 429


@requires_redis
def test_two_instances_sharing_redis_count_together(store, config_dir, signing):
    environ = {
        "TOKENIDP_REDIS_URL": REDIS_URL,
        "TOKENIDP_REDIS_KEY_PREFIX": f"tokenidp-test-{uuid.uuid4().hex}",
        "RateLimits__FailuresPerAddress": "4/minute",
    }
    first = make_app(store, config_dir, signing, **environ).test_client()
    second = make_app(store, config_dir, signing, **environ).test_client()
    for client in (first, second, first, second):
        assert token(client, "guess", "198.51.100.20").status_code == 401
    assert token(first, CLIENT_SECRET, "198.51.100.20").status_code == 429
    assert token(second, CLIENT_SECRET, "198.51.100.20").status_code == 429


def test_unreachable_redis_fails_open_to_this_process_with_one_log_line(
    store, config_dir, signing, caplog
):
    app = make_app(
        store,
        config_dir,
        signing,
        TOKENIDP_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        RateLimits__FailuresPerAddress="3/minute",
    )
    client = app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    with caplog.at_level(logging.INFO, logger="tokenidp"):
        assert token(client, CLIENT_SECRET, "198.51.100.30").status_code == 200
        for _ in range(3):
            assert token(client, "guess", "198.51.100.30").status_code == 401
        assert token(client, CLIENT_SECRET, "198.51.100.30").status_code == 429
    lines = [record.getMessage() for record in caplog.records if "Redis" in record.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("rate limits: Redis cannot be reached")
    after = client.get("/metrics").get_data(as_text=True)
    name = "tokenidp_rate_limit_storage_errors_total"
    assert sample(after, name) >= sample(before, name) + 1


def test_failed_logins_are_limited_as_the_login_page_calls_them(
    store, config_dir, signing, limits_environ
):
    from app.ops.logins import login_refusal, record_failed_login

    app = make_app(
        store,
        config_dir,
        signing,
        RateLimits__FailuresPerAddress="10/minute",
        RateLimits__FailuresPerId="3/minute",
        **limits_environ,
    )
    services = app.extensions["tokenidp"]
    before = app.test_client().get("/metrics").get_data(as_text=True)
    for address in ("198.51.100.40", "198.51.100.41", "198.51.100.42"):
        assert login_refusal(services, address=address, username="alice") is None
        record_failed_login(services, address=address, username="alice", reason="wrong_password")
    refusal = login_refusal(services, address="198.51.100.40", username="alice")
    assert refusal is not None and refusal.limit == "id"
    assert "for this account (3 per 1 minute)" in refusal.description
    assert login_refusal(services, address="192.0.2.50", username="alice") is None
    assert login_refusal(services, address="198.51.100.40", username="bob") is None
    login_refusal(services, address="198.51.100.41", username="alice")
    events = audited(app, "login.rate_limited")
    assert [(event.subject, event.client_id) for event in events] == [("alice", None)]
    after = app.test_client().get("/metrics").get_data(as_text=True)
    name = "tokenidp_login_failures_total"
    reason = {"reason": "wrong_password"}
    assert sample(after, name, **reason) == sample(before, name, **reason) + 3


@requires_redis
def test_failures_another_instance_counted_are_seen_here_within_a_second(
    store, config_dir, signing
):
    """Each process remembers a clean address for one second (a Redis round trip costs a
    quarter of a token); failures counted elsewhere hold here once it has passed."""
    environ = {
        "TOKENIDP_REDIS_URL": REDIS_URL,
        "TOKENIDP_REDIS_KEY_PREFIX": f"tokenidp-test-{uuid.uuid4().hex}",
        "RateLimits__FailuresPerAddress": "3/minute",
    }
    first = make_app(store, config_dir, signing, **environ).test_client()
    second = make_app(store, config_dir, signing, **environ).test_client()
    assert token(second, CLIENT_SECRET, "198.51.100.60").status_code == 200
    remembered = time.monotonic()
    for _ in range(3):
        assert token(first, "guess", "198.51.100.60").status_code == 401
    time.sleep(max(0.0, remembered + 1.05 - time.monotonic()))
    assert token(second, CLIENT_SECRET, "198.51.100.60").status_code == 429
