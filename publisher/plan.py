"""What to publish: a pure diff of the rendered documents against what the origin holds.

No I/O here. The targets report `PublishedObject`s; this module decides which documents
to upload (with a reason for each, as Hugo's deploy prints), which CDN paths to
invalidate, how the set of kids changes, and whether a JWKS is safe to publish at all.
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
    not succeeded yet.
    """

    path: str
    sha256_hex: str | None
    content_type: str | None = None
    cache_control: str | None = None
    invalidation_pending: bool = False


@dataclass(frozen=True)
class Upload:
    document: Document
    reason: str


@dataclass(frozen=True)
class KeyChange:
    """Kids added to and removed from the published JWKS (RFC 7517 §4.5)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.added and not self.removed


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
) -> Plan:
    """Upload what differs; invalidate what this run changes and what a failed run left pending."""
    uploads = []
    invalidation_paths = []
    for document in documents:
        current = published.get(document.path)
        reason = upload_reason(document, current)
        if reason is not None:
            uploads.append(Upload(document, reason))
        if invalidate_cdn and (
            reason is not None or (current is not None and current.invalidation_pending)
        ):
            invalidation_paths.append(document.path)
    return Plan(tuple(uploads), tuple(invalidation_paths))


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


def key_change(previous_kids: Iterable[str], desired_kids: Iterable[str]) -> KeyChange:
    previous = list(previous_kids)
    desired = list(desired_kids)
    return KeyChange(
        added=tuple(kid for kid in desired if kid not in previous),
        removed=tuple(kid for kid in previous if kid not in desired),
        kept=tuple(kid for kid in desired if kid in previous),
    )


def check_key_set(jwks_body: bytes, *, signing_kid: str, revoked_kids: Iterable[str]) -> None:
    """Refuse a JWKS that cannot verify new tokens, or that makes validators trust a revoked key."""
    try:
        kids = jwks_kids(jwks_body)
    except ValueError as error:
        raise UnsafeKeySetError(f"refusing to publish the JWKS: {error}") from None
    if signing_kid.upper() not in {kid.upper() for kid in kids}:
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
