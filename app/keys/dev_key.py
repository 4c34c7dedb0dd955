"""The development key: generated once in the instance folder, reused, and marked as such."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from app.errors import ConfigError
from app.keys.certificates import (
    DEVELOPMENT_MARKER,
    create_self_signed,
    generate_private_key,
    pem_bytes,
)
from app.keys.store import StoreEntry, read_certificate_file

DEVELOPMENT_KEY_FILE = "development-signing-key.pem"


def ensure_development_key(instance_dir: Path, *, now: dt.datetime) -> StoreEntry:
    """The development certificate and key, created on first use and kept across restarts."""
    path = instance_dir / DEVELOPMENT_KEY_FILE
    if path.exists():
        entry = read_certificate_file(path, password=None)
        if entry.certificate is None or entry.private_key is None:
            raise ConfigError(
                "TOKENIDP_INSTANCE_DIR",
                f"development key {path} is unreadable ({entry.problem}); delete it to regenerate",
            )
        if entry.certificate.not_valid_after_utc > now:
            return entry
        path.unlink()
    _write_once(path, _new_development_pem(now))
    return read_certificate_file(path, password=None)


def _new_development_pem(now: dt.datetime) -> bytes:
    private_key = generate_private_key("rsa", rsa_bits=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "TokenIDP Development Signing Key"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEVELOPMENT_MARKER),
        ]
    )
    certificate = create_self_signed(
        private_key,
        subject=subject,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=365),
    )
    return pem_bytes(private_key, certificate)


def _write_once(path: Path, data: bytes) -> None:
    """Write a 0600 file only if none exists, so racing processes agree on one key."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            "TOKENIDP_INSTANCE_DIR", f"cannot create {path.parent}: {error}"
        ) from None
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".dev-key-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
