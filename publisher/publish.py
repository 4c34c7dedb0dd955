"""One publication: list, diff, print a reason per upload, write JWKS before discovery, invalidate.

Safe order, so any failure leaves a consistent pair at the origin and behind the CDN:

1. Refuse a JWKS without the signing key or with a revoked key (nothing read or written).
2. Read what the origin holds: one read per document (content hash in metadata); a dry
   run first checks the origin itself (one HEAD of the bucket).
3. Print the change in kids and in the signing key. A dry run stops here.
4. Write the JWKS, then read it back and compare its SHA-256; only then write discovery
   (a discovery document never goes out ahead of the JWKS it names).
5. One CDN invalidation for exactly the changed paths. Objects are written carrying a
   "pending" marker, cleared only after the invalidation succeeds, so a rerun repairs a
   failed invalidation even when the objects are already up to date.

The JWKS is ordered by kid and names no roles, so a switch of signing key between two
published keys leaves its bytes unchanged: the JWKS is written with the signing kid
recorded beside it (S3 metadata, or a file for a folder), and a change of that record
alone is rewritten without an invalidation.
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
    signing_kid = keyring.signing.kid if keyring.signing is not None else None
    check_key_set(documents.jwks.body, signing_kid=signing_kid, revoked_kids=keyring.revoked_kids)
    if dry_run:
        say(target.check_origin())
    published = {document.path: target.find(document.path) for document in documents}
    plan = plan_publication(
        documents, published, invalidate_cdn=cdn is not None, signing_kid=signing_kid
    )
    change = _key_change(
        documents.jwks, published[documents.jwks.path], plan, target, say, signing_kid=signing_kid
    )
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

    jwks_verified = False
    for upload in plan.uploads:
        document = upload.document
        if document.path == documents.discovery.path and not jwks_verified:
            _read_back(target, documents.jwks, say)
            jwks_verified = True
        say(f"uploading {document.path}: {upload.reason}")
        target.write(
            document,
            invalidation_pending=document.path in plan.invalidation_paths,
            signing_kid=_recorded_signing_kid(document, documents, keyring),
        )
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
        _clear_pending_markers(documents, keyring, plan, target, say)
    return Outcome(plan, change, dry_run=False, invalidation_id=invalidation_id)


def describe_key_change(change: KeyChange, keyring: Keyring) -> list[str]:
    """Lines an operator reads before anything is written: which kids appear and disappear,
    and which key signs from now on."""
    signing = keyring.signing
    if change.is_empty:
        signs = f"signing {signing.kid} {signing.algorithm}" if signing else "no key may sign yet"
        return [f"Key change: none ({len(change.kept)} published; {signs})"]
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
    if change.signing_changed:
        nothing_published_before = not change.kept and not change.removed
        if nothing_published_before:
            lines.append(f"Signing key: {change.signing_kid}")
        else:
            previous = change.previous_signing_kid or "(not recorded)"
            lines.append(f"Signing key: {previous} -> {change.signing_kid}")
    return lines


def _key_change(
    jwks: Document,
    current: PublishedObject | None,
    plan: Plan,
    target: Target,
    say: Say,
    *,
    signing_kid: str | None,
) -> KeyChange:
    """Kids added and removed; reads the published JWKS body only when its hash differs."""
    desired = jwks_kids(jwks.body)
    upload = plan.upload_for(jwks.path)
    if current is None:
        return key_change((), desired, previous_signing_kid=None, signing_kid=signing_kid)
    recorded = current.signing_kid
    if upload is None or current.sha256_hex == jwks.sha256_hex:
        return key_change(desired, desired, previous_signing_kid=recorded, signing_kid=signing_kid)
    try:
        previous = jwks_kids(target.read_body(jwks.path))
    except ValueError as error:
        say(f"note: the published JWKS is not a JWK Set ({error}); it will be replaced")
        previous = ()
    return key_change(previous, desired, previous_signing_kid=recorded, signing_kid=signing_kid)


def _recorded_signing_kid(document: Document, documents: Documents, keyring: Keyring) -> str | None:
    """The JWKS carries the signing kid in its record at the origin; discovery carries none."""
    if document is not documents.jwks or keyring.signing is None:
        return None
    return keyring.signing.kid


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


def _clear_pending_markers(
    documents: Documents, keyring: Keyring, plan: Plan, target: Target, say: Say
) -> None:
    """Rewrite the invalidated objects without the marker; failing that, a rerun re-invalidates."""
    for document in documents:
        if document.path not in plan.invalidation_paths:
            continue
        try:
            target.write(
                document,
                invalidation_pending=False,
                signing_kid=_recorded_signing_kid(document, documents, keyring),
            )
        except OriginError as error:
            say(
                f"warning: the CDN is invalidated but the pending marker stays ({error}); "
                "the next run invalidates again"
            )
            return
