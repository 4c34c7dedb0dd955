"""`GET /metrics`: the series operators watch, counted where the IdP acts, and who may
read them (`Metrics:AllowedNetworks`, `Metrics:BearerSecretSha256`)."""

from __future__ import annotations

import time

import pytest
from idp_support import CLIENT_ID, CLIENT_SECRET
from ops_support import sample, samples

from app import create_app
from app.config import hash_client_secret, load_config
from app.documents import DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH
from app.errors import ConfigError
from app.keys.records import record_observations

METRICS_PATH = "/metrics"


@pytest.fixture
def signing(store, rsa_key):
    return store.add(key=rsa_key, subject="CN=metrics signing")


def make_app(store, config_dir, signing, **environ):
    settings = load_config(
        {**store.environ(CertificateThumbprint=signing.thumbprint), **environ},
        config_dir=config_dir,
    )
    return create_app(settings)


@pytest.fixture
def app(store, config_dir, signing):
    return make_app(store, config_dir, signing)


def scrape(client, **kwargs) -> str:
    response = client.get(METRICS_PATH, **kwargs)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.get_data(as_text=True)


def test_tokens_are_counted_by_grant_client_and_kid(app, signing):
    client = app.test_client()
    labels = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "kid": signing.thumbprint}
    before = sample(scrape(client), "tokenidp_tokens_issued_total", **labels)
    histogram_before = sample(scrape(client), "tokenidp_token_request_duration_seconds_count")
    for _ in range(3):
        response = client.post(
            TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
        )
        assert response.status_code == 200
    text = scrape(client)
    assert sample(text, "tokenidp_tokens_issued_total", **labels) == before + 3
    assert sample(text, "tokenidp_token_request_duration_seconds_count") == histogram_before + 3


def test_failed_client_authentication_is_counted_by_reason_never_by_presented_id(app):
    client = app.test_client()
    before = scrape(client)
    client.post(TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, "wrong"))
    client.post(TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=("made-up-client", "x"))
    text = scrape(client)
    for reason in ("wrong_secret", "unknown_client"):
        name = "tokenidp_client_authentication_failures_total"
        assert sample(text, name, reason=reason) == sample(before, name, reason=reason) + 1
    assert "made-up-client" not in text


def test_jwks_and_discovery_requests_count_their_304s(app):
    client = app.test_client()
    etag = client.get(JWKS_PATH).headers["ETag"]
    before = scrape(client)
    client.get(JWKS_PATH)
    client.get(JWKS_PATH, headers={"If-None-Match": etag})
    client.get(JWKS_PATH, headers={"If-None-Match": etag})
    client.get(DISCOVERY_PATH)
    text = scrape(client)
    name = "tokenidp_document_requests_total"

    def grew(document: str, status: str) -> float:
        labels = {"document": document, "status": status}
        return sample(text, name, **labels) - sample(before, name, **labels)

    assert (grew("jwks", "200"), grew("jwks", "304"), grew("discovery", "200")) == (1, 2, 1)


def test_every_published_key_reports_days_to_expiry_and_time_since_observed(
    store, config_dir, signing, other_rsa_key
):
    next_key = store.add(key=other_rsa_key, subject="CN=metrics next")
    app = make_app(
        store,
        config_dir,
        signing,
        TokenOptions__AdditionalValidationCertificates=next_key.thumbprint,
    )
    services = app.extensions["tokenidp"]
    observed_at = int(time.time()) - 120
    with services.storage.transaction() as work:
        record_observations(
            work, [signing.thumbprint], now=observed_at, observed_by="test", jwks_uri="x"
        )
    services.keys.refresh()
    text = scrape(app.test_client())
    expiry = dict(
        (labels["kid"], (labels["role"], value))
        for labels, value in samples(text, "tokenidp_key_expiry_days")
    )
    assert expiry[signing.thumbprint][0] == "signing"
    assert expiry[next_key.thumbprint][0] == "next"
    assert 89 < expiry[signing.thumbprint][1] <= 90
    seconds = sample(text, "tokenidp_key_observed_seconds", kid=signing.thumbprint)
    assert 120 <= seconds < 180


