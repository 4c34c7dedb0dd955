"""Where documents are published: an S3 bucket (behind a CDN) or a local folder.

Both targets answer the same three questions for the publisher: what is there (one read
per document), what are its bytes (the read-back), and write this document.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from app.documents import Document
from publisher.errors import PublisherUsageError
from publisher.plan import PublishedObject


class Target(Protocol):
    """An origin the publisher writes documents to."""

    url: str
    supports_cdn_marker: bool

    def find(self, path: str) -> PublishedObject | None:
        """What the origin holds for a document path, in one read request; None when absent."""

    def read_body(self, path: str) -> bytes:
        """The stored bytes, for the read-back and for listing the kids being removed."""

    def write(self, document: Document, *, invalidation_pending: bool) -> None:
        """Store the document so readers see the old or the new bytes, never a mix."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def parse_target_url(url: str) -> S3Location | Path:
    """`s3://BUCKET/PREFIX` or `file:///DIR`, as the contract spells them."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise PublisherUsageError(f"--target {url}: no bucket; use s3://BUCKET/PREFIX")
        if parts.query or parts.fragment:
            raise PublisherUsageError(f"--target {url}: no query or fragment allowed")
        return S3Location(parts.netloc, parts.path.strip("/"))
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise PublisherUsageError(
                f"--target {url}: use an absolute folder, file:///DIR (three slashes)"
            )
        return Path(unquote(parts.path))
    raise PublisherUsageError(f"--target {url}: expected s3://BUCKET/PREFIX or file:///DIR")
