"""Finding certificates in a store folder by thumbprint or subject, as operators type them."""

from __future__ import annotations

import datetime as dt

import pytest

from app.documents import render_jwks
from app.errors import ConfigError
from app.keys.keyring import load_keyring
from app.keys.records import NO_RECORDS, KeyRecords, Observation, SigningPeriod
from app.keys.store import normalize_thumbprint

NOW = dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    "typed",
    [
        "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12",
        "AB 12 CD 34 EF 56 AB 12 CD 34 EF 56 AB 12 CD 34 EF 56 AB 12",
        "ab:12:cd:34:ef:56:ab:12:cd:34:ef:56:ab:12:cd:34:ef:56:ab:12",
        "\u200eab12cd34ef56ab12cd34ef56ab12cd34ef56ab12",
        " ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12\ufeff\n",
    ],
)
def test_thumbprints_are_normalised(typed):
    thumbprint, _ = normalize_thumbprint(typed, setting="X")
    assert thumbprint == "AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12"


def test_invisible_characters_are_reported():
    assert normalize_thumbprint("\u200eAB12CD34EF56AB12CD34EF56AB12CD34EF56AB12", setting="X")[1]
    assert not normalize_thumbprint("AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12", setting="X")[1]


def test_a_thumbprint_that_is_not_hex_is_refused():
    with pytest.raises(ConfigError, match="not a SHA-1 thumbprint"):
        normalize_thumbprint("CN=signing", setting="TokenOptions:CertificateThumbprint")


@pytest.mark.parametrize(
    ("file_format", "password"), [("pfx", None), ("pfx", "s3cret"), ("pem", None)]
)
def test_signing_certificate_found_by_thumbprint(store, config_dir, rsa_key, file_format, password):
    added = store.add(key=rsa_key, file_format=file_format, password=password)
    options = {"CertificateThumbprint": f"\u200e{added.thumbprint.lower()}"}
    if password:
        options["CertificatePassword"] = password
    keyring = load_keyring(store.settings(config_dir, **options), records=NO_RECORDS, now=NOW)
    assert keyring.signing.kid == added.thumbprint
    assert keyring.signing.source == str(added.path)
    assert any("invisible characters" in notice for notice in keyring.notices)


@pytest.mark.parametrize("typed", ["tokenidp signing", "CN=TOKENIDP SIGNING", "O=Example"])
def test_signing_certificate_found_by_subject(store, config_dir, rsa_key, typed):
    added = store.add(key=rsa_key, subject="CN=tokenidp signing, O=Example")
    keyring = load_keyring(
        store.settings(config_dir, CertificateSubjectName=typed), records=NO_RECORDS, now=NOW
    )
    assert keyring.signing.kid == added.thumbprint


def test_a_subject_does_not_match_part_of_a_word(store, config_dir, rsa_key):
    store.add(key=rsa_key, subject="CN=tokenidp signing")
    with pytest.raises(ConfigError, match="no certificate with subject 'signing'"):
        load_keyring(
            store.settings(config_dir, CertificateSubjectName="signing"),
            records=NO_RECORDS,
            now=NOW,
        )


def test_renewed_certificate_signs_once_observed_for_the_activation_delay(
    store, config_dir, rsa_key, other_rsa_key
):
    """A renewal's notBefore does not count: its first observation at JwksUri does."""
    old = store.add(key=rsa_key, subject="CN=signing", not_before=NOW - dt.timedelta(days=30))
    new = store.add(key=other_rsa_key, subject="CN=signing", not_before=NOW - dt.timedelta(hours=2))
    settings = store.settings(
        config_dir, CertificateSubjectName="signing", KeyActivationDelay="3600"
    )
    old_signed = {old.thumbprint: SigningPeriod(old.thumbprint, 0, int(NOW.timestamp()))}

    def keyring_with(observed_minutes_ago: int | None):
        observations = {}
        if observed_minutes_ago is not None:
            at = int(NOW.timestamp()) - observed_minutes_ago * 60
            observations[new.thumbprint] = Observation(
                new.thumbprint, at, "publisher", "https://cdn"
            )
        records = KeyRecords(observations=observations, signing=old_signed)
        return load_keyring(settings, records=records, now=NOW)

    unpublished, early, later = keyring_with(None), keyring_with(30), keyring_with(61)
    assert unpublished.signing.kid == old.thumbprint, "never published: it must not sign"
    assert early.signing.kid == old.thumbprint
    assert {key.kid: key.role for key in early.keys} == {
        old.thumbprint: "signing",
        new.thumbprint: "next",
    }
    assert early.eligibility[new.thumbprint].seconds_left(int(NOW.timestamp())) == 30 * 60
    assert later.signing.kid == new.thumbprint
    assert {key.kid: key.role for key in later.keys} == {
        new.thumbprint: "signing",
        old.thumbprint: "retired",
    }
    assert render_jwks(early) == render_jwks(later), "an activation must not change the JWKS"


def test_an_expired_certificate_with_the_same_subject_is_left_out(
    store, config_dir, rsa_key, other_rsa_key
):
    store.add(
        key=rsa_key,
        subject="CN=signing",
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=1),
    )
    current = store.add(key=other_rsa_key, subject="CN=signing")
    keyring = load_keyring(
        store.settings(config_dir, CertificateSubjectName="signing"), records=NO_RECORDS, now=NOW
    )
    assert [key.kid for key in keyring.keys] == [current.thumbprint]


