"""What to publish: a pure diff of the rendered documents against what the origin holds.

No I/O here. The targets report `PublishedObject`s; this module decides which documents
to upload (with a reason for each, as Hugo's deploy prints), which CDN paths to
invalidate, how the set of kids and the signing key change, and whether a JWKS is safe
to publish at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.documents import Document, Documents
from publisher.errors import UnsafeKeySetError


@dataclass(frozen=True)
class PublishedObject:
    """What the origin holds for one document, as far as one read request tells.

    `sha256_hex` is the content hash recorded when the publisher wrote the object (None
    when another tool wrote it). `content_type` and `cache_control` are None for targets
    that do not store headers (a folder); "" when the target stores them but has none.
    `invalidation_pending` marks an object written by a run whose CDN invalidation has
    not succeeded yet. `signing_kid` is the signing key recorded with the JWKS (the JWKS
    itself no longer says which key signs); None when not recorded.
    """

    path: str
    sha256_hex: str | None
    content_type: str | None = None
    cache_control: str | None = None
    invalidation_pending: bool = False
    signing_kid: str | None = None


@dataclass(frozen=True)
class Upload:
    """A document to write and why; `invalidate` is False when viewers would get the same
    bytes and headers (only the record of the signing key changes)."""

    document: Document
    reason: str
    invalidate: bool = True


@dataclass(frozen=True)
class KeyChange:
    """Kids added to and removed from the published JWKS (RFC 7517 §4.5), and which signs.

    `previous_signing_kid` is None when the origin holds no record of it (nothing
    published yet, or a JWKS written before the signing key was recorded).
    """

    added: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    signing_kid: str | None
    previous_signing_kid: str | None

    @property
    def signing_changed(self) -> bool:
        return self.previous_signing_kid != self.signing_kid

    @property
    def is_empty(self) -> bool:
        return not self.added and not self.removed and not self.signing_changed


@dataclass(frozen=True)
class Plan:
    """Uploads in publication order (JWKS first) and the CDN paths to invalidate after them."""

    uploads: tuple[Upload, ...]
    invalidation_paths: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.uploads and not self.invalidation_paths

    def upload_for(self, path: str) -> Upload | None:
        return next((upload for upload in self.uploads if upload.document.path == path), None)


def plan_publication(
    documents: Documents,
    published: Mapping[str, PublishedObject | None],
    *,
    invalidate_cdn: bool,
    signing_kid: str | None,
) -> Plan:
    """Upload what differs; invalidate what this run changes and what a failed run left pending.

    A JWKS whose bytes are current but whose recorded signing key is not is rewritten to
    bring the record up to date, without an invalidation: viewers get the same bytes.
    """
    uploads = []
    invalidation_paths = []
    for document in documents:
        current = published.get(document.path)
        upload = None
        reason = upload_reason(document, current)
        if reason is not None:
            upload = Upload(document, reason)
        elif document is documents.jwks and current is not None:
            reason = signing_record_reason(current.signing_kid, signing_kid)
            upload = Upload(document, reason, invalidate=False) if reason else None
        if upload is not None:
            uploads.append(upload)
        pending = current is not None and current.invalidation_pending
        if invalidate_cdn and ((upload is not None and upload.invalidate) or pending):
            invalidation_paths.append(document.path)
    return Plan(tuple(uploads), tuple(invalidation_paths))


def signing_record_reason(recorded_kid: str | None, signing_kid: str | None) -> str | None:
    """Why the JWKS's record of its signing key must be rewritten, or None when it is current."""
    if recorded_kid == signing_kid:
        return None
    if recorded_kid is None:
        return "signing key not recorded at the origin: same bytes, no invalidation"
    return f"signing key changed ({recorded_kid} -> {signing_kid}): same bytes, no invalidation"


def upload_reason(document: Document, current: PublishedObject | None) -> str | None:
    """Why the document must be uploaded, or None when the origin already holds it."""
    if current is None:
        return "missing at the origin"
    if current.sha256_hex is None:
        return "no content hash recorded at the origin"
    if current.sha256_hex != document.sha256_hex:
        return f"content changed (sha256 {current.sha256_hex[:12]} -> {document.sha256_hex[:12]})"
    if current.content_type is not None and current.content_type != document.content_type:
        return f"content type changed ({current.content_type!r} -> {document.content_type!r})"
    if current.cache_control is not None and current.cache_control != document.cache_control:
        return f"Cache-Control changed ({current.cache_control!r} -> {document.cache_control!r})"
    return None


def jwks_kids(jwks_body: bytes) -> tuple[str, ...]:
    """The kids of a JWK Set, in document order; raises ValueError when it is not one."""
    document = json.loads(jwks_body)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set: no 'keys' list")
    kids = []
    for index, entry in enumerate(document["keys"]):
        kid = entry.get("kid") if isinstance(entry, dict) else None
        if not isinstance(kid, str) or not kid:
            raise ValueError(f"key {index} has no kid")
        kids.append(kid)
    return tuple(kids)


def key_change(
    previous_kids: Iterable[str],
    desired_kids: Iterable[str],
    *,
    previous_signing_kid: str | None,
    signing_kid: str | None,
) -> KeyChange:
    previous = list(previous_kids)
    desired = list(desired_kids)
    return KeyChange(
        added=tuple(kid for kid in desired if kid not in previous),
        removed=tuple(kid for kid in previous if kid not in desired),
        kept=tuple(kid for kid in desired if kid in previous),
        signing_kid=signing_kid,
        previous_signing_kid=previous_signing_kid,
    )


def check_key_set(
    jwks_body: bytes, *, signing_kid: str | None, revoked_kids: Iterable[str]
) -> None:
    """Refuse a JWKS that cannot verify new tokens, or that makes validators trust a revoked key."""
    try:
        kids = jwks_kids(jwks_body)
    except ValueError as error:
        raise UnsafeKeySetError(f"refusing to publish the JWKS: {error}") from None
    if signing_kid is not None and signing_kid.upper() not in {kid.upper() for kid in kids}:
        raise UnsafeKeySetError(
            f"refusing to publish a JWKS without the signing key {signing_kid}: "
            "validators would reject every new token"
        )
    revoked = {kid.upper() for kid in revoked_kids}
    published_revoked = [kid for kid in kids if kid.upper() in revoked]
    if published_revoked:
        raise UnsafeKeySetError(
            "refusing to publish a JWKS holding revoked key(s) "
            f"{', '.join(published_revoked)} (TokenOptions:RevokedCertificateThumbprints)"
        )
