"""Each start records the key it signs with, naming the key that signed before it."""

from __future__ import annotations

import json
import time

from idp_support import CertStore, new_key
from sqlalchemy import select

from app import create_app
from app.config import load_config
from app.keys.records import record_observations
from app.storage import Storage
from app.storage.engine import create_storage_engine
from app.storage.migrate import upgrade
from app.storage.schema import audit_events


def test_every_start_records_the_signing_key_and_the_one_before(database_url, tmp_path):
    engine = create_storage_engine(database_url)
    upgrade(engine)
    store = CertStore(tmp_path / "certstores")
    first = store.add(key=new_key("ec"), subject="CN=first")
    second = store.add(key=new_key("ec"), subject="CN=second")
    # Published and observed at JwksUri well before the switch, as the runbook has it.
    with Storage(engine).transaction() as work:
        record_observations(
            work,
            [second.thumbprint],
            now=int(time.time()) - 7200,
            observed_by="publisher",
            jwks_uri="https://cdn.example.test/.well-known/jwks.json",
        )
    for signing in (first, second, second):
        environ = {
            **store.environ(CertificateThumbprint=signing.thumbprint),
            "TOKENIDP_DATABASE_URL": database_url,
        }
        create_app(load_config(environ, config_dir=tmp_path))
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_events.c.event, audit_events.c.kid, audit_events.c.detail).order_by(
                audit_events.c.id
            )
        ).all()
    engine.dispose()
    assert [(event, kid) for event, kid, _ in rows] == [
        ("key.activated", first.thumbprint),
        ("key.activated", second.thumbprint),
        ("key.activated", second.thumbprint),
    ]
    details = [json.loads(detail) for _, _, detail in rows]
    assert details[0] == {"source": "start-up"}
    assert details[1] == {"source": "start-up", "previous_kid": first.thumbprint}
    assert details[2] == {"source": "start-up"}, "a restart with the same key names no other"
