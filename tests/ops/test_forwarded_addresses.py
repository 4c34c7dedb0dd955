"""Behind the README's nginx every request comes from 127.0.0.1: the client's address is
taken from `X-Forwarded-For`, but only from a trusted proxy (`TOKENIDP_TRUSTED_PROXIES`),
so rate limits count clients apart and metrics are not served through the proxy."""

from __future__ import annotations

import ipaddress

import pytest
from idp_support import CLIENT_ID, CLIENT_SECRET

from app import create_app
from app.config import load_config
from app.documents import TOKEN_PATH
from app.errors import ConfigError
from app.http.forwarded import ClientAddresses

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        ("127.0.0.1", ["198.51.100.1, 203.0.113.5"], "203.0.113.5"),  # left: the client's word
        ("127.0.0.1", ["203.0.113.5, 127.0.0.1"], "203.0.113.5"),  # trusted hops skipped
        ("127.0.0.1", ["203.0.113.5", "127.0.0.2"], "203.0.113.5"),  # two header lines
        ("127.0.0.1", ["not-an-address"], "127.0.0.1"),
        ("127.0.0.1", ["::ffff:203.0.113.5"], "::ffff:203.0.113.5"),
        ("198.51.100.9", ["127.0.0.1"], "198.51.100.9"),  # an untrusted peer's header: ignored
        ("-", ["203.0.113.5"], "203.0.113.5"),  # a unix socket peer is local
    ],
)
def test_the_client_is_the_rightmost_untrusted_forwarded_address(peer, forwarded, client):
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    assert ClientAddresses(LOOPBACK).resolve(peer, headers) == client


def test_no_trusted_proxy_means_the_peer_is_the_client():
    headers = [(b"x-forwarded-for", b"203.0.113.5")]
    assert ClientAddresses(()).resolve("127.0.0.1", headers) == "127.0.0.1"


@pytest.fixture
def app(store, config_dir, rsa_key):
    signing = store.add(key=rsa_key)
    environ = {
        **store.environ(CertificateThumbprint=signing.thumbprint),
        "RateLimits__FailuresPerAddress": "2/minute",
    }
    return create_app(load_config(environ, config_dir=config_dir))


def test_metrics_are_not_served_through_the_proxy(app):
    client = app.test_client()
    assert client.get("/metrics").status_code == 200
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.5"})
    assert proxied.status_code == 403


def test_rate_limits_count_each_client_behind_the_proxy_apart(app):
    client = app.test_client()

    def token(secret: str, address: str) -> int:
        return client.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, secret),
            headers={"X-Forwarded-For": address},
        ).status_code

    assert [token("guess", "203.0.113.5") for _ in range(3)] == [401, 401, 429]
    assert token(CLIENT_SECRET, "203.0.113.6") == 200


def test_a_bad_trusted_proxy_is_one_line_naming_the_setting(store, config_dir):
    with pytest.raises(ConfigError) as refused:
        load_config(
            {**store.environ(), "TOKENIDP_TRUSTED_PROXIES": "10.0.0.0/8, nginx"},
            config_dir=config_dir,
        )
    assert str(refused.value).startswith(
        "TOKENIDP_TRUSTED_PROXIES: 'nginx' is not a network such as 10.0.0.0/8"
    )
