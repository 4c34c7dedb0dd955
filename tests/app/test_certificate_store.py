"""Finding certificates in a store folder by thumbprint or subject, as operators type them."""

from __future__ import annotations

import datetime as dt

import pytest

from app.errors import ConfigError
from app.keys.keyring import build_keyring
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
    keyring = build_keyring(store.settings(config_dir, **options), now=NOW)
    assert keyring.signing.kid == added.thumbprint
    assert keyring.signing.source == str(added.path)
    assert any("invisible characters" in notice for notice in keyring.notices)


@pytest.mark.parametrize("typed", ["tokenidp signing", "CN=TOKENIDP SIGNING", "O=Example"])
def test_signing_certificate_found_by_subject(store, config_dir, rsa_key, typed):
    added = store.add(key=rsa_key, subject="CN=tokenidp signing, O=Example")
    keyring = build_keyring(store.settings(config_dir, CertificateSubjectName=typed), now=NOW)
    assert keyring.signing.kid == added.thumbprint


def test_a_subject_does_not_match_part_of_a_word(store, config_dir, rsa_key):
    store.add(key=rsa_key, subject="CN=tokenidp signing")
    with pytest.raises(ConfigError, match="no certificate with subject 'signing'"):
        build_keyring(store.settings(config_dir, CertificateSubjectName="signing"), now=NOW)


def test_renewed_certificate_signs_after_the_activation_delay(
    store, config_dir, rsa_key, other_rsa_key
):
    """Of several valid certificates with one subject, the newest published long enough signs."""
    old = store.add(key=rsa_key, subject="CN=signing", not_before=NOW - dt.timedelta(days=30))
    new = store.add(key=other_rsa_key, subject="CN=signing", not_before=NOW - dt.timedelta(hours=1))
    early = build_keyring(
        store.settings(config_dir, CertificateSubjectName="signing", KeyActivationDelay="86400"),
        now=NOW,
    )
    assert early.signing.kid == old.thumbprint
    assert [(key.kid, key.role) for key in early.keys] == [
        (old.thumbprint, "signing"),
        (new.thumbprint, "next"),
    ]
    later = build_keyring(
        store.settings(config_dir, CertificateSubjectName="signing", KeyActivationDelay="600"),
        now=NOW,
    )
    assert later.signing.kid == new.thumbprint
    assert [(key.kid, key.role) for key in later.keys] == [
        (new.thumbprint, "signing"),
        (old.thumbprint, "retired"),
    ]


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
    keyring = build_keyring(store.settings(config_dir, CertificateSubjectName="signing"), now=NOW)
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
        build_keyring(store.settings(config_dir, CertificateThumbprint=added.thumbprint), now=NOW)


def test_setting_thumbprint_and_subject_together_is_ambiguous(store, config_dir, rsa_key):
    added = store.add(key=rsa_key)
    with pytest.raises(ConfigError, match="not both"):
        build_keyring(
            store.settings(
                config_dir,
                CertificateThumbprint=added.thumbprint,
                CertificateSubjectName="tokenidp signing",
            ),
            now=NOW,
        )


def test_a_missing_store_folder_is_named(tmp_path, config_dir):
    from idp_support import CertStore

    store = CertStore(tmp_path / "stores")
    store.folder.rmdir()
    with pytest.raises(ConfigError, match=r"LocalMachine/My \(no such folder\)"):
        build_keyring(store.settings(config_dir, CertificateThumbprint="AB" * 20), now=NOW)
