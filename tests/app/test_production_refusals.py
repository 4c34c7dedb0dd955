"""Production refuses to start on every unsafe key, with one line naming the setting.

Each case is checked three ways, as operators meet it: `create_app` raises ConfigError,
`tokenidp check` exits 2, and gunicorn stops at once with a non-zero status.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from idp_support import ROOT, CertStore, venv_bin
from roca_support import roca_private_key

from app import create_app
from app.config import load_config
from app.errors import ConfigError
from app.keys.dev_key import ensure_development_key

NOW = dt.datetime.now(dt.UTC)


def nothing_configured(store: CertStore, keys) -> dict:
    store.add(key=keys["rsa"])
    return store.environ()


def thumbprint_not_found(store: CertStore, keys) -> dict:
    store.add(key=keys["rsa"], subject="CN=old-signing")
    return store.environ(CertificateThumbprint="AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12")


def subject_not_found(store: CertStore, keys) -> dict:
    store.add(key=keys["rsa"], subject="CN=old-signing")
    return store.environ(CertificateSubjectName="CN=new-signing")


def certificate_without_private_key(store: CertStore, keys) -> dict:
    added = store.add(key=keys["rsa"], file_format="pem", with_private_key=False)
    return store.environ(CertificateThumbprint=added.thumbprint)


def wrong_pkcs12_password(store: CertStore, keys) -> dict:
    added = store.add(key=keys["rsa"], password="right password")
    return store.environ(CertificateThumbprint=added.thumbprint, CertificatePassword="wrong")


def expired(store: CertStore, keys) -> dict:
    added = store.add(
        key=keys["rsa"],
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=1),
    )
    return store.environ(CertificateThumbprint=added.thumbprint)


def not_yet_valid(store: CertStore, keys) -> dict:
    added = store.add(key=keys["rsa"], not_before=NOW + dt.timedelta(days=1))
    return store.environ(CertificateThumbprint=added.thumbprint)


def rsa_1024(store: CertStore, keys) -> dict:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    added = store.add(key=weak)
    return store.environ(CertificateThumbprint=added.thumbprint)


def roca_key(store: CertStore, keys) -> dict:
    """Key material from smart cards and TPMs with Infineon's flawed generator."""
    added = store.add(key=roca_private_key())
    return store.environ(CertificateThumbprint=added.thumbprint)


def roca_key_published(store: CertStore, keys) -> dict:
    signing = store.add(key=keys["rsa"])
    weak = store.add(key=roca_private_key(), subject="CN=smart card")
    return store.environ(
        CertificateThumbprint=signing.thumbprint, AdditionalValidationCertificates=weak.thumbprint
    )


def revoked_thumbprint(store: CertStore, keys) -> dict:
    added = store.add(key=keys["rsa"])
    return store.environ(
        CertificateThumbprint=added.thumbprint, RevokedCertificateThumbprints=added.thumbprint
    )


def development_key(store: CertStore, keys) -> dict:
    entry = ensure_development_key(store.root.parent / "instance", now=NOW)
    (store.folder / "dev.pem").write_bytes(entry.path.read_bytes())
    return store.environ(CertificateThumbprint=entry.sha1_thumbprint)


def development_key_published(store: CertStore, keys) -> dict:
    signing = store.add(key=keys["rsa"])
    entry = ensure_development_key(store.root.parent / "instance", now=NOW)
    (store.folder / "dev.pem").write_bytes(entry.path.read_bytes())
    return store.environ(
        CertificateThumbprint=signing.thumbprint,
        AdditionalValidationCertificates=entry.sha1_thumbprint,
    )


def certificate_in_another_location(store: CertStore, keys) -> dict:
    other = CertStore(store.root, location="CurrentUser", name=store.name)
    added = other.add(key=keys["rsa"])
    return store.environ(CertificateThumbprint=added.thumbprint)


def certificate_in_another_store_name(store: CertStore, keys) -> dict:
    other = CertStore(store.root, location=store.location, name="WebHosting")
    other.add(key=keys["rsa"], subject="CN=signing 2027")
    return store.environ(CertificateSubjectName="CN=signing 2027")


