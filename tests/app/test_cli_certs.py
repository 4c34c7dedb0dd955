"""`tokenidp certs ...`: create and import into a store, and a listing that tells the truth:
what start-up would refuse and each certificate's role, by the same rules start-up applies."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from idp_support import CertStore, invoke_tokenidp
from idp_support import run_tokenidp as tokenidp

from app.keys.certificates import DEVELOPMENT_MARKER, generate_private_key
from app.keys.keyring import load_keyring
from app.keys.records import NO_RECORDS
from app.keys.store import read_certificate_file

DEVELOPMENT_SUBJECT = f"CN=TokenIDP Development Signing Key, OU={DEVELOPMENT_MARKER}"


def _environ(store, config_dir, **options):
    return {**store.environ(**options), "TOKENIDP_CONFIG_DIR": str(config_dir)}


def _listed(result) -> dict[str, dict]:
    """`certs list --json` by file name."""
    return {item["file"].rsplit("/", 1)[1]: item for item in json.loads(result.stdout)["files"]}


@pytest.fixture(scope="module")
def weak_rsa_key():
    return generate_private_key("rsa", rsa_bits=1024)


@pytest.fixture(scope="module")
def p384_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP384R1())


def test_create_list_and_use_a_certificate(store, config_dir):
    environ = {**store.environ(), "SIGNING_PFX_PASSWORD": "pfx password"}
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
    assert "pfx password" not in created.stdout + created.stderr

    environ.update(
        TokenOptions__CertificateThumbprint=thumbprint,
        TokenOptions__CertificatePassword="pfx password",
    )
    status = tokenidp("keys", "status", "--offline", environ=environ, cwd=config_dir)
    assert status.returncode == 0, status.stderr
    signing_row = next(line for line in status.stdout.splitlines() if line.startswith(thumbprint))
    assert signing_row.split()[1:3] == ["signing", "RS256"]
    assert signing_row.split()[4] == "364"


def test_create_refuses_to_overwrite(store, config_dir):
    environ = store.environ()
    args = ("certs", "create-self-signed", "--subject", "CN=a", "--file-name", "signing")
    assert tokenidp(*args, environ=environ, cwd=config_dir).returncode == 0
    again = tokenidp(*args, environ=environ, cwd=config_dir)
    assert again.returncode == 1
    assert "exists already; nothing was written" in again.stderr


@pytest.mark.parametrize("file_format", ["pfx", "pem"])
def test_create_self_signed_writes_the_certificate_alone_beside_the_key(
    store, config_dir, file_format
):
    environ = {**_environ(store, config_dir), "SIGNING_PFX_PASSWORD": "pfx password"}
    password = ("--password-env", "SIGNING_PFX_PASSWORD") if file_format == "pfx" else ()
    result = invoke_tokenidp(
        "certs",
        "create-self-signed",
        "--subject",
        "CN=companion",
        "--format",
        file_format,
        *password,
        environ=environ,
    )

    assert result.exit_code == 0, result.stderr
    thumbprint = result.stdout.split()[0]
    key_file = store.folder / f"{thumbprint}.{file_format}"
    companion = store.folder / f"{thumbprint}.crt"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(companion.stat().st_mode) == 0o644
    assert b"PRIVATE KEY" not in companion.read_bytes()
    certificate = x509.load_pem_x509_certificate(companion.read_bytes())
    assert read_certificate_file(companion, password=None).sha1_thumbprint == thumbprint
    assert certificate.subject.rfc4514_string() == "CN=companion"
    assert f"-> {companion} (certificate only, for publishing)" in result.stdout


def test_the_companion_lets_the_release_role_publish_without_the_password(store, config_dir):
    environ = {**_environ(store, config_dir), "SIGNING_PFX_PASSWORD": "pfx password"}
    created = invoke_tokenidp(
        "certs",
        "create-self-signed",
        "--subject",
        "CN=published by the release role",
        "--password-env",
        "SIGNING_PFX_PASSWORD",
        environ=environ,
    )
    thumbprint = created.stdout.split()[0]
    no_password = store.settings(config_dir, CertificateThumbprint=thumbprint)

    keyring = load_keyring(
        no_password, records=NO_RECORDS, now=dt.datetime.now(dt.UTC), private_keys=False
    )

    assert [key.kid for key in keyring.keys] == [thumbprint]
    assert keyring.signing.source == str(store.folder / f"{thumbprint}.crt")


@pytest.mark.parametrize(
    ("options", "fix"),
    [((), "--password-env VAR"), (("--format", "pem"), "--format pfx --password-env VAR")],
    ids=["pfx", "pem"],
)
def test_create_self_signed_without_a_password_says_the_key_is_unencrypted_at_rest(
    store, config_dir, options, fix
):
    result = invoke_tokenidp(
        "certs",
        "create-self-signed",
        "--subject",
        "CN=plain",
        *options,
        environ=_environ(store, config_dir),
    )

    assert result.exit_code == 0, result.stderr
    key_file = result.stdout.splitlines()[0].split("-> ")[1]
    assert result.stderr.splitlines() == [
        f"tokenidp: warning: the private key in {key_file} is unencrypted at rest; keep it "
        f"mode 0600 for the service user only, or create it with {fix}"
    ]


def test_create_self_signed_with_a_password_gives_no_unencrypted_warning(store, config_dir):
    environ = {**_environ(store, config_dir), "SIGNING_PFX_PASSWORD": "pfx password"}
    result = invoke_tokenidp(
        "certs",
        "create-self-signed",
        "--subject",
        "CN=encrypted",
        "--password-env",
        "SIGNING_PFX_PASSWORD",
        environ=environ,
    )

    assert result.exit_code == 0
    assert "unencrypted" not in result.stderr


@pytest.mark.parametrize("given", ["hunter2 is my password!", "Summer2024"])
@pytest.mark.parametrize("command", ["create-self-signed", "import"])
def test_password_env_given_a_password_never_echoes_it(
    store, config_dir, rsa_key, tmp_path, command, given
):
    source = CertStore(tmp_path / "elsewhere").add(key=rsa_key, password="pw").path
    arguments = ["--subject", "CN=a"] if command == "create-self-signed" else [str(source)]

    result = tokenidp(
        "certs",
        command,
        *arguments,
        "--password-env",
        given,
        environ=store.environ(),
        cwd=config_dir,
    )

    assert result.returncode == 2
    assert given not in result.stdout + result.stderr
    assert "--password-env" in result.stderr
    assert list(store.folder.iterdir()) == []


def test_import_copies_a_certificate_and_writes_its_companion(store, config_dir, rsa_key, tmp_path):
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
    imported = store.folder / f"{elsewhere.thumbprint}.pfx"
    assert imported.read_bytes() == elsewhere.path.read_bytes()
    assert stat.S_IMODE(imported.stat().st_mode) == 0o600
    companion = store.folder / f"{elsewhere.thumbprint}.crt"
    assert stat.S_IMODE(companion.stat().st_mode) == 0o644
    assert read_certificate_file(companion, password=None).sha1_thumbprint == elsewhere.thumbprint
    wrong = tokenidp(
        "certs", "import", str(elsewhere.path), environ=store.environ(), cwd=config_dir
    )
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == (
        f"tokenidp: cannot import {elsewhere.path}: password-protected; give its password "
        "with --password-env VAR"
    )


def test_import_warns_when_the_configured_password_cannot_open_the_key(
    store, config_dir, rsa_key, tmp_path
):
    elsewhere = CertStore(tmp_path / "elsewhere").add(key=rsa_key, password="old password")
    environ = {
        **_environ(store, config_dir, CertificatePassword="store password"),
        "PFX_PASSWORD": "old password",
    }

    result = invoke_tokenidp(
        "certs", "import", str(elsewhere.path), "--password-env", "PFX_PASSWORD", environ=environ
    )

    assert result.exit_code == 0
    assert "tokenidp: warning: TokenOptions:CertificatePassword does not open" in result.stderr
    assert "start-up cannot sign with it until it does" in result.stderr
    assert "old password" not in result.stdout + result.stderr
    assert "store password" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("weak key", "has a RSA-1024 key: RSA keys need 2048 bits or more"),
        ("P-384 key", "has a EC P-384 key: of EC keys only P-256 signs (ES256)"),
        ("development key", "is a development key; Production requires a real certificate"),
        ("expired", "expired on"),
        ("no private key", "has no private key; add the PKCS#12 or PEM that holds it"),
    ],
)
def test_certs_import_of_something_unusable_exits_1_with_the_reason(
    store, config_dir, rsa_key, weak_rsa_key, p384_key, tmp_path, case, reason
):
    now = dt.datetime.now(dt.UTC)
    elsewhere = CertStore(tmp_path / "elsewhere")
    added = {
        "weak key": lambda: elsewhere.add(key=weak_rsa_key),
        "P-384 key": lambda: elsewhere.add(key=p384_key),
        "development key": lambda: elsewhere.add(key=rsa_key, subject=DEVELOPMENT_SUBJECT),
        "expired": lambda: elsewhere.add(
            key=rsa_key,
            not_before=now - dt.timedelta(days=30),
            not_after=now - dt.timedelta(days=1),
        ),
        "no private key": lambda: elsewhere.add(
            key=rsa_key, file_format="pem", with_private_key=False
        ),
    }[case]()

    result = tokenidp("certs", "import", str(added.path), environ=store.environ(), cwd=config_dir)

    assert result.returncode == 1
    assert result.stderr.startswith(
        f"tokenidp: cannot import {added.path}: certificate {added.thumbprint} ("
    )
    assert reason in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert list(store.folder.iterdir()) == []


def test_certs_import_accepts_a_staged_certificate_that_is_not_yet_valid(
    store, config_dir, rsa_key, tmp_path
):
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    staged = CertStore(tmp_path / "elsewhere").add(key=rsa_key, not_before=tomorrow)

    result = invoke_tokenidp(
        "certs", "import", str(staged.path), environ=_environ(store, config_dir)
    )

    assert result.exit_code == 0, result.stderr
    assert (store.folder / f"{staged.thumbprint}.pfx").exists()


def test_certs_list_marks_a_development_key_refused_in_production(store, config_dir, rsa_key):
    development = store.add(key=rsa_key, subject=DEVELOPMENT_SUBJECT, file_format="pem")

    production = invoke_tokenidp("certs", "list", "--json", environ=_environ(store, config_dir))
    in_development = invoke_tokenidp(
        "certs",
        "list",
        "--json",
        environ={**_environ(store, config_dir), "TOKENIDP_ENVIRONMENT": "Development"},
    )

    listed = _listed(production)[development.path.name]
    assert listed["thumbprint"] == development.thumbprint
    assert listed["status"] == "development key"
    assert listed["refusals"] == ["is a development key; Production requires a real certificate"]
    assert _listed(in_development)[development.path.name]["status"] == "ok"


def test_certs_list_marks_weak_and_unsupported_keys_refused(
    store, config_dir, weak_rsa_key, p384_key
):
    weak = store.add(key=weak_rsa_key, subject="CN=weak")
    p384 = store.add(key=p384_key, subject="CN=p384", file_format="pem")

    listed = _listed(
        invoke_tokenidp("certs", "list", "--json", environ=_environ(store, config_dir))
    )

    assert listed[weak.path.name]["key"] == "RSA-1024"
    assert listed[weak.path.name]["status"] == "unusable key (RSA keys need 2048 bits or more)"
    assert listed[p384.path.name]["key"] == "EC P-384"
    assert listed[p384.path.name]["status"] == "unusable key (of EC keys only P-256 signs (ES256))"


def test_certs_list_shows_the_role_of_each_certificate_under_the_configuration(
    store, config_dir, rsa_key, other_rsa_key, ec_key
):
    now = dt.datetime.now(dt.UTC)
    retired = store.add(key=other_rsa_key, subject="CN=old", not_before=now - dt.timedelta(days=9))
    signing = store.add(key=rsa_key, subject="CN=current")
    upcoming = store.add(key=ec_key, subject="CN=new", not_before=now + dt.timedelta(days=1))
    revoked = store.add(key=rsa_key, subject="CN=compromised", file_format="pem")
    public_only = store.folder / f"{signing.thumbprint}.crt"
    public_only.write_bytes(signing.certificate.public_bytes(serialization.Encoding.PEM))
    environ = _environ(
        store,
        config_dir,
        CertificateThumbprint=signing.thumbprint,
        AdditionalValidationCertificates=f"{retired.thumbprint},{upcoming.thumbprint}",
        RevokedCertificateThumbprints=revoked.thumbprint,
    )

    result = invoke_tokenidp("certs", "list", "--json", environ=environ)

    listed = _listed(result)
    roles = {name: (item["role"], item["status"]) for name, item in listed.items()}
    assert roles == {
        retired.path.name: ("retired", "ok"),
        signing.path.name: ("signing", "ok"),
        public_only.name: ("signing", "ok (certificate only: publishes, never signs)"),
        upcoming.path.name: ("next", "not yet valid"),
        revoked.path.name: ("revoked", "revoked"),
    }
    assert result.stderr == ""


def test_certs_list_notes_why_there_are_no_roles_and_still_lists(store, config_dir, rsa_key):
    signing = store.add(key=rsa_key)

    result = invoke_tokenidp(
        "certs",
        "list",
        "--json",
        environ=_environ(store, config_dir, CertificateThumbprint="AB" * 20),
    )

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "note: no roles, the configuration does not resolve: TokenOptions:CertificateThumbprint: "
        f"no certificate {'AB' * 20} in {store.folder} (1 there: {signing.thumbprint} "
        "CN=tokenidp signing)"
    ]
    assert _listed(result)[signing.path.name]["role"] is None


def test_certs_list_reads_an_encrypted_pem_key_with_the_password_or_names_it(
    store, config_dir, rsa_key
):
    encrypted = store.add(key=rsa_key, file_format="pem", password="pem password")

    without = invoke_tokenidp("certs", "list", "--json", environ=_environ(store, config_dir))
    with_password = invoke_tokenidp(
        "certs",
        "list",
        "--json",
        environ=_environ(store, config_dir, CertificatePassword="pem password"),
    )

    assert _listed(without)[encrypted.path.name]["status"] == (
        "key locked (private key is encrypted: set TokenOptions:CertificatePassword)"
    )
    assert _listed(with_password)[encrypted.path.name]["status"] == "ok"
    assert _listed(with_password)[encrypted.path.name]["private_key"] is True


def test_certs_list_fits_80_columns_with_full_thumbprints(store, config_dir, rsa_key):
    long_subject = (
        "CN=tokenidp signing certificate for id.example.com,O=Example Corporation of Long "
        "Names,OU=Identity and Access Management Platform"
    )
    signing = store.add(key=rsa_key, subject=long_subject)

    narrow = invoke_tokenidp("certs", "list", environ=_environ(store, config_dir))
    wide = invoke_tokenidp("certs", "list", "--wide", environ=_environ(store, config_dir))

    narrow_lines = narrow.stdout.splitlines()
    assert max(len(line) for line in narrow_lines) <= 80
    assert narrow_lines[2].split() == ["THUMBPRINT", "ROLE", "KEY", "NOT", "AFTER"]
    assert narrow_lines[4].split()[0] == signing.thumbprint
    subject_line = next(line for line in narrow_lines if line.startswith("  subject "))
    assert subject_line.endswith("…") and len(subject_line) == 80
    assert "  file        " + signing.path.name in narrow_lines
    wide_row = next(line for line in wide.stdout.splitlines() if signing.thumbprint in line)
    assert long_subject in wide_row and wide_row.endswith(signing.path.name)
