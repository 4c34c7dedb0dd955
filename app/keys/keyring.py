"""The keyring: which certificate signs, which are published, which are refused, and why.

Built once at start-up from settings and the certificate store. Every refusal is a
`ConfigError` naming the setting to fix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from jose import jwk

from app.config import Settings
from app.errors import ConfigError
from app.keys.certificates import (
    is_development_certificate,
    key_description,
    keys_match,
    sha1_thumbprint,
    signing_algorithm,
)
from app.keys.dev_key import ensure_development_key
from app.keys.store import (
    StoreEntry,
    describe_store,
    find_by_subject,
    find_by_thumbprint,
    normalize_thumbprint,
    read_store,
)

THUMBPRINT = "TokenOptions:CertificateThumbprint"
SUBJECT = "TokenOptions:CertificateSubjectName"
PASSWORD_SETTING = "TokenOptions:CertificatePassword"
ADDITIONAL = "TokenOptions:AdditionalValidationCertificates"
REVOKED = "TokenOptions:RevokedCertificateThumbprints"


@dataclass(frozen=True)
class KeyringKey:
    """A published key: its certificate, role and where it came from."""

    kid: str
    algorithm: str
    role: str  # "signing", "next" or "retired"
    certificate: x509.Certificate
    source: str
    is_development: bool = False

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def not_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc


@dataclass(frozen=True)
class Keyring:
    """The signing key (with its signer built once) and every key the JWKS publishes."""

    signing: KeyringKey
    signer: Any  # a python-jose Key, constructed once
    keys: tuple[KeyringKey, ...]
    revoked_kids: frozenset[str]
    notices: tuple[str, ...] = ()

    def find(self, kid: str) -> KeyringKey | None:
        return next((key for key in self.keys if key.kid == kid), None)


def build_keyring(settings: Settings, *, now: dt.datetime) -> Keyring:
    """Resolve the signing certificate and the published ones, refusing anything unsafe."""
    options = settings.token
    notices: list[str] = []
    revoked = frozenset(_thumbprints(options.revoked_certificate_thumbprints, REVOKED, notices))
    folder = options.store_folder
    entries = read_store(folder, password=options.certificate_password)

    if options.certificate_thumbprint and options.certificate_subject_name:
        raise ConfigError(SUBJECT, f"set either {THUMBPRINT} or {SUBJECT}, not both")
    if options.certificate_thumbprint:
        setting = THUMBPRINT
        thumbprint = _thumbprints([options.certificate_thumbprint], THUMBPRINT, notices)[0]
        entry = find_by_thumbprint(entries, thumbprint)
        if entry is None:
            _raise_not_found(THUMBPRINT, f"no certificate {thumbprint}", folder, entries)
        candidates = [entry]
    elif options.certificate_subject_name:
        setting = SUBJECT
        candidates = find_by_subject(entries, options.certificate_subject_name)
        if not candidates:
            _raise_not_found(
                SUBJECT,
                f"no certificate with subject {options.certificate_subject_name!r}",
                folder,
                entries,
            )
    elif settings.is_development:
        setting = "TOKENIDP_INSTANCE_DIR"
        candidates = [ensure_development_key(settings.instance_dir, now=now)]
        notices.append(
            "signing with the DEVELOPMENT key "
            f"{candidates[0].path}: no certificate is configured. "
            "Production refuses it; configure TokenOptions:CertificateThumbprint."
        )
    else:
        raise ConfigError(
            THUMBPRINT,
            f"no signing certificate configured in {settings.environment}: set {THUMBPRINT} "
            f"or {SUBJECT} to a certificate in {folder} (the development key is refused)",
        )

    usable = []
    problems = []
    for candidate in candidates:
        try:
            usable.append(_check_signing_entry(candidate, setting, settings, revoked, now))
        except ConfigError as error:
            problems.append(error)
    if not usable:
        raise problems[-1]
    signing_entry, algorithm = _choose_signing(
        usable, now=now, activation_delay_seconds=options.key_activation_delay_seconds
    )
    signing = _key(signing_entry, algorithm, "signing")
    published = [signing]
    for entry, entry_algorithm in usable:
        if entry is not signing_entry:
            published.append(_key(entry, entry_algorithm, _role(entry, signing)))
    for thumbprint in _thumbprints(options.additional_validation_certificates, ADDITIONAL, notices):
        if thumbprint in revoked:
            notices.append(f"{ADDITIONAL}: {thumbprint} is revoked, so it is not published")
            continue
        if any(key.kid == thumbprint for key in published):
            continue
        entry = find_by_thumbprint(entries, thumbprint)
        if entry is None or entry.certificate is None:
            _raise_not_found(ADDITIONAL, f"no certificate {thumbprint}", folder, entries)
        entry_algorithm = signing_algorithm(entry.certificate.public_key())
        if entry_algorithm is None:
            raise ConfigError(
                ADDITIONAL,
                f"certificate {thumbprint} has a {key_description(entry.certificate.public_key())}"
                " key; only RSA >= 2048 and EC P-256 are published",
            )
        published.append(_key(entry, entry_algorithm, _role(entry, signing)))
    signer = jwk.construct(signing_entry.private_key, algorithm)
    return Keyring(signing, signer, tuple(published), revoked, tuple(notices))


def _thumbprints(raw: Any, setting: str, notices: list[str]) -> list[str]:
    thumbprints = []
    for value in raw:
        thumbprint, had_invisible = normalize_thumbprint(str(value), setting=setting)
        if had_invisible:
            notices.append(
                f"{setting}: removed invisible characters copied with thumbprint {thumbprint}"
            )
        thumbprints.append(thumbprint)
    return thumbprints


def _raise_not_found(setting: str, what: str, folder: Any, entries: list[StoreEntry]) -> None:
    locked = [entry for entry in entries if entry.password_refused]
    if locked:
        names = ", ".join(entry.path.name for entry in locked)
        raise ConfigError(
            PASSWORD_SETTING,
            f"cannot open {names} in {folder} (wrong or missing password), "
            f"so {setting} cannot find {what.removeprefix('no ')}",
        )
    raise ConfigError(setting, f"{what} in {describe_store(folder, entries)}")


def _check_signing_entry(
    entry: StoreEntry,
    setting: str,
    settings: Settings,
    revoked: frozenset[str],
    now: dt.datetime,
) -> tuple[StoreEntry, str]:
    certificate = entry.certificate
    assert certificate is not None
    thumbprint = sha1_thumbprint(certificate)
    named = f"certificate {thumbprint} ({certificate.subject.rfc4514_string()}) in {entry.path}"
    if thumbprint in revoked:
        raise ConfigError(setting, f"{named} is revoked ({REVOKED}); configure its replacement")
    if is_development_certificate(certificate) and not settings.is_development:
        raise ConfigError(
            setting,
            f"{named} is a development key; {settings.environment} requires a real certificate",
        )
    if entry.private_key is None:
        detail = f" ({entry.problem})" if entry.problem else ""
        raise ConfigError(
            setting, f"{named} has no private key{detail}; add the PKCS#12 or PEM that holds it"
        )
    if not keys_match(entry.private_key, certificate):
        raise ConfigError(setting, f"the private key in {entry.path} does not match {named}")
    if now < certificate.not_valid_before_utc:
        raise ConfigError(
            setting,
            f"{named} is not valid until {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
        )
    if now >= certificate.not_valid_after_utc:
        raise ConfigError(
            setting, f"{named} expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )
    algorithm = signing_algorithm(certificate.public_key())
    if algorithm is None:
        raise ConfigError(
            setting,
            f"{named} has a {key_description(certificate.public_key())} key; "
            "use RSA of 2048 bits or more, or EC P-256",
        )
    return entry, algorithm


def _choose_signing(
    usable: list[tuple[StoreEntry, str]], *, now: dt.datetime, activation_delay_seconds: int
) -> tuple[StoreEntry, str]:
    """The newest certificate that has been available for the activation delay signs.

    Until the publisher records first-publication times, a certificate's `not_before`
    stands for when it became available.
    """
    newest_first = sorted(
        usable, key=lambda pair: pair[0].certificate.not_valid_before_utc, reverse=True
    )
    delay = dt.timedelta(seconds=activation_delay_seconds)
    for entry, algorithm in newest_first:
        if entry.certificate.not_valid_before_utc + delay <= now:
            return entry, algorithm
    return newest_first[-1]


def _role(entry: StoreEntry, signing: KeyringKey) -> str:
    newer = entry.certificate.not_valid_before_utc > signing.not_before
    return "next" if newer else "retired"


def _key(entry: StoreEntry, algorithm: str, role: str) -> KeyringKey:
    return KeyringKey(
        kid=sha1_thumbprint(entry.certificate),
        algorithm=algorithm,
        role=role,
        certificate=entry.certificate,
        source=str(entry.path),
        is_development=is_development_certificate(entry.certificate),
    )
