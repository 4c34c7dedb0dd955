"""The `tokenidp` command: certificates into a store, a readable key status, secret hashes."""

from __future__ import annotations

from idp_support import run_tokenidp as tokenidp

from app.config import hash_client_secret


def test_hash_secret_reads_standard_input():
    result = tokenidp("hash-secret", stdin="demo-secret\n")
    assert result.returncode == 0
    assert result.stdout.strip() == hash_client_secret("demo-secret")


def test_create_list_and_use_a_certificate(store, config_dir):
    environ = store.environ()
    environ["SIGNING_PFX_PASSWORD"] = "pfx password"
    created = tokenidp(
        "certs",
        "create-self-signed",
        "--subject",
        "CN=id.example.test signing 2026",
        "--password-env",
        "SIGNING_PFX_PASSWORD",
        "--location",
        "LocalMachine",
        "--store-root",
        str(store.root),
        environ=environ,
        cwd=config_dir,
    )
    assert created.returncode == 0, created.stderr
    thumbprint = created.stdout.split()[0]
    assert (store.folder / f"{thumbprint}.pfx").exists()
    ec = tokenidp(
        "certs",
        "create-self-signed",
        "--subject",
        "CN=ec next",
        "--key-type",
        "ec",
        "--format",
        "pem",
        environ=environ,
        cwd=config_dir,
    )
    assert ec.returncode == 0, ec.stderr
    ec_thumbprint = ec.stdout.split()[0]

    locked = tokenidp("certs", "list", environ=environ, cwd=config_dir)
    assert "unreadable: password-protected" in locked.stdout
    environ["TokenOptions__CertificatePassword"] = "pfx password"
    listed = tokenidp("certs", "list", environ=environ, cwd=config_dir)
    assert listed.returncode == 0
    assert thumbprint in listed.stdout and "RSA-2048" in listed.stdout
    assert "EC P-256" in listed.stdout and "unreadable" not in listed.stdout

    environ.update(
        {
            "TokenOptions__CertificateThumbprint": thumbprint,
            "TokenOptions__CertificatePassword": "pfx password",
            "TokenOptions__AdditionalValidationCertificates": ec_thumbprint,
        }
    )
    status = tokenidp("keys", "status", environ=environ, cwd=config_dir)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[1].split() == [
        "KID",
        "ROLE",
        "ALG",
        "SUBJECT",
        "NOT",
        "AFTER",
        "DAYS",
        "LEFT",
        "SOURCE",
    ]
    signing_row = next(line for line in lines if line.startswith(thumbprint))
    assert " signing " in signing_row and "RS256" in signing_row and " 364 " in signing_row
    next_row = next(line for line in lines if line.startswith(ec_thumbprint))
    assert " next " in next_row and "ES256" in next_row


def test_create_refuses_to_overwrite(store, config_dir):
    environ = store.environ()
    args = ("certs", "create-self-signed", "--subject", "CN=a", "--file-name", "signing")
    assert tokenidp(*args, environ=environ, cwd=config_dir).returncode == 0
    again = tokenidp(*args, environ=environ, cwd=config_dir)
    assert again.returncode == 1
    assert "exists already; nothing was written" in again.stderr


def test_import_copies_a_readable_certificate_into_the_store(store, config_dir, rsa_key, tmp_path):
    from idp_support import CertStore

    elsewhere = CertStore(tmp_path / "elsewhere").add(key=rsa_key, password="pw")
    environ = {**store.environ(), "PFX_PASSWORD": "pw"}
    result = tokenidp(
        "certs",
        "import",
        str(elsewhere.path),
        "--password-env",
        "PFX_PASSWORD",
        environ=environ,
        cwd=config_dir,
    )
    assert result.returncode == 0, result.stderr
    assert (
        store.folder / f"{elsewhere.thumbprint}.pfx"
    ).read_bytes() == elsewhere.path.read_bytes()
    wrong = tokenidp(
        "certs", "import", str(elsewhere.path), environ=store.environ(), cwd=config_dir
    )
    assert wrong.returncode == 1 and "password" in wrong.stderr


def test_keys_status_with_a_bad_configuration_exits_2(store, config_dir):
    result = tokenidp(
        "keys", "status", environ=store.environ(CertificateThumbprint="AB" * 20), cwd=config_dir
    )
    assert result.returncode == 2
    assert result.stderr.startswith("tokenidp: TokenOptions:CertificateThumbprint: no certificate")
    assert "Traceback" not in result.stderr
