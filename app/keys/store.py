"""The certificate store: a folder of PKCS#12, PEM and certificate files, read once.

`{CertificateStoreRoot}/{CertificateStoreLocation}/{CertificateStoreName}/` holds `.pfx`/`.p12`
(password from `TokenOptions:CertificatePassword`), `.pem` (certificate and private key, the
key optionally encrypted with the same password) and `.crt`/`.cer` (a certificate alone: what
the publisher needs, so the release role holds no signing secret). `read_store` does all the
I/O and never raises for one bad file: each entry says why it could not be read.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from app.errors import ConfigError
from app.keys.certificates import PrivateKey, common_name, keys_match, sha1_thumbprint

PKCS12_SUFFIXES = (".pfx", ".p12")
PEM_SUFFIXES = (".pem",)
CERTIFICATE_ONLY_SUFFIXES = (".crt", ".cer")
CERTIFICATE_SUFFIXES = PKCS12_SUFFIXES + PEM_SUFFIXES + CERTIFICATE_ONLY_SUFFIXES
PASSWORD_SETTING = "TokenOptions:CertificatePassword"


@dataclass(frozen=True)
class StoreEntry:
    """One certificate file; `problem` says why it (or its key) could not be read."""

    path: Path
    certificate: x509.Certificate | None
    private_key: PrivateKey | None
    problem: str | None = None
    password_refused: bool = False

    @property
    def sha1_thumbprint(self) -> str:
        return sha1_thumbprint(self.certificate) if self.certificate else ""

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string() if self.certificate else ""

    def describe(self) -> str:
        """`77C1…(40 hex) CN=old-signing`, as lookup errors list the store's contents."""
        if self.certificate is None:
            return f"{self.path.name} unreadable ({self.problem})"
        return f"{self.sha1_thumbprint} {self.subject}"


@dataclass(frozen=True)
class StoreSnapshot:
    """What one store folder held when it was read; `problem` when the folder itself was not."""

    folder: Path
    entries: tuple[StoreEntry, ...]
    problem: str | None = None

    def find_by_thumbprint(self, thumbprint: str) -> StoreEntry | None:
        """The file with this certificate, preferring one that holds its private key."""
        matches = [entry for entry in self.entries if entry.sha1_thumbprint == thumbprint]
        return _prefer_private_key(matches)[0] if matches else None

    def find_by_subject(self, name: str) -> list[StoreEntry]:
        """Certificates whose common name, a whole RDN or RDN value, or whole DN equals `name`."""
        wanted = name.strip().casefold()
        found = [
            entry
            for entry in self.entries
            if entry.certificate is not None and wanted in _subject_names(entry.certificate)
        ]
        return _prefer_private_key(found)

    @property
    def locked_entries(self) -> tuple[StoreEntry, ...]:
        return tuple(entry for entry in self.entries if entry.password_refused)

    def describe(self) -> str:
        """`/…/LocalMachine/My (2 there: 77C1… CN=a, E0D2… CN=b)`, for lookup errors."""
        if self.problem is not None:
            return f"{self.folder} ({self.problem})"
        if not self.entries:
            return f"{self.folder} (no .pfx, .p12, .pem, .crt or .cer files there)"
        listed = ", ".join(entry.describe() for entry in self.entries)
        return f"{self.folder} ({len(self.entries)} there: {listed})"


def read_store(folder: Path, *, password: str | None, private_keys: bool = True) -> StoreSnapshot:
    """Every certificate file in the folder, in name order; unreadable ones say why.

    With `private_keys=False` (the publisher's case) no private key is kept, and a PEM key is
    never parsed; a PKCS#12 file can only be read whole, so it is opened with the password
    when one is configured, and otherwise its `.crt` companion stands for it.
    """
    try:
        paths = sorted(folder.iterdir())
    except FileNotFoundError:
        return StoreSnapshot(folder, (), "no such folder")
    except NotADirectoryError:
        return StoreSnapshot(folder, (), "not a folder")
    except OSError as error:
        return StoreSnapshot(folder, (), f"unreadable: {_reason(error)}")
    entries = [
        read_certificate_file(path, password=password, private_keys=private_keys)
        for path in paths
        if path.suffix.lower() in CERTIFICATE_SUFFIXES and _is_file(path)
    ]
    return StoreSnapshot(folder, tuple(entries))


def store_signature(folder: Path) -> tuple[tuple[str, int, int, int], ...] | str:
    """What changes when a file in the folder is added, replaced, rewritten or removed:
    name, size, modification time and inode of each entry (a problem's text otherwise).

    A running instance reads the store again only when this changes.
    """
    try:
        with os.scandir(folder) as entries:
            stats = [(entry.name, entry.stat()) for entry in entries]
    except OSError as error:
        return f"unreadable: {_reason(error)}"
    return tuple(
        sorted((name, stat.st_size, stat.st_mtime_ns, stat.st_ino) for name, stat in stats)
    )


