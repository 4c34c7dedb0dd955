"""A running IdP re-evaluates its keyring: renewals publish at once and sign after their
delay, revocations stop signing and leave the JWKS, instances sharing a database agree,
all without a restart. `refresh()` is what each worker's thread calls every interval;
these tests call it with the IdP's clock in hand."""

from __future__ import annotations

import json
import time

import pytest
from clients_support import MovableClock
from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore
from revocation_support import UNREACHABLE_DATABASE, Idp, header_of, idp_environ
from sqlalchemy import select

from app import create_app
from app.config import load_config
from app.documents import JWKS_PATH, TOKEN_PATH
from app.errors import ConfigError
from app.keys.instances import live_instances
from app.keys.records import read_key_records, record_observations, record_revocation
from app.storage.schema import audit_events

DELAY = 600


@pytest.fixture
def clock():
    return MovableClock()


def jwks_kids(idp: Idp) -> list[str]:
    body = idp.flask_app.test_client().get(JWKS_PATH).data
    return [key["kid"] for key in json.loads(body)["keys"]]


def token_kid(idp: Idp) -> str:
    return header_of(idp.issue())["kid"]


def revoke(idp: Idp, kid: str) -> None:
    """What `tokenidp keys revoke` writes."""
    with idp.services.storage.transaction() as work:
        record_revocation(work, kid, now=int(time.time()), actor="operator", reason="test")


def test_a_renewal_dropped_into_the_store_publishes_at_once_and_signs_after_its_delay(
    store, config_dir, database_url, clock, rsa_key, other_rsa_key
):
    old = store.add(key=rsa_key, subject="CN=tokenidp signing")
    environ = idp_environ(
        store,
        config_dir,
        database_url,
        CertificateSubjectName="tokenidp signing",
        KeyActivationDelay=str(DELAY),
    )
    idp = Idp(environ, config_dir, clock=clock)
    idp.services.keys.refresh()
    assert jwks_kids(idp) == [old.thumbprint]

    renewal = store.add(key=other_rsa_key, subject="CN=tokenidp signing")
    assert idp.services.keys.refresh(), "the renewal changes the keyring"
    assert sorted(jwks_kids(idp)) == sorted([old.thumbprint, renewal.thumbprint])
    assert token_kid(idp) == old.thumbprint, "published is not yet validated everywhere"

    clock.advance(DELAY - 1)
    idp.services.keys.refresh()
    assert token_kid(idp) == old.thumbprint
    clock.advance(1)
    idp.services.keys.refresh()
    assert token_kid(idp) == renewal.thumbprint
    assert sorted(jwks_kids(idp)) == sorted([old.thumbprint, renewal.thumbprint])
    activations = idp.audit("key.activated")
    assert [(row["kid"], json.loads(row["detail"])["source"]) for row in activations] == [
        (old.thumbprint, "start-up"),
        (renewal.thumbprint, "refresh"),
    ]


