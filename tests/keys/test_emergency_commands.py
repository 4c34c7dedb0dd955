"""`tokenidp keys revoke`, `keys activate --emergency` and `keys emergency-rollover`: each
writes the record behind the lifecycle with its audit event; the rollover refuses without
a usable replacement, stops at a failed step saying how to resume, and resumes there."""

from __future__ import annotations

import json

import pytest
from idp_support import invoke_tokenidp
from revocation_support import Idp, idp_environ
from sqlalchemy import select

from app.keys.records import read_key_records
from app.storage.schema import audit_events, revocation_rules


@pytest.fixture
def deployment(store, config_dir, signing_certificate_pair, database_url):
    signing, spare = signing_certificate_pair
    environ = idp_environ(store, config_dir, database_url, CertificateThumbprint=signing.thumbprint)
    idp = Idp(environ, config_dir)
    return idp, environ, signing, spare


def tokenidp(environ, *args, stdin=None):
    return invoke_tokenidp(*args, environ=environ, stdin=stdin)


def records(idp):
    with idp.services.storage.reading() as connection:
        return read_key_records(connection)


def admin_events(idp) -> list[tuple[str, str, str]]:
    with idp.services.storage.reading() as connection:
        rows = connection.execute(
            select(audit_events.c.event, audit_events.c.kid, audit_events.c.reason)
            .where(audit_events.c.event.like("admin.keys.%"))
            .order_by(audit_events.c.id)
        )
        return [tuple(row) for row in rows]


def test_revoke_records_the_key_with_who_and_why(deployment):
    idp, environ, _, spare = deployment
    pasted = " ".join(spare.thumbprint[i : i + 2] for i in range(0, 40, 2)).lower()
    result = tokenidp(environ, "keys", "revoke", pasted, "--reason", "left on a laptop", "--yes")
    assert result.exit_code == 0, result.output
    assert f"revoked {spare.thumbprint}" in result.output
    revocation = records(idp).revocations[spare.thumbprint]
    assert revocation.reason == "left on a laptop"
    assert admin_events(idp) == [("admin.keys.revoke", spare.thumbprint, "left on a laptop")]
    again = tokenidp(environ, "keys", "revoke", spare.thumbprint, "--reason", "twice", "--yes")
    assert again.exit_code == 0 and "already revoked" in again.output
    assert records(idp).revocations[spare.thumbprint].reason == "left on a laptop"


def test_revoke_asks_for_confirmation_and_a_reason(deployment):
    idp, environ, _, spare = deployment
    unconfirmed = tokenidp(environ, "keys", "revoke", spare.thumbprint, "--reason", "why")
    assert unconfirmed.exit_code == 2 and "add --yes" in unconfirmed.output
    no_reason = tokenidp(environ, "keys", "revoke", spare.thumbprint, "--yes")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    not_a_kid = tokenidp(environ, "keys", "revoke", "orders-key", "--reason", "r", "--yes")
    assert not_a_kid.exit_code == 2
    assert records(idp).revocations == {}


def test_an_emergency_activation_signs_at_once_in_a_running_instance(deployment):
    idp, environ, signing, spare = deployment
    without_flag = tokenidp(environ, "keys", "activate", spare.thumbprint, "--reason", "r")
    assert without_flag.exit_code == 2 and "activates by itself" in without_flag.output
    result = tokenidp(
        environ, "keys", "activate", spare.thumbprint, "--emergency", "--reason", "drill"
    )
    assert result.exit_code == 0, result.output
    assert records(idp).emergency.kid == spare.thumbprint
    idp.services.keys.refresh()
    assert idp.services.keyring.signing.kid == spare.thumbprint
    assert admin_events(idp) == [("admin.keys.activate", spare.thumbprint, "drill")]


def test_an_emergency_activation_of_a_key_not_in_the_store_is_refused(deployment):
    idp, environ, _, _ = deployment
    result = tokenidp(environ, "keys", "activate", "AB" * 20, "--emergency", "--reason", "r")
    assert result.exit_code == 1
    assert f"no certificate {'AB' * 20}" in result.output
    assert records(idp).emergency is None


def test_a_rollover_without_a_usable_replacement_is_refused(store, config_dir, rsa_key):
    only = store.add(key=rsa_key)
    environ = idp_environ(
        store,
        config_dir,
        f"sqlite:///{config_dir / 'db.sqlite3'}",
        CertificateThumbprint=only.thumbprint,
    )
    Idp(environ, config_dir)
    result = tokenidp(
        environ, "keys", "emergency-rollover", "--compromised", only.thumbprint, "--yes"
    )
    assert result.exit_code == 1
    assert "no valid, non-revoked replacement certificate" in result.output
    assert "tokenidp certs import" in result.output


def test_a_rollover_stops_at_a_failed_step_and_a_second_run_resumes_there(
    config_dir, signing_certificate_pair, file_cdn, cdn_environ
):
    signing, spare = signing_certificate_pair
    folder, _ = file_cdn
    environ = cdn_environ()
    idp = Idp(environ, config_dir)
    idp.issue()
    arguments = ("keys", "emergency-rollover", "--compromised", signing.thumbprint, "--yes")

    failed = tokenidp({**environ, "TOKENIDP_PUBLISH_TARGET": ""}, *arguments)
    assert failed.exit_code == 1
    assert "step 'publish' failed" in failed.output
    assert "run the same command again to resume at this step" in failed.output
    assert records(idp).revocations.keys() == {signing.thumbprint}

    resumed = tokenidp({**environ, "TOKENIDP_PUBLISH_TARGET": folder.as_uri()}, *arguments)
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming the rollover of {signing.thumbprint} to {spare.thumbprint}" in resumed.output
    assert "[done] revoke the key, activate the replacement" in resumed.output
    assert "[ ok ] publish" in resumed.output
    published = json.loads((folder / ".well-known" / "jwks.json").read_bytes())
    assert [key["kid"] for key in published["keys"]] == [spare.thumbprint]
    with idp.services.storage.reading() as connection:
        [rule] = connection.execute(select(revocation_rules)).all()
    assert (rule.kind, rule.value) == ("kid", signing.thumbprint)
    assert [event for event, _, _ in admin_events(idp)] == [
        "admin.keys.revoke",
        "admin.keys.activate",
        "admin.keys.emergency_rollover",
    ]
