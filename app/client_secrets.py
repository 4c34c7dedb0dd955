"""Client secrets: made with 256 random bits, kept only as SHA-256 digests, checked in
constant time.

The one place that makes, hashes or checks a client secret: the configuration holds the
base64 of the digest (`Clients:N:ClientSecrets:M:Value`, as `tokenidp hash-secret` prints),
the database the 32 bytes (`client_secrets.sha256_digest`), and client authentication
compares digests. A secret has 256 bits of entropy, so one SHA-256 suffices: nobody can
guess it from its digest, and a slow password hash would cost every token request.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

SECRET_RANDOM_BYTES = 32  # secrets.token_urlsafe(32): 256 bits, 43 characters
SHA256_DIGEST_BYTES = 32


@dataclass(frozen=True)
class ClientSecret:
    """One secret of a client, as its digest; `expires_at` (seconds since the epoch) is set
    when it is rotated out, and it works until then."""

    sha256_digest: bytes
    expires_at: int | None = None

    def is_valid_at(self, now: int) -> bool:
        return self.expires_at is None or now < self.expires_at


class SecretCheck(enum.Enum):
    """What a presented secret turned out to be, for the client it claims to be."""

    VALID = "valid"
    EXPIRED = "expired"  # it was this client's secret, rotated out (the caller knows it)
    WRONG = "wrong"


# Compared with when there is no secret to compare with (an unknown, disabled or public
# client), so that costs the same work as a known client; it is never valid.
_DECOY = (ClientSecret(hashlib.sha256(b"tokenidp: no usable client secret").digest(), 0),)


def generate_client_secret() -> str:
    """A new client secret: URL-safe text, so it needs no escaping in Basic credentials."""
    return secrets.token_urlsafe(SECRET_RANDOM_BYTES)


def client_secret_digest(secret: str) -> bytes:
    """The SHA-256 of the secret's UTF-8 bytes: what is stored and compared."""
    return hashlib.sha256(secret.encode()).digest()


def hash_client_secret(secret: str) -> str:
    """The form a client secret is configured in: base64 of its SHA-256."""
    return base64.b64encode(client_secret_digest(secret)).decode()


def configured_digest(value: str) -> bytes:
    """The digest a configured `Value` holds; ValueError unless it is base64 of 32 bytes."""
    digest = base64.b64decode(value, validate=True)  # binascii.Error is a ValueError
    if len(digest) != SHA256_DIGEST_BYTES:
        raise ValueError(f"{len(digest)} bytes, not a SHA-256 digest")
    return digest


def check_client_secret(
    presented: str, *, candidates: Sequence[ClientSecret], now: int
) -> SecretCheck:
    """Compare the presented secret's digest with every candidate, each in constant time and
    without stopping at a match; no candidates means the decoy, so an unknown client costs
    the same work as a known one."""
    digest = client_secret_digest(presented)
    valid = expired = False
    for candidate in candidates or _DECOY:
        same = hmac.compare_digest(digest, candidate.sha256_digest)
        if candidate.is_valid_at(now):
            valid |= same
        else:
            expired |= same
    if valid:
        return SecretCheck.VALID
    return SecretCheck.EXPIRED if expired and candidates else SecretCheck.WRONG
