"""What the publisher reads from the certificate store: certificates only, never a secret.

The release role publishes public keys, so it must work without
TokenOptions:CertificatePassword and without the private keys; it refuses what the IdP
refuses (a development certificate outside Development); and a store file or folder it
cannot read is one line, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import pytest
from cryptography import x509
from idp_support import ROOT, unprivileged
from publisher_support import DISCOVERY_KEY, JWKS_KEY, published_objects, run_publisher

from app.config import load_config
from app.documents import render_documents
from app.keys.certificates import sha1_thumbprint
from app.keys.dev_key import ensure_development_key
from app.keys.keyring import load_keyring
from app.keys.records import NO_RECORDS

PASSWORD = "pfx password the release role never sees"


@pytest.fixture
def locked_signing(store, rsa_key):
    """A password-protected .pfx with its .crt companion, as `certs import` leaves them."""
    return store.add(key=rsa_key, password=PASSWORD, with_certificate_file=True)


def test_publishes_without_the_pfx_password_exactly_what_the_idp_serves(
    store, config_dir, locked_signing, session, bucket
):
    base = {"TOKENIDP_CONFIG_DIR": str(config_dir)}
    release = {**store.environ(CertificateThumbprint=locked_signing.thumbprint), **base}
    idp = {**release, "TokenOptions__CertificatePassword": PASSWORD}
    assert "TokenOptions__CertificatePassword" not in release
    idp_settings = load_config(idp)
    served = render_documents(
        idp_settings, load_keyring(idp_settings, records=NO_RECORDS, now=dt.datetime.now(dt.UTC))
    )

    result = run_publisher(f"--target=s3://{bucket}", environ=release, session=session)

    assert result.status == 0, result.stderr
    objects = published_objects(session)
    assert objects[JWKS_KEY] == served.jwks.body  # byte for byte
    assert objects[DISCOVERY_KEY] == served.discovery.body


def test_pfx_without_its_certificate_file_asks_for_the_crt_not_the_password(
    store, config_dir, rsa_key, session, bucket, recorder
):
    locked = store.add(key=rsa_key, password=PASSWORD)  # no .crt beside it
    environ = {
        **store.environ(CertificateThumbprint=locked.thumbprint),
        "TOKENIDP_CONFIG_DIR": str(config_dir),
    }

    result = run_publisher(f"--target=s3://{bucket}", environ=environ, session=session)

    assert result.status == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("publisher: TokenOptions:CertificatePassword: cannot open ")
    assert "put the certificate alone beside each .pfx as THUMBPRINT.crt" in result.stderr
    assert recorder.reached == []


@pytest.fixture(scope="module")
def development_pem(tmp_path_factory) -> bytes:
    """The development certificate and key, made by the IdP's own development-key code."""
    instance = tmp_path_factory.mktemp("instance")
    entry = ensure_development_key(instance, now=dt.datetime.now(dt.UTC))
    return entry.path.read_bytes()


@pytest.fixture
def development(store, development_pem) -> str:
    """The development certificate copied into the store; returns its thumbprint."""
    (store.folder / "development-signing-key.pem").write_bytes(development_pem)
    return sha1_thumbprint(x509.load_pem_x509_certificate(development_pem))


@pytest.mark.parametrize("environment", ["Production", "Staging"])
@pytest.mark.parametrize("setting", ["CertificateThumbprint", "AdditionalValidationCertificates"])
def test_development_certificate_is_refused_outside_development_and_nothing_is_written(
    store, config_dir, signing, development, session, bucket, recorder, environment, setting
):
    listed = (
        {"CertificateThumbprint": development}
        if setting == "CertificateThumbprint"
        else {"CertificateThumbprint": signing.thumbprint, setting: development}
    )
    environ = {
        **store.environ(**listed),
        "TOKENIDP_ENVIRONMENT": environment,
        "TOKENIDP_CONFIG_DIR": str(config_dir),
    }

    result = run_publisher(f"--target=s3://{bucket}", environ=environ, session=session)

    assert result.status == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"publisher: TokenOptions:{setting}: certificate {development}")
    assert f"is a development key; {environment} requires a real certificate" in result.stderr
    assert result.stdout == ""
    assert recorder.reached == []
    assert published_objects(session) == {}


def test_development_certificate_is_published_in_development(
    store, config_dir, development, session, bucket
):
    environ = {
        **store.environ(CertificateThumbprint=development),
        "TOKENIDP_ENVIRONMENT": "Development",
        "TOKENIDP_CONFIG_DIR": str(config_dir),
    }

    result = run_publisher(f"--target=s3://{bucket}", environ=environ, session=session)

    assert result.status == 0, result.stderr
    assert f'"kid":"{development}"' in published_objects(session)[JWKS_KEY].decode()


def publish_as_service_user(environ: dict[str, str], folder) -> subprocess.CompletedProcess:
    """`python -m publisher` without root's power to read any file, as the release user."""
    env = {
        **os.environ,
        **environ,
        "PYTHONPATH": str(ROOT),
        "TOKENIDP_PUBLISH_TARGET": folder.as_uri(),
    }
    return subprocess.run(
        unprivileged([sys.executable, "-m", "publisher"]),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_unreadable_unrelated_store_file_does_not_stop_publication(
    store, tmp_path, environ, rsa_key
):
    unrelated = store.add(key=rsa_key, subject="CN=someone else", file_name="unrelated")
    unrelated.path.chmod(0)
    site = tmp_path / "site"

    completed = publish_as_service_user(environ, site)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert (site / ".well-known/jwks.json").is_file()


def test_unreadable_store_folder_is_one_line_naming_the_setting(store, tmp_path, environ):
    site = tmp_path / "site"
    store.folder.chmod(0)
    try:
        completed = publish_as_service_user(environ, site)
    finally:
        store.folder.chmod(0o755)

    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert completed.stderr.startswith("publisher: TokenOptions:CertificateThumbprint: ")
    assert f"{store.folder}: the folder is unreadable: permission denied" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not site.exists()


def test_unprivileged_run_cannot_read_a_mode_000_file(tmp_path):
    """The two tests above prove something only if the service user really cannot read."""
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0)

    completed = subprocess.run(
        unprivileged([shutil.which("cat") or "/bin/cat", str(secret)]),
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip

    assert completed.returncode != 0 and "Permission denied" in completed.stderr
