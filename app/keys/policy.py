"""What makes a certificate unfit to be published or to sign: one rule for start-up,
the publisher and `tokenidp certs list`, so a listing never disagrees with start-up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509

from app.keys.certificates import (
    is_development_certificate,
    key_description,
    keys_match,
    sha1_thumbprint,
    unusable_key_reason,
)
from app.keys.store import PASSWORD_SETTING, StoreEntry

REVOKED_SETTING = "TokenOptions:RevokedCertificateThumbprints"


@dataclass(frozen=True)
class Refusal:
    """Why a certificate is refused: `status` for listings, `reason` for the start-up line.

    `setting` is the setting that fixes it when that is not the one that chose the
    certificate (a locked key is fixed by the password, not by the thumbprint).
    """

    status: str
    reason: str
    setting: str | None = None


def publishing_refusals(
    certificate: x509.Certificate, *, environment: str, revoked: Mapping[str, str]
) -> list[Refusal]:
    """Reasons never to put this certificate's key in the JWKS.

    `revoked` maps each revoked kid to how it was revoked (the setting, or the command).
    """
    refusals = []
    how = revoked.get(sha1_thumbprint(certificate))
    if how is not None:
        refusals.append(Refusal("revoked", f"is revoked ({how})"))
    if is_development_certificate(certificate) and environment != "Development":
        refusals.append(
            Refusal(
                "development key",
                f"is a development key; {environment} requires a real certificate",
            )
        )
    unusable = unusable_key_reason(certificate.public_key())
    if unusable is not None:
        description = key_description(certificate.public_key())
        refusals.append(
            Refusal(f"unusable key ({unusable})", f"has a {description} key: {unusable}")
        )
    return refusals


def signing_refusals(
    entry: StoreEntry, *, environment: str, revoked: Mapping[str, str], now: dt.datetime
) -> list[Refusal]:
    """Reasons this store entry cannot sign now: the publishing rules, then key and validity."""
    certificate = entry.certificate
    assert certificate is not None
    refusals = publishing_refusals(certificate, environment=environment, revoked=revoked)
    if entry.private_key is None and entry.password_refused:
        refusals.append(
            Refusal(
                "key locked",
                f"has a private key that cannot be opened ({entry.problem}; wrong or missing "
                "password)",
                setting=PASSWORD_SETTING,
            )
        )
    elif entry.private_key is None:
        detail = f" ({entry.problem})" if entry.problem else ""
        refusals.append(
            Refusal(
                "no private key",
                f"has no private key{detail}; add the PKCS#12 or PEM that holds it",
            )
        )
    elif not keys_match(entry.private_key, certificate):
        refusals.append(Refusal("key mismatch", f"does not match the private key in {entry.path}"))
    if now < certificate.not_valid_before_utc:
        refusals.append(
            Refusal(
                "not yet valid",
                f"is not valid until {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            )
        )
    if now >= certificate.not_valid_after_utc:
        refusals.append(
            Refusal("expired", f"expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
        )
    return refusals
