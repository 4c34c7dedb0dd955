"""`tokenidp keys status`: the keyring in 80 columns or wide, as JSON, and an expiry check."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from idp_support import invoke_tokenidp
from idp_support import run_tokenidp as tokenidp

from app.keys.expiry import EXPIRY_WARNING_DAYS, expires_soon
from app.keys.keyring import load_keyring
from app.keys.records import NO_RECORDS


def _environ(store, config_dir, **options):
    return {**store.environ(**options), "TOKENIDP_CONFIG_DIR": str(config_dir)}


@pytest.fixture
def rotation(store, rsa_key, ec_key):
    """An RSA key signing, an EC key published as next."""
    now = dt.datetime.now(dt.UTC)
    signing = store.add(key=rsa_key, subject="CN=tokenidp signing 2026, O=Example Corporation")
    upcoming = store.add(
        key=ec_key, subject="CN=tokenidp signing 2027", not_before=now + dt.timedelta(days=1)
    )
    return signing, upcoming


def test_keys_status_fits_80_columns_with_full_kids(store, config_dir, rotation):
    signing, upcoming = rotation
    environ = _environ(
        store,
        config_dir,
        CertificateThumbprint=signing.thumbprint,
        AdditionalValidationCertificates=upcoming.thumbprint,
    )

    result = invoke_tokenidp("keys", "status", "--offline", environ=environ)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[1].split() == ["KID", "ROLE", "ALG", "NOT", "AFTER", "DAYS", "LEFT"]
    signing_row = next(line for line in lines if line.startswith(signing.thumbprint))
    assert signing_row.split()[1:3] == ["signing", "RS256"]
    assert signing_row.split()[4] in ("88", "89")
    next_row = next(line for line in lines if line.startswith(upcoming.thumbprint))
    assert next_row.split()[1:3] == ["next", "ES256"]
    below_signing = lines[lines.index(signing_row) + 1 :]
    assert below_signing[0] == "  subject    CN=tokenidp signing 2026,O=Example Corporation"
    source = below_signing[1].removeprefix("  source     ")
    assert source.startswith("…") and source.endswith(f"{signing.thumbprint}.pfx")


def test_keys_status_wide_prints_every_value_in_full(store, config_dir, rotation):
    signing, _ = rotation
    environ = _environ(store, config_dir, CertificateThumbprint=signing.thumbprint)

    result = invoke_tokenidp("keys", "status", "--offline", "--wide", environ=environ)

    row = next(line for line in result.stdout.splitlines() if line.startswith(signing.thumbprint))
    assert f"CN=tokenidp signing 2026,O=Example Corporation  {signing.path}" in row


def test_keys_status_json_is_the_keyring(store, config_dir, rotation):
    signing, upcoming = rotation
    environ = _environ(
        store,
        config_dir,
        CertificateThumbprint=signing.thumbprint,
        AdditionalValidationCertificates=upcoming.thumbprint,
        RevokedCertificateThumbprints="AB" * 20,
    )

    result = invoke_tokenidp("keys", "status", "--offline", "--json", environ=environ)

    document = json.loads(result.stdout)
    assert document["environment"] == "Production"
    assert [(key["kid"], key["role"]) for key in document["keys"]] == sorted(
        [(signing.thumbprint, "signing"), (upcoming.thumbprint, "next")]
    )
    signing_key = next(key for key in document["keys"] if key["role"] == "signing")
    assert signing_key["source"] == str(signing.path)
    assert signing_key["algorithm"] == "RS256"
    assert document["revoked_kids"] == ["AB" * 20]
    assert document["signing_expires_soon"] is False


@pytest.mark.parametrize(("days", "exit_status"), [(29, 1), (31, 0)])
def test_keys_status_exits_1_when_the_signing_key_expires_within_30_days(
    store, config_dir, rsa_key, days, exit_status
):
    now = dt.datetime.now(dt.UTC)
    signing = store.add(key=rsa_key, not_after=now + dt.timedelta(days=days, hours=1))

    result = tokenidp(
        "keys",
        "status",
        "--offline",
        environ=store.environ(CertificateThumbprint=signing.thumbprint),
        cwd=config_dir,
    )

    assert result.returncode == exit_status, result.stderr
    assert signing.thumbprint in result.stdout
    rotate = [line for line in result.stderr.splitlines() if "rotate it" in line]
    if exit_status:
        assert rotate == [
            f"tokenidp: the signing certificate {signing.thumbprint} expires in {days} days "
            "(less than 30): rotate it (README: Rotating keys)"
        ]
    else:
        assert rotate == []


def test_the_expiry_rule_is_fewer_than_30_whole_days_left(store, config_dir, rsa_key):
    now = dt.datetime.now(dt.UTC)
    signing = store.add(key=rsa_key, not_after=now + dt.timedelta(days=40))
    key = load_keyring(
        store.settings(config_dir, CertificateThumbprint=signing.thumbprint),
        records=NO_RECORDS,
        now=now,
    ).signing

    just_inside = key.not_after - dt.timedelta(days=EXPIRY_WARNING_DAYS) + dt.timedelta(seconds=1)
    exactly_30_days = key.not_after - dt.timedelta(days=EXPIRY_WARNING_DAYS)

    assert EXPIRY_WARNING_DAYS == 30
    assert expires_soon(key, now=just_inside)
    assert not expires_soon(key, now=exactly_30_days)
    assert not expires_soon(key, now=now)


def test_keys_status_with_a_bad_configuration_exits_2(store, config_dir):
    result = tokenidp(
        "keys", "status", environ=store.environ(CertificateThumbprint="AB" * 20), cwd=config_dir
    )
    assert result.returncode == 2
    assert result.stderr.startswith("tokenidp: TokenOptions:CertificateThumbprint: no certificate")
    assert "Traceback" not in result.stderr


def test_keys_status_names_the_development_key_as_refused_outside_development(config_dir):
    environ = {
        "TOKENIDP_ENVIRONMENT": "Development",
        "TOKENIDP_CONFIG_DIR": str(config_dir),
        "TOKENIDP_INSTANCE_DIR": str(config_dir / "instance"),
    }

    result = invoke_tokenidp("keys", "status", "--offline", environ=environ)

    assert result.exit_code == 0, result.stderr
    kid = result.stdout.splitlines()[3].split()[0]
    assert result.stdout.splitlines()[3].split()[1] == "signing"
    assert f"development key (refused outside Development): {kid}" in result.stdout
    assert "note: signing with the DEVELOPMENT key" in result.stderr
