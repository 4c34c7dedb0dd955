"""One publication: list, diff, print a reason per upload, write JWKS before discovery, invalidate.

Safe order, so any failure leaves a consistent pair at the origin and behind the CDN:

1. Refuse a JWKS without the signing key or with a revoked key (nothing read or written).
2. Read what the origin holds: one read per document (content hash in metadata).
3. Print the change in kids. A dry run stops here.
4. Write the JWKS, then read it back and compare its SHA-256; only then write discovery
   (a discovery document never goes out ahead of the JWKS it names).
5. One CDN invalidation for exactly the changed paths. Objects are written carrying a
   "pending" marker, cleared only after the invalidation succeeds, so a rerun repairs a
   failed invalidation even when the objects are already up to date.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from app.documents import Document, Documents
from app.keys.keyring import Keyring
from publisher.cdn import CloudFrontInvalidator
from publisher.errors import OriginError, ReadBackError
from publisher.plan import (
    KeyChange,
    Plan,
    PublishedObject,
    check_key_set,
    jwks_kids,
    key_change,
    plan_publication,
)
from publisher.targets import Target

Say = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    """What a run did: the plan it followed, and the invalidation it created, if any."""

    plan: Plan
    key_change: KeyChange
    dry_run: bool
    invalidation_id: str | None = None

    @property
    def uploaded_paths(self) -> tuple[str, ...]:
        return () if self.dry_run else tuple(u.document.path for u in self.plan.uploads)


def publish(
    documents: Documents,
    *,
    keyring: Keyring,
    target: Target,
    cdn: CloudFrontInvalidator | None,
    dry_run: bool,
    say: Say,
) -> Outcome:
    """Bring the origin (and the CDN) to `documents`, writing nothing that is already there."""
    check_key_set(
        documents.jwks.body, signing_kid=keyring.signing.kid, revoked_kids=keyring.revoked_kids
    )
    published = {document.path: target.find(document.path) for document in documents}
    plan = plan_publication(documents, published, invalidate_cdn=cdn is not None)
    change = _key_change(documents.jwks, published[documents.jwks.path], plan, target, say)
    for line in describe_key_change(change, keyring):
        say(line)
    if cdn is None:
        pending = [
            path for path, found in published.items() if found and found.invalidation_pending
        ]
        if pending:
            say(
                f"note: a CDN invalidation is still pending for {', '.join(pending)}; "
                "rerun with --cdn-distribution-id to send it"
            )

    if dry_run:
        for upload in plan.uploads:
            say(f"would upload {upload.document.path}: {upload.reason}")
        if plan.invalidation_paths:
            say(f"would invalidate {', '.join(plan.invalidation_paths)} on the CDN")
        if plan.is_empty:
            say("No changes required.")
        return Outcome(plan, change, dry_run=True)
    if plan.is_empty:
        say("No changes required.")
        return Outcome(plan, change, dry_run=False)

    mark_pending = cdn is not None
    jwks_verified = False
    for upload in plan.uploads:
        document = upload.document
        if document.path == documents.discovery.path and not jwks_verified:
            _read_back(target, documents.jwks, say)
            jwks_verified = True
        say(f"uploading {document.path}: {upload.reason}")
        target.write(document, invalidation_pending=mark_pending)
        if document.path == documents.jwks.path:
            _read_back(target, documents.jwks, say)
            jwks_verified = True

    invalidation_id = None
    if cdn is not None and plan.invalidation_paths:
        invalidation_id = cdn.invalidate(plan.invalidation_paths)
        say(
            f"invalidated {', '.join(plan.invalidation_paths)} on CloudFront distribution "
            f"{cdn.distribution_id} (invalidation {invalidation_id})"
        )
        _clear_pending_markers(documents, plan, target, say)
    return Outcome(plan, change, dry_run=False, invalidation_id=invalidation_id)


def describe_key_change(change: KeyChange, keyring: Keyring) -> list[str]:
    """Lines an operator reads before anything is written: which kids appear and disappear."""
    signing = keyring.signing
    if change.is_empty:
        return [
            f"Key change: none ({len(change.kept)} published; signing {signing.kid} "
            f"{signing.algorithm})"
        ]
    lines = [
        f"Key change: {len(change.added)} added, {len(change.removed)} removed, "
        f"{len(change.kept)} kept"
    ]
    for kid in change.added:
        key = keyring.find(kid)
        detail = f" {key.role} {key.algorithm} {key.subject}" if key else ""
        lines.append(f"  + {kid}{detail}")
    for kid in change.removed:
        lines.append(f"  - {kid}")
    return lines


def _key_change(
    jwks: Document,
    current: PublishedObject | None,
    plan: Plan,
    target: Target,
    say: Say,
) -> KeyChange:
    """Kids added and removed; reads the published JWKS body only when its hash differs."""
    desired = jwks_kids(jwks.body)
    upload = plan.upload_for(jwks.path)
    if current is None:
        return key_change((), desired)
    if upload is None or current.sha256_hex == jwks.sha256_hex:
        return key_change(desired, desired)
    try:
        previous = jwks_kids(target.read_body(jwks.path))
    except ValueError as error:
        say(f"note: the published JWKS is not a JWK Set ({error}); it will be replaced")
        previous = ()
    return key_change(previous, desired)


def _read_back(target: Target, jwks: Document, say: Say) -> None:
    """The JWKS at the origin must be byte for byte what was rendered before discovery goes out."""
    body = target.read_body(jwks.path)
    found = hashlib.sha256(body).hexdigest()
    if found != jwks.sha256_hex:
        raise ReadBackError(
            f"read-back of {jwks.path} from {target.url} gave sha256 {found[:12]}, expected "
            f"{jwks.sha256_hex[:12]}; discovery was not written"
        )
    say(f"read back {jwks.path}: sha256 {found[:12]} matches")


def _clear_pending_markers(documents: Documents, plan: Plan, target: Target, say: Say) -> None:
    """Rewrite the invalidated objects without the marker; failing that, a rerun re-invalidates."""
    for document in documents:
        if document.path not in plan.invalidation_paths:
            continue
        try:
            target.write(document, invalidation_pending=False)
        except OriginError as error:
            say(
                f"warning: the CDN is invalidated but the pending marker stays ({error}); "
                "the next run invalidates again"
            )
            return