def encrypted_pem_without_password(store: CertStore, keys) -> dict:
    added = store.add(key=keys["rsa"], file_format="pem")
    certificate, key = added.path.read_bytes().split(b"-----END CERTIFICATE-----\n")
    encrypted = keys["rsa"].private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pem password"),
    )
    added.path.write_bytes(certificate + b"-----END CERTIFICATE-----\n" + encrypted)
    return store.environ(CertificateThumbprint=added.thumbprint)


REFUSALS = [
    (nothing_configured, "TokenOptions:CertificateThumbprint", "no signing certificate configured"),
    (thumbprint_not_found, "TokenOptions:CertificateThumbprint", "1 there: "),
    (subject_not_found, "TokenOptions:CertificateSubjectName", "CN=old-signing"),
    (certificate_without_private_key, "TokenOptions:CertificateThumbprint", "no private key"),
    (wrong_pkcs12_password, "TokenOptions:CertificatePassword", "wrong or missing password"),
    (expired, "TokenOptions:CertificateThumbprint", "expired on"),
    (not_yet_valid, "TokenOptions:CertificateThumbprint", "not valid until"),
    (rsa_1024, "TokenOptions:CertificateThumbprint", "RSA-1024"),
    (roca_key, "TokenOptions:CertificateThumbprint", "ROCA fingerprint (CVE-2017-15361)"),
    (
        roca_key_published,
        "TokenOptions:AdditionalValidationCertificates",
        "ROCA fingerprint (CVE-2017-15361)",
    ),
    (revoked_thumbprint, "TokenOptions:CertificateThumbprint", "is revoked"),
    (development_key, "TokenOptions:CertificateThumbprint", "is a development key"),
    (
        development_key_published,
        "TokenOptions:AdditionalValidationCertificates",
        "is a development key; Production requires a real certificate",
    ),
    (
        certificate_in_another_location,
        "TokenOptions:CertificateStoreLocation",
        "set TokenOptions:CertificateStoreLocation=CurrentUser",
    ),
    (
        certificate_in_another_store_name,
        "TokenOptions:CertificateStoreName",
        "set TokenOptions:CertificateStoreName=WebHosting",
    ),
    (
        encrypted_pem_without_password,
        "TokenOptions:CertificatePassword",
        "wrong or missing password",
    ),
]
IDS = [case.__name__ for case, _, _ in REFUSALS]


@pytest.fixture
def keys(rsa_key):
    return {"rsa": rsa_key}


@pytest.mark.parametrize(("case", "setting", "detail"), REFUSALS, ids=IDS)
def test_create_app_refuses(case, setting, detail, store, config_dir, keys):
    environ = case(store, keys)
    with pytest.raises(ConfigError) as refused:
        create_app(load_config(environ, config_dir=config_dir))
    assert refused.value.setting == setting
    assert str(refused.value).startswith(f"{setting}: ")
    assert detail in str(refused.value)
    assert "\n" not in str(refused.value)


def _run(command: list[str], environ: dict, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, **environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("case", "setting", "detail"), REFUSALS, ids=IDS)
def test_cli_exits_2_with_one_line(case, setting, detail, store, config_dir, keys):
    result = _run([venv_bin("tokenidp"), "check"], case(store, keys), config_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"tokenidp: {setting}: ")
    assert "Traceback" not in result.stderr


def test_gunicorn_stops_at_once_on_every_refusal(tmp_path, rsa_key):
    """The master loads the app once (preload_app): no workers restart in a loop."""
    cases = []
    for index, (case, setting, _) in enumerate(REFUSALS):
        case_store = CertStore(tmp_path / f"case{index}" / "certstores")
        config = tmp_path / f"case{index}" / "config"
        config.mkdir()
        cases.append((case.__name__, setting, case(case_store, {"rsa": rsa_key}), config))

    def start(name, setting, environ, config):
        command = [venv_bin("gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"), "wsgi:app"]
        environ = {**environ, "TOKENIDP_BIND": "127.0.0.1:0", "TOKENIDP_WORKERS": "2"}
        return name, setting, _run(command, environ, config)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda args: start(*args), cases))
    for name, setting, result in results:
        assert result.returncode != 0, name
        refusal = [line for line in result.stderr.splitlines() if line.startswith("tokenidp:")]
        assert refusal == [line for line in result.stderr.splitlines() if "tokenidp" in line]
        assert len(refusal) == 1 and f"tokenidp: refusing to start: {setting}: " in refusal[0]
        assert "Traceback" not in result.stderr, name
        assert "Booting worker" not in result.stderr, name