def test_a_revoked_key_stops_signing_and_leaves_the_jwks_within_one_refresh(
    store, config_dir, database_url, signing_certificate_pair
):
    signing, published = signing_certificate_pair
    environ = idp_environ(
        store,
        config_dir,
        database_url,
        CertificateThumbprint=signing.thumbprint,
        AdditionalValidationCertificates__0=published.thumbprint,
    )
    idp = Idp(environ, config_dir)
    token = idp.issue()
    revoke(idp, published.thumbprint)
    assert published.thumbprint in jwks_kids(idp), "until the next refresh"
    idp.services.keys.refresh()
    assert jwks_kids(idp) == [signing.thumbprint]

    revoke(idp, signing.thumbprint)
    idp.services.keys.refresh()
    assert jwks_kids(idp) == []
    refused = idp.post(
        TOKEN_PATH, {"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert refused.status == 503
    assert refused.json()["error"] == "temporarily_unavailable"
    assert not idp.is_active(token), "its tokens are refused at introspection"
    ready = idp.flask_app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert "is revoked" in ready.get_json()["status"]


def test_a_restart_refuses_a_revoked_signing_key(store, config_dir, database_url, rsa_key):
    signing = store.add(key=rsa_key)
    environ = idp_environ(store, config_dir, database_url, CertificateThumbprint=signing.thumbprint)
    revoke(Idp(environ, config_dir), signing.thumbprint)
    with pytest.raises(ConfigError, match="is revoked .`tokenidp keys revoke` by operator"):
        create_app(load_config(environ, config_dir=config_dir))


def test_two_instances_on_one_database_sign_alike_and_serve_identical_jwks(
    tmp_path, database_url, clock, rsa_key, other_rsa_key
):
    """Each instance has its own store folder (its own machine); a renewal is observed at
    the IdP's own JwksUri only once every live instance publishes it."""
    stores = [CertStore(tmp_path / name / "certstores") for name in ("a", "b")]
    deployed = stores[0].add(key=rsa_key, subject="CN=tokenidp signing")
    (stores[1].folder / deployed.path.name).write_bytes(deployed.path.read_bytes())
    instances = []
    for name, store in zip(("a", "b"), stores, strict=True):
        config_dir = tmp_path / name / "config"
        config_dir.mkdir()
        environ = idp_environ(
            store,
            config_dir,
            database_url,
            CertificateSubjectName="tokenidp signing",
            KeyActivationDelay=str(DELAY),
        )
        instances.append(Idp(environ, config_dir, clock=clock))
    a, b = instances

    def refresh_both() -> None:
        for idp in instances:
            idp.services.keys.refresh()

    refresh_both()
    with a.services.storage.reading() as connection:
        assert len(live_instances(connection, now=int(clock()), refresh_interval_seconds=10)) == 2

    renewal = stores[0].add(key=other_rsa_key, subject="CN=tokenidp signing")
    refresh_both()
    assert renewal.thumbprint in jwks_kids(a) and renewal.thumbprint not in jwks_kids(b)
    with a.services.storage.reading() as connection:
        assert renewal.thumbprint not in read_key_records(connection).observations, (
            "instance b does not publish it yet: validators reading b cannot have it"
        )
    clock.advance(DELAY)
    refresh_both()
    assert token_kid(a) != renewal.thumbprint

    (stores[1].folder / renewal.path.name).write_bytes(renewal.path.read_bytes())
    refresh_both()  # b publishes it now
    refresh_both()  # and a sees b's heartbeat: observed
    clock.advance(DELAY)
    refresh_both()
    assert token_kid(a) == token_kid(b) == renewal.thumbprint
    bodies = [idp.flask_app.test_client().get(JWKS_PATH).data for idp in instances]
    assert bodies[0] == bodies[1]


def test_a_start_during_a_database_outage_keeps_a_revoked_key_unpublished(
    store, config_dir, signing_certificate_pair
):
    signing, published = signing_certificate_pair
    options = {
        "CertificateThumbprint": signing.thumbprint,
        "AdditionalValidationCertificates__0": published.thumbprint,
    }
    database = f"sqlite:///{config_dir / 'tokenidp.sqlite3'}"
    idp = Idp(idp_environ(store, config_dir, database, **options), config_dir)
    revoke(idp, published.thumbprint)
    idp.services.keys.refresh()  # saves the records it read in the instance folder

    during_outage = Idp(idp_environ(store, config_dir, UNREACHABLE_DATABASE, **options), config_dir)
    assert jwks_kids(during_outage) == [signing.thumbprint]


def test_a_production_start_with_a_thumbprint_published_too_recently_says_how_long_is_left(
    store, config_dir, database_url, signing_certificate_pair
):
    current, switched_to = signing_certificate_pair
    environ = idp_environ(store, config_dir, database_url, CertificateThumbprint=current.thumbprint)
    idp = Idp(environ, config_dir)
    with idp.services.storage.transaction() as work:
        record_observations(
            work,
            [switched_to.thumbprint],
            now=int(time.time()) - 1200,
            observed_by="publisher",
            jwks_uri="https://keys.example.test/.well-known/jwks.json",
        )
    switched = idp_environ(
        store, config_dir, database_url, CertificateThumbprint=switched_to.thumbprint
    )
    with pytest.raises(ConfigError) as refused:
        create_app(load_config(switched, config_dir=config_dir))
    message = str(refused.value)
    assert message.startswith("TokenOptions:CertificateThumbprint: ")
    assert "\n" not in message
    assert "may sign in 40 min" in message
    assert "tokenidp keys status" in message


def test_the_instance_heartbeat_names_its_keyring(store, config_dir, database_url, rsa_key):
    signing = store.add(key=rsa_key)
    environ = idp_environ(store, config_dir, database_url, CertificateThumbprint=signing.thumbprint)
    idp = Idp(environ, config_dir)
    idp.services.keys.refresh()
    with idp.services.storage.reading() as connection:
        [instance] = live_instances(connection, now=int(time.time()), refresh_interval_seconds=10)
        activations = (
            connection.execute(
                select(audit_events.c.kid).where(audit_events.c.event == "key.activated")
            )
            .scalars()
            .all()
        )
    assert instance.signing_kid == signing.thumbprint
    assert instance.published_kids == (signing.thumbprint,)
    assert instance.jwks_sha256 == idp.services.documents.jwks.sha256_hex
    assert activations == [signing.thumbprint]
    idp.services.keys.stop()
    with idp.services.storage.reading() as connection:
        assert live_instances(connection, now=int(time.time()), refresh_interval_seconds=10) == []