def test_the_keyring_in_use_is_one_series_naming_the_signing_kid_and_jwks_hash(app, signing):
    services = app.extensions["tokenidp"]
    services.keys.refresh()
    text = scrape(app.test_client())
    current = [labels for labels, value in samples(text, "tokenidp_keyring_info") if value == 1]
    assert current == [
        {
            "signing_kid": signing.thumbprint,
            "jwks_sha256": services.documents.jwks.sha256_hex,
        }
    ]


def test_storage_errors_are_counted(store, config_dir, signing):
    from sqlalchemy import text as sql

    app = make_app(store, config_dir, signing)
    services = app.extensions["tokenidp"]
    before = sample(scrape(app.test_client()), "tokenidp_storage_errors_total", kind="unreachable")
    from app.storage import StorageUnavailableError

    with pytest.raises(StorageUnavailableError):
        with services.storage.reading() as connection:
            connection.execute(sql("SELECT * FROM no_such_table_or_database"))
    after = sample(scrape(app.test_client()), "tokenidp_storage_errors_total", kind="unreachable")
    assert after == before + 1


def test_metrics_are_refused_outside_loopback_by_default(app):
    response = app.test_client().get(METRICS_PATH, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "access_denied"


def test_allowed_networks_admit_the_scraper_and_ipv4_mapped_addresses(store, config_dir, signing):
    app = make_app(store, config_dir, signing, Metrics__AllowedNetworks="10.20.0.0/16")
    client = app.test_client()
    assert client.get(METRICS_PATH, environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    mapped = client.get(METRICS_PATH, environ_base={"REMOTE_ADDR": "::ffff:10.20.3.4"})
    assert mapped.status_code == 200
    assert client.get(METRICS_PATH).status_code == 403, "loopback is no longer listed"


def test_a_bearer_secret_is_required_when_configured(store, config_dir, signing):
    app = make_app(
        store,
        config_dir,
        signing,
        Metrics__AllowedNetworks="0.0.0.0/0",
        Metrics__BearerSecretSha256=hash_client_secret("scrape me"),
    )
    client = app.test_client()
    remote = {"REMOTE_ADDR": "198.51.100.7"}
    missing = client.get(METRICS_PATH, environ_base=remote)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer ")
    wrong = {"Authorization": "Bearer scrape you"}
    assert client.get(METRICS_PATH, environ_base=remote, headers=wrong).status_code == 401
    basic = {"Authorization": "Basic scrape me"}
    assert client.get(METRICS_PATH, environ_base=remote, headers=basic).status_code == 401
    right = {"Authorization": "Bearer scrape me"}
    assert client.get(METRICS_PATH, environ_base=remote, headers=right).status_code == 200


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"Metrics__AllowedNetworks": "10.0.0.0/33"},
            "Metrics:AllowedNetworks: '10.0.0.0/33' is not a network such as 10.0.0.0/8",
        ),
        (
            {"Metrics__AllowedNetworks": "0.0.0.0/0"},
            "Metrics:AllowedNetworks: covers every address and Metrics:BearerSecretSha256 is "
            "not set",
        ),
        (
            {"Metrics__BearerSecretSha256": "not base64!"},
            "Metrics:BearerSecretSha256: not a base64 SHA-256 digest",
        ),
        (
            {"RateLimits__FailuresPerAddress": "lots"},
            "RateLimits:FailuresPerAddress: 'lots' is not one rate such as 10/minute",
        ),
        (
            {"TOKENIDP_REDIS_URL": "http://127.0.0.1:6379"},
            "TOKENIDP_REDIS_URL: 'http://…' is not a Redis URL",
        ),
    ],
)
def test_bad_operations_settings_are_one_line_naming_the_setting(
    store, config_dir, signing, environ, message
):
    with pytest.raises(ConfigError) as refused:
        load_config(
            {**store.environ(CertificateThumbprint=signing.thumbprint), **environ},
            config_dir=config_dir,
        )
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_other_methods_are_refused(app):
    response = app.test_client().post(METRICS_PATH)
    assert response.status_code == 405