def read_certificate_file(
    path: Path, *, password: str | None, private_keys: bool = True
) -> StoreEntry:
    """One `.pfx`/`.p12`, `.pem` or `.crt`/`.cer` file, by its suffix; never raises."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return StoreEntry(path, None, None, f"unreadable: {_reason(error)}")
    suffix = path.suffix.lower()
    if suffix in PKCS12_SUFFIXES:
        entry = _read_pkcs12(path, data, password)
    elif suffix in PEM_SUFFIXES:
        entry = _read_pem(path, data, password if private_keys else None, private_keys)
    else:
        entry = _read_certificate_only(path, data)
    if not private_keys and entry.private_key is not None:
        entry = StoreEntry(path, entry.certificate, None)
    return entry


def normalize_thumbprint(raw: str, *, setting: str) -> tuple[str, bool]:
    """Upper-case hex without spaces, colons or invisible characters; True if any were removed.

    Certificate managers copy thumbprints with U+200E and friends, which `str.strip()` keeps.
    """
    removed = False
    kept = []
    for char in raw:
        if char in " :\t\r\n-" or unicodedata.category(char) in ("Cf", "Cc", "Zs", "Zl", "Zp"):
            removed = True
            continue
        kept.append(char)
    thumbprint = "".join(kept).upper()
    if len(thumbprint) != 40 or any(char not in "0123456789ABCDEF" for char in thumbprint):
        shown = raw if len(raw) <= 60 else f"{raw[:59]}…"
        raise ConfigError(setting, f"{shown!r} is not a SHA-1 thumbprint (40 hexadecimal digits)")
    return thumbprint, removed


def _prefer_private_key(entries: list[StoreEntry]) -> list[StoreEntry]:
    """One entry per certificate: a `.pfx` and its `.crt` companion are the same key."""
    by_thumbprint: dict[str, StoreEntry] = {}
    for entry in entries:
        kept = by_thumbprint.get(entry.sha1_thumbprint)
        if kept is None or (kept.private_key is None and entry.private_key is not None):
            by_thumbprint[entry.sha1_thumbprint] = entry
    return list(by_thumbprint.values())


def _subject_names(certificate: x509.Certificate) -> set[str]:
    subject = certificate.subject
    names = {subject.rfc4514_string(), common_name(certificate) or ""}
    for attribute in subject:
        names.add(attribute.rfc4514_string())
        names.add(str(attribute.value))
    return {name.casefold() for name in names}


def _read_pkcs12(path: Path, data: bytes, password: str | None) -> StoreEntry:
    attempts = [password.encode(), None] if password else [None]
    for attempt in attempts:
        try:
            key, certificate, others = pkcs12.load_key_and_certificates(data, attempt)
        except ValueError:
            continue
        if certificate is None and len(others) == 1 and key is None:
            certificate = others[0]  # a certificate-only PKCS#12 carries it as a plain bag
        if certificate is None:
            return StoreEntry(path, None, None, "no certificate in the PKCS#12 file")
        return StoreEntry(path, certificate, key)  # type: ignore[arg-type]
    problem = "wrong password or not PKCS#12 data" if password else "password-protected"
    return StoreEntry(path, None, None, problem, password_refused=True)


def _read_pem(path: Path, data: bytes, password: str | None, private_keys: bool) -> StoreEntry:
    """A `.pem` holding a certificate (the leaf first, or the one matching the key) and key."""
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        return StoreEntry(path, None, None, "no PEM certificate")
    leaf = certificates[0]
    if not private_keys or b"PRIVATE KEY-----" not in data:
        return StoreEntry(path, leaf, None)
    try:
        key = serialization.load_pem_private_key(
            data, password=password.encode() if password else None
        )
    except TypeError:  # encrypted and no password given, or a password for a plain key
        if password:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            return StoreEntry(
                path,
                leaf,
                None,
                f"private key is encrypted: set {PASSWORD_SETTING}",
                password_refused=True,
            )
    except ValueError:
        return StoreEntry(
            path,
            leaf,
            None,
            f"private key unreadable (wrong {PASSWORD_SETTING}?)",
            password_refused=bool(password),
        )
    except Exception as error:  # unsupported key types raise UnsupportedAlgorithm
        return StoreEntry(path, leaf, None, f"private key unreadable: {type(error).__name__}")
    matching = next((cert for cert in certificates if keys_match(key, cert)), leaf)  # type: ignore[arg-type]
    return StoreEntry(path, matching, key)  # type: ignore[arg-type]


def _read_certificate_only(path: Path, data: bytes) -> StoreEntry:
    """A `.crt`/`.cer`: one certificate, PEM or DER."""
    try:
        certificate = (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate(data)
        )
    except ValueError:
        return StoreEntry(path, None, None, "not a PEM or DER certificate")
    return StoreEntry(path, certificate, None)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()
