"""Health and readiness: ready only while the signing certificate is valid."""

from __future__ import annotations

import datetime as dt

from app import create_app


def test_healthz_and_readyz_report_the_signing_key(client, signing_certificate):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["kid"] == signing_certificate.thumbprint


def test_not_ready_once_the_signing_certificate_has_expired(store, config_dir, rsa_key):
    now = dt.datetime.now(dt.UTC)
    added = store.add(key=rsa_key, not_after=now + dt.timedelta(hours=1))
    clock = [now.timestamp()]
    app = create_app(
        store.settings(config_dir, CertificateThumbprint=added.thumbprint), clock=lambda: clock[0]
    )
    assert app.test_client().get("/readyz").status_code == 200
    clock[0] += 2 * 3600
    expired = app.test_client().get("/readyz")
    assert expired.status_code == 503
    assert expired.get_json()["status"] == "signing certificate expired"


def test_start_up_warns_when_the_signing_certificate_expires_soon(
    store, config_dir, rsa_key, caplog
):
    import logging

    now = dt.datetime.now(dt.UTC)
    added = store.add(key=rsa_key, not_after=now + dt.timedelta(days=10, hours=1))
    logger = logging.getLogger("tokenidp")
    logger.propagate = True
    try:
        with caplog.at_level(logging.WARNING, logger="tokenidp"):
            create_app(store.settings(config_dir, CertificateThumbprint=added.thumbprint))
    finally:
        logger.propagate = False
    assert f"the signing certificate {added.thumbprint} expires in 10 days" in caplog.text
