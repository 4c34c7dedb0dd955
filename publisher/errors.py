"""The publisher's errors: one line each, saying what failed and what to check."""

from __future__ import annotations

from app.errors import TokenIdpError


class PublisherUsageError(TokenIdpError):
    """The command line or its environment is wrong (exit status 2)."""


class PublishError(TokenIdpError):
    """A publication failed (exit status 1); the published pair stays consistent."""


class UnsafeKeySetError(PublishError):
    """The JWKS lacks the signing key or holds a revoked one, so it is never written."""


class OriginError(PublishError):
    """The origin (S3 bucket or folder) refused or could not be reached."""


class ReadBackError(PublishError):
    """The JWKS read back from the origin is not what was written."""


class CdnError(PublishError):
    """The CDN invalidation failed; the objects are correct and marked for a rerun."""
