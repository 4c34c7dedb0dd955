"""The keyring: which certificate signs, which are published, which are refused, and why.

`build_keyring` is a pure function of the settings, one store snapshot, the database's key
records and the time, so every instance, the publisher, `keys status` and `certs list`
decide alike; when a key may sign is app/keys/activation.py's rule. `load_keyring` is the
I/O edge: it reads the store, makes the development key when one is due, and explains a
missing certificate by looking in the other stores under the root. Every refusal is a
`ConfigError` naming the setting to fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from cryptography import x509

from app.config import Settings
from app.errors import ConfigError
from app.keys.activation import Candidate, Decision, Eligibility, decide_signing
from app.keys.certificates import is_development_certificate, sha1_thumbprint, signing_algorithm
from app.keys.dev_key import ensure_development_key
from app.keys.locate import explain_missing_certificate
from app.keys.policy import Refusal, publishing_refusals, signing_refusals
from app.keys.records import KeyRecords
from app.keys.store import (
    PASSWORD_SETTING,
    StoreEntry,
    StoreSnapshot,
    normalize_thumbprint,
    read_store,
)
from app.tokens.signer import TokenSigner

THUMBPRINT = "TokenOptions:CertificateThumbprint"
SUBJECT = "TokenOptions:CertificateSubjectName"
ADDITIONAL = "TokenOptions:AdditionalValidationCertificates"
REVOKED = "TokenOptions:RevokedCertificateThumbprints"


class KeyRole(StrEnum):
    """What a key in the keyring is for."""

    SIGNING = "signing"  # signs new tokens
    NEXT = "next"  # published ahead of signing
    RETIRED = "retired"  # published so tokens it signed still validate
    REVOKED = "revoked"  # never published, never accepted, never signs


@dataclass(frozen=True)
class KeyringKey:
    """A published key: its certificate, role and where it came from."""

    kid: str
    algorithm: str
    role: KeyRole
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
    """The signing key (with its signer built once) and every key the JWKS publishes.

    `keys` is ordered by kid, not by role, so an activation that keeps the same key set
    keeps the same JWKS bytes. `signing` is None while no candidate may sign yet (a
    running instance then answers 503 rather than sign with a key validators lack);
    `signer` is None then and in a public keyring (the publisher's). `eligibility` says,
    for every signing candidate, from when it may sign and why (app/keys/activation.py);
    `revoked` maps each revoked kid to how it was revoked.
    """

    signing: KeyringKey | None
    signer: TokenSigner | None
    keys: tuple[KeyringKey, ...]
    revoked: Mapping[str, str]
    eligibility: Mapping[str, Eligibility] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    unable_to_sign: str | None = None  # why `signing` is None, one line naming the setting
    # Set when no candidate is usable at all (refused, not merely waiting for its delay).
    refusal: ConfigError | None = None

    @property
    def revoked_kids(self) -> frozenset[str]:
        return frozenset(self.revoked)

    @property
    def published_kids(self) -> tuple[str, ...]:
        return tuple(key.kid for key in self.keys)

    def find(self, kid: str) -> KeyringKey | None:
        return next((key for key in self.keys if key.kid == kid), None)

    def without(self, revoked: Mapping[str, str]) -> Keyring:
        """This keyring less newly revoked keys: what a refresh that cannot rebuild the
        keyring (a store being rewritten, say) still applies at once."""
        if not set(revoked) - set(self.revoked):
            return self
        signing = (
            self.signing if self.signing is not None and self.signing.kid not in revoked else None
        )
        return Keyring(
            signing=signing,
            signer=self.signer if signing is not None else None,
            keys=tuple(key for key in self.keys if key.kid not in revoked),
            revoked=MappingProxyType({**self.revoked, **revoked}),
            eligibility=self.eligibility,
            notices=self.notices,
            unable_to_sign=self.unable_to_sign
            if signing is not None or self.signing is None
            else f"the signing key {self.signing.kid} is revoked ({revoked[self.signing.kid]})",
        )

    def same_keys_as(self, other: Keyring) -> bool:
        """Same signing key, same published keys in the same roles, same revocations."""
        return (
            _kid(self.signing) == _kid(other.signing)
            and [(key.kid, key.role) for key in self.keys]
            == [(key.kid, key.role) for key in other.keys]
            and self.revoked_kids == other.revoked_kids
        )


class CertificateNotFoundError(ConfigError):
    """The configured thumbprint or subject is not in the store folder."""

    def __init__(self, setting: str, what: str, snapshot: StoreSnapshot, wanted: str) -> None:
        super().__init__(setting, f"{what} in {snapshot.describe()}")
        self.what = what
        self.snapshot = snapshot
        self.wanted = wanted


def load_keyring(
    settings: Settings,
    *,
    now: dt.datetime,
    records: KeyRecords,
    private_keys: bool = True,
    strict: bool = True,
) -> Keyring:
    """Read the store once and build the keyring; `private_keys=False` for publishing only."""
    options = settings.token
    snapshot = read_store(
        options.store_folder, password=options.certificate_password, private_keys=private_keys
    )
    try:
        return build_keyring(
            settings,
            snapshot,
            now=now,
            records=records,
            development_entry=development_entry(settings, now=now),
            private_keys=private_keys,
            strict=strict,
        )
    except CertificateNotFoundError as error:
        raise explain_missing_certificate(error, options) from None


def development_entry(settings: Settings, *, now: dt.datetime) -> StoreEntry | None:
    """The development key (made when missing) when Development configures no certificate."""
    options = settings.token
    configured = options.certificate_thumbprint or options.certificate_subject_name
    if settings.is_development and not configured:
        return ensure_development_key(settings.instance_dir, now=now)
    return None


def build_keyring(
    settings: Settings,
    snapshot: StoreSnapshot,
    *,
    now: dt.datetime,
    records: KeyRecords,
    development_entry: StoreEntry | None = None,
    private_keys: bool = True,
    strict: bool = True,
    signer: TokenSigner | None = None,
) -> Keyring:
    """Resolve the signing certificate and the published ones, refusing anything unsafe.

    `strict` (start-up) raises `ConfigError` when no candidate may sign; otherwise the
    keyring has no signing key and says why (a running instance, `keys status`). `signer`
    is reused when it still signs, so a refresh builds no key it already holds.
    """
    options = settings.token
    notices: list[str] = []
    revoked = revocations(settings, records, notices)
    setting, candidates = _signing_candidates(settings, snapshot, development_entry, notices)
    emergency = records.emergency
    if (
        emergency is not None
        and emergency.kid not in revoked
        and all(sha1_thumbprint(entry.certificate) != emergency.kid for entry in candidates)
        and (entry := snapshot.find_by_thumbprint(emergency.kid)) is not None
    ):
        candidates.append(entry)
        configured = len(candidates) - 1
    else:
        configured = len(candidates)

    usable: dict[str, tuple[StoreEntry, str]] = {}
    refused: list[ConfigError] = []
    for candidate in candidates:
        refusals = _signing_refusals(candidate, settings, revoked, now, private_keys)
        if refusals:
            refused.append(_refusal_error(setting, candidate, refusals[0]))
        else:
            algorithm = signing_algorithm(candidate.certificate.public_key())
            usable[sha1_thumbprint(candidate.certificate)] = (candidate, algorithm)
    decision = decide_signing(
        [
            Candidate(kid, int(entry.certificate.not_valid_before_utc.timestamp()))
            for kid, (entry, _) in usable.items()
        ],
        records,
        now=int(now.timestamp()),
        activation_delay_seconds=options.key_activation_delay_seconds,
        development=settings.is_development,
    )
    unable_to_sign = None
    refusal = refused[-1] if not usable else None
    if decision.signing is None:
        error = refusal or _not_eligible_error(setting, usable, decision, settings, now=now)
        if strict:
            raise error
        unable_to_sign = str(error)
    signing = None
    if decision.signing is not None:
        entry, algorithm = usable[decision.signing]
        signing = _key(entry, algorithm, KeyRole.SIGNING)
        if all(entry is not other for other in candidates[:configured]):
            notices.append(
                f"signing with {signing.kid}, activated in an emergency, which {setting} does "
                f"not name: set {setting} to match it before the next deployment"
            )
    published = [signing] if signing is not None else []
    published += [
        _key(entry, algorithm, _role(kid, signing, entry, records))
        for kid, (entry, algorithm) in usable.items()
        if signing is None or kid != signing.kid
    ]
    for thumbprint in _thumbprints(options.additional_validation_certificates, ADDITIONAL, notices):
        if thumbprint in revoked:
            notices.append(f"{ADDITIONAL}: {thumbprint} is revoked, so it is not published")
            continue
        if any(key.kid == thumbprint for key in published):
            continue
        entry = snapshot.find_by_thumbprint(thumbprint)
        if entry is None:
            raise _not_found(ADDITIONAL, f"no certificate {thumbprint}", snapshot, thumbprint)
        refusals = publishing_refusals(
            entry.certificate, environment=settings.environment, revoked=revoked
        )
        if refusals:
            raise _refusal_error(ADDITIONAL, entry, refusals[0])
        entry_algorithm = signing_algorithm(entry.certificate.public_key())
        published.append(_key(entry, entry_algorithm, _role(thumbprint, signing, entry, records)))
    if signing is None or not private_keys:
        signer = None
    elif signer is None or signer.kid != signing.kid:
        signer = TokenSigner(
            usable[signing.kid][0].private_key, kid=signing.kid, algorithm=signing.algorithm
        )
    return Keyring(
        signing=signing,
        signer=signer,
        keys=tuple(sorted(published, key=lambda key: key.kid)),
        revoked=MappingProxyType(revoked),
        eligibility=MappingProxyType(dict(decision.eligibility)),
        notices=tuple(notices),
        unable_to_sign=unable_to_sign,
        refusal=refusal,
    )


def revocations(settings: Settings, records: KeyRecords, notices: list[str]) -> dict[str, str]:
    """Every revoked kid, from the setting and the database, with how it was revoked."""
    revoked = {
        kid: REVOKED
        for kid in _thumbprints(settings.token.revoked_certificate_thumbprints, REVOKED, notices)
    }
    for kid, revocation in records.revocations.items():
        revoked.setdefault(
            kid,
            f"`tokenidp keys revoke` by {revocation.revoked_by} at "
            f"{dt.datetime.fromtimestamp(revocation.revoked_at, dt.UTC):%Y-%m-%dT%H:%M:%SZ}",
        )
    return revoked


def _signing_candidates(
    settings: Settings,
    snapshot: StoreSnapshot,
    development_entry: StoreEntry | None,
    notices: list[str],
) -> tuple[str, list[StoreEntry]]:
    """The setting that picks the signing certificate, and the store entries it matches."""
    options = settings.token
    if options.certificate_thumbprint and options.certificate_subject_name:
        raise ConfigError(SUBJECT, f"set either {THUMBPRINT} or {SUBJECT}, not both")
    if options.certificate_thumbprint:
        thumbprint = _thumbprints([options.certificate_thumbprint], THUMBPRINT, notices)[0]
        entry = snapshot.find_by_thumbprint(thumbprint)
        if entry is None:
            raise _not_found(THUMBPRINT, f"no certificate {thumbprint}", snapshot, thumbprint)
        return THUMBPRINT, [entry]
    if options.certificate_subject_name:
        subject = options.certificate_subject_name
        candidates = snapshot.find_by_subject(subject)
        if not candidates:
            raise _not_found(SUBJECT, f"no certificate with subject {subject!r}", snapshot, subject)
        return SUBJECT, candidates
    if development_entry is not None:
        notices.append(
            f"signing with the DEVELOPMENT key {development_entry.path}: no certificate is "
            f"configured. Production refuses it; configure {THUMBPRINT}."
        )
        return "TOKENIDP_INSTANCE_DIR", [development_entry]
    raise ConfigError(
        THUMBPRINT,
        f"no signing certificate configured in {settings.environment}: set {THUMBPRINT} "
        f"or {SUBJECT} to a certificate in {options.store_folder} (the development key is "
        "refused)",
    )


def _signing_refusals(
    entry: StoreEntry,
    settings: Settings,
    revoked: Mapping[str, str],
    now: dt.datetime,
    private_keys: bool,
) -> list[Refusal]:
    refusals = signing_refusals(entry, environment=settings.environment, revoked=revoked, now=now)
    if private_keys:
        return refusals
    return [
        refusal for refusal in refusals if refusal.status not in ("no private key", "key locked")
    ]


def _refusal_error(setting: str, entry: StoreEntry, refusal: Refusal) -> ConfigError:
    certificate = entry.certificate
    named = f"certificate {sha1_thumbprint(certificate)} ({certificate.subject.rfc4514_string()})"
    return ConfigError(refusal.setting or setting, f"{named} in {entry.path} {refusal.reason}")


def _not_found(setting: str, what: str, snapshot: StoreSnapshot, wanted: str) -> ConfigError:
    """Locked files first (the password is the fix), else what the folder holds."""
    locked = snapshot.locked_entries
    if locked:
        names = ", ".join(entry.path.name for entry in locked)
        return ConfigError(
            PASSWORD_SETTING,
            f"cannot open {names} in {snapshot.folder} (wrong or missing password), "
            f"so {setting} cannot find {what.removeprefix('no ')}",
        )
    return CertificateNotFoundError(setting, what, snapshot, wanted)


def _thumbprints(raw: Any, setting: str, notices: list[str]) -> list[str]:
    thumbprints = []
    for value in raw:
        thumbprint, cleaned = normalize_thumbprint(str(value), setting=setting)
        if cleaned:
            notices.append(
                f"{setting}: ignored spaces, colons or invisible characters copied with "
                f"thumbprint {thumbprint}"
            )
        thumbprints.append(thumbprint)
    return thumbprints


def _not_eligible_error(
    setting: str,
    usable: Mapping[str, tuple[StoreEntry, str]],
    decision: Decision,
    settings: Settings,
    *,
    now: dt.datetime,
) -> ConfigError:
    """No usable candidate may sign yet: how long is left, and what to run."""
    options = settings.token
    delay = options.key_activation_delay_seconds
    kid, entry = _soonest(usable, decision)
    named = f"certificate {kid} ({entry.certificate.subject.rfc4514_string()})"
    left = decision.eligibility[kid].seconds_left(int(now.timestamp()))
    if left is None:
        how = (
            f"has not been observed at {options.jwks_uri} (TokenOptions:JwksUri), so "
            "validators cannot have it: publish it while the current key signs (in the store "
            f"for {SUBJECT}, or listed in {ADDITIONAL}; then run the publisher); it may sign "
            f"{format_duration(delay)} after it is first observed"
        )
    else:
        how = (
            f"was first observed at {options.jwks_uri} less than TokenOptions:KeyActivationDelay "
            f"({format_duration(delay)}) ago: it may sign in {format_duration(left)}"
        )
    return ConfigError(
        setting,
        f"{named} {how}; `tokenidp keys status` shows when (a compromised key: "
        "`tokenidp keys emergency-rollover`)",
    )


def _soonest(
    usable: Mapping[str, tuple[StoreEntry, str]], decision: Decision
) -> tuple[str, StoreEntry]:
    """The candidate that may sign first (observed ones before unobserved, newest first)."""

    def order(kid: str) -> tuple[int, int]:
        since = decision.eligibility[kid].since
        not_before = int(usable[kid][0].certificate.not_valid_before_utc.timestamp())
        return (0 if since is not None else 1, since if since is not None else -not_before)

    kid = min(usable, key=order)
    return kid, usable[kid][0]


def format_duration(seconds: int) -> str:
    """`45 s`, `12 min`, `3 h 20 min`, `2 days 4 h`: the largest two units, rounded up."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = -(-seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _role(kid: str, signing: KeyringKey | None, entry: StoreEntry, records: KeyRecords) -> KeyRole:
    """Retired once it signed, or when older than the signing key; next otherwise."""
    if kid in records.signing:
        return KeyRole.RETIRED
    if signing is not None and entry.certificate.not_valid_before_utc < signing.not_before:
        return KeyRole.RETIRED
    return KeyRole.NEXT


def _kid(key: KeyringKey | None) -> str | None:
    return key.kid if key is not None else None


def _key(entry: StoreEntry, algorithm: str, role: KeyRole) -> KeyringKey:
    return KeyringKey(
        kid=sha1_thumbprint(entry.certificate),
        algorithm=algorithm,
        role=role,
        certificate=entry.certificate,
        source=str(entry.path),
        is_development=is_development_certificate(entry.certificate),
    )