def test_a_key_that_does_not_match_its_certificate_is_refused(
    store, config_dir, rsa_key, other_rsa_key
):
    added = store.add(key=rsa_key, file_format="pem")
    stranger = store.add(key=other_rsa_key, file_format="pem", file_name="stranger")
    certificate_part = added.path.read_bytes().split(b"-----END CERTIFICATE-----")[0]
    key_part = stranger.path.read_bytes().split(b"-----END CERTIFICATE-----")[1]
    added.path.write_bytes(certificate_part + b"-----END CERTIFICATE-----" + key_part)
    stranger.path.unlink()
    with pytest.raises(ConfigError, match="does not match"):
        load_keyring(
            store.settings(config_dir, CertificateThumbprint=added.thumbprint),
            records=NO_RECORDS,
            now=NOW,
        )


def test_setting_thumbprint_and_subject_together_is_ambiguous(store, config_dir, rsa_key):
    added = store.add(key=rsa_key)
    with pytest.raises(ConfigError, match="not both"):
        load_keyring(
            store.settings(
                config_dir,
                CertificateThumbprint=added.thumbprint,
                CertificateSubjectName="tokenidp signing",
            ),
            records=NO_RECORDS,
            now=NOW,
        )


@pytest.mark.parametrize(
    ("missing", "setting", "message"),
    [
        ("root", "TokenOptions:CertificateStoreRoot", r"the store root .*/stores does not exist"),
        ("location", "TokenOptions:CertificateStoreLocation", r"no LocalMachine folder in"),
        ("name", "TokenOptions:CertificateStoreName", r"no store 'My' in .*/LocalMachine"),
    ],
)
def test_a_missing_store_folder_names_the_setting_that_made_the_path(
    tmp_path, config_dir, missing, setting, message
):
    import shutil

    from idp_support import CertStore

    store = CertStore(tmp_path / "stores")
    doomed = {"root": store.root, "location": store.folder.parent, "name": store.folder}[missing]
    shutil.rmtree(doomed)
    with pytest.raises(ConfigError, match=message) as refused:
        load_keyring(
            store.settings(config_dir, CertificateThumbprint="AB" * 20), records=NO_RECORDS, now=NOW
        )
    assert refused.value.setting == setting


def test_a_lookup_failure_lists_full_copyable_thumbprints(store, config_dir, rsa_key):
    present = store.add(key=rsa_key, subject="CN=old-signing")
    with pytest.raises(ConfigError) as refused:
        load_keyring(
            store.settings(config_dir, CertificateThumbprint="AB" * 20), records=NO_RECORDS, now=NOW
        )
    assert f"{present.thumbprint} CN=old-signing" in str(refused.value)


@pytest.mark.parametrize("separator", [" ", ":"])
def test_spaces_and_colons_in_a_thumbprint_are_ignored_with_a_warning(
    store, config_dir, rsa_key, separator
):
    added = store.add(key=rsa_key)
    typed = separator.join(added.thumbprint[i : i + 2] for i in range(0, 40, 2))
    keyring = load_keyring(
        store.settings(config_dir, CertificateThumbprint=typed), records=NO_RECORDS, now=NOW
    )
    assert keyring.signing.kid == added.thumbprint
    assert any("ignored spaces, colons" in notice for notice in keyring.notices)


def test_an_encrypted_pem_key_signs_with_the_certificate_password(store, config_dir, rsa_key):
    from cryptography.hazmat.primitives import serialization

    added = store.add(key=rsa_key, file_format="pem")
    certificate = added.path.read_bytes().split(b"-----END CERTIFICATE-----")[0]
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pem password"),
    )
    added.path.write_bytes(certificate + b"-----END CERTIFICATE-----\n" + encrypted)
    settings = store.settings(
        config_dir, CertificateThumbprint=added.thumbprint, CertificatePassword="pem password"
    )
    assert load_keyring(settings, records=NO_RECORDS, now=NOW).signing.kid == added.thumbprint


def test_a_certificate_file_beside_its_pkcs12_is_one_key(store, config_dir, rsa_key):
    """`X.pfx` and its `X.crt` companion are the same certificate: the one with the key signs."""
    from cryptography.hazmat.primitives import serialization

    added = store.add(key=rsa_key, password="pfx password")
    pem = added.certificate.public_bytes(serialization.Encoding.PEM)
    (store.folder / f"{added.thumbprint}.crt").write_bytes(pem)
    settings = store.settings(
        config_dir, CertificateThumbprint=added.thumbprint, CertificatePassword="pfx password"
    )
    keyring = load_keyring(settings, records=NO_RECORDS, now=NOW)
    assert [key.kid for key in keyring.keys] == [added.thumbprint]
    assert keyring.signing.source == str(added.path)
    public = load_keyring(
        store.settings(config_dir, CertificateThumbprint=added.thumbprint),
        records=NO_RECORDS,
        now=NOW,
        private_keys=False,
    )
    assert public.signer is None and public.signing.source.endswith(".crt")
