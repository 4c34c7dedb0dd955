"""The certificate store: a folder of PKCS#12 and PEM files, searched by thumbprint or subject.

`{CertificateStoreRoot}/{CertificateStoreLocation}/{CertificateStoreName}/` holds `.pfx`/`.p12`
(password from `TokenOptions:CertificatePassword`) and `.pem` (certificate and private key).
Lookup failures describe what the folder holds, so the operator sees the mistake.
"""

from __future__ import annotations

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
CERTIFICATE_SUFFIXES = PKCS12_SUFFIXES + PEM_SUFFIXES


@dataclass(frozen=True)
class StoreEntry:
    """One certificate file; `problem` says why it could not be read, if it could not."""

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
        """`77C1… CN=old-signing`, as lookup errors list the store's contents."""
        if self.certificate is None:
            return f"{self.path.name} unreadable ({self.problem})"
        return f"{self.sha1_thumbprint[:8]}… {self.subject}"


def read_store(folder: Path, *, password: str | None) -> list[StoreEntry]:
    """Every certificate file in the folder, in name order; unreadable files say why."""
    if not folder.is_dir():
        return []
    return [
        read_certificate_file(path, password=password)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix.lower() in CERTIFICATE_SUFFIXES
    ]


def read_certificate_file(path: Path, *, password: str | None) -> StoreEntry:
    """One `.pfx`/`.p12` or `.pem` file, by its suffix."""
    if path.suffix.lower() in PKCS12_SUFFIXES:
        return _read_pkcs12(path, password)
    return read_pem_entry(path)


def normalize_thumbprint(raw: str, *, setting: str) -> tuple[str, bool]:
    """Upper-case hex without spaces, colons or invisible characters; True if any were removed.

    Certificate managers copy thumbprints with U+200E and friends, which `str.strip()` keeps.
    """
    invisible = False
    kept = []
    for char in raw:
        if char in " :\t\r\n-":
            continue
        if unicodedata.category(char) in ("Cf", "Cc", "Zs", "Zl", "Zp", "Mn"):
            invisible = True
            continue
        kept.append(char)
    thumbprint = "".join(kept).upper()
    if len(thumbprint) != 40 or any(char not in "0123456789ABCDEF" for char in thumbprint):
        raise ConfigError(setting, f"{raw!r} is not a SHA-1 thumbprint (40 hexadecimal digits)")
    return thumbprint, invisible


def find_by_thumbprint(entries: list[StoreEntry], thumbprint: str) -> StoreEntry | None:
    for entry in entries:
        if entry.certificate is not None and entry.sha1_thumbprint == thumbprint:
            return entry
    return None


def find_by_subject(entries: list[StoreEntry], name: str) -> list[StoreEntry]:
    """Certificates whose common name, a whole RDN or RDN value, or whole DN equals `name`."""
    wanted = name.strip().casefold()
    found = []
    for entry in entries:
        if entry.certificate is None:
            continue
        subject = entry.certificate.subject
        candidates = {subject.rfc4514_string().casefold(), (common_name(entry.certificate) or "")}
        for attribute in subject:
            candidates.add(attribute.rfc4514_string().casefold())
            candidates.add(str(attribute.value).casefold())
        if wanted in {candidate.casefold() for candidate in candidates}:
            found.append(entry)
    return found


def describe_store(folder: Path, entries: list[StoreEntry]) -> str:
    """`/…/LocalMachine/My (2 there: 77C1… CN=a, E0D2… CN=b)`, for lookup errors."""
    if not folder.is_dir():
        return f"{folder} (no such folder)"
    if not entries:
        return f"{folder} (no .pfx, .p12 or .pem files there)"
    return f"{folder} ({len(entries)} there: {', '.join(entry.describe() for entry in entries)})"


def _read_pkcs12(path: Path, password: str | None) -> StoreEntry:
    data = path.read_bytes()
    attempts = [password.encode(), None] if password else [None]
    for attempt in attempts:
        try:
            key, certificate, _ = pkcs12.load_key_and_certificates(data, attempt)
        except ValueError:
            continue
        if certificate is None:
            return StoreEntry(path, None, None, "no certificate in the PKCS#12 file")
        return StoreEntry(path, certificate, key)  # type: ignore[arg-type]
    problem = "wrong password or not PKCS#12 data" if password else "password-protected"
    return StoreEntry(path, None, None, problem, password_refused=True)


def read_pem_entry(path: Path) -> StoreEntry:
    """A `.pem` holding a certificate (the leaf first, or the one matching the key) and key."""
    data = path.read_bytes()
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        return StoreEntry(path, None, None, "no PEM certificate")
    key = None
    if b"PRIVATE KEY-----" in data:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            return StoreEntry(path, certificates[0], None, f"private key unreadable: {error}")
    leaf = certificates[0]
    if key is not None:
        leaf = next((cert for cert in certificates if keys_match(key, cert)), leaf)  # type: ignore[arg-type]
    return StoreEntry(path, leaf, key)  # type: ignore[arg-type]
