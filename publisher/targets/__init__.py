"""Where documents are published: an S3 bucket (behind a CDN) or a local folder.

Both targets answer the same questions for the publisher: is the origin there (the dry
run asks), what is there (one read per document), what are its bytes (the read-back),
and write this document.
"""

from __future__ import annotations

import re
import unicodedata
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

    def check_origin(self) -> str:
        """One request proving the origin exists and is reachable; a line saying what was found."""

    def find(self, path: str) -> PublishedObject | None:
        """What the origin holds for a document path, in one read request; None when absent."""

    def read_body(self, path: str) -> bytes:
        """The stored bytes, for the read-back and for listing the kids being removed."""

    def write(
        self, document: Document, *, invalidation_pending: bool, signing_kid: str | None
    ) -> None:
        """Store the document so readers see the old or the new bytes, never a mix, and
        record the signing kid with it (the JWKS's) so the next run can name a switch."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def parse_target_url(url: str) -> S3Location | Path:
    """`s3://BUCKET/PREFIX` or `file:///DIR`, as the contract spells them.

    A prefix or folder that names a path other than the one written is refused: S3 keys are
    literal, so `s3://b/../x` would write objects under a `../` key that a CDN origin path
    never reaches, and a `..` in a folder leaves the folder the operator named.
    """
    hidden = _hidden_character(url)
    if hidden is not None:
        raise PublisherUsageError(f"--target {url!r}: {hidden} is not allowed in a target")
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise PublisherUsageError(f"--target {url}: no bucket; use s3://BUCKET/PREFIX")
        if parts.query or parts.fragment or "?" in url or "#" in url:
            raise PublisherUsageError(f"--target {url}: no query or fragment allowed")
        if not BUCKET_NAME.fullmatch(parts.netloc):
            raise PublisherUsageError(
                f"--target {url}: {parts.netloc!r} is not a bucket name (letters, digits, '.', "
                "'-' and '_', starting and ending with a letter or digit)"
            )
        return S3Location(parts.netloc, _s3_prefix(url, parts.path))
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise PublisherUsageError(
                f"--target {url}: use an absolute folder, file:///DIR (three slashes)"
            )
        folder = unquote(parts.path)
        hidden = _hidden_character(folder)
        if hidden is not None:
            raise PublisherUsageError(f"--target {url}: the folder holds {hidden}")
        if ".." in folder.split("/"):
            raise PublisherUsageError(
                f"--target {url}: '..' is not allowed in the folder; name it directly"
            )
        return Path(folder)
    raise PublisherUsageError(f"--target {url}: expected s3://BUCKET/PREFIX or file:///DIR")


BUCKET_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,253}[A-Za-z0-9])?")


def _s3_prefix(url: str, path: str) -> str:
    """The key prefix: one leading and one trailing slash dropped, every segment a real name."""
    prefix = path.removeprefix("/").removesuffix("/")
    if not prefix:
        return ""
    if "\\" in prefix:
        raise PublisherUsageError(
            f"--target {url}: backslash in the prefix; S3 keys use '/' between segments"
        )
    if "%" in prefix:
        raise PublisherUsageError(
            f"--target {url}: percent-escapes are not allowed in the prefix; write it as S3 "
            "stores it"
        )
    for segment in prefix.split("/"):
        if segment == "":
            raise PublisherUsageError(
                f"--target {url}: empty segment ('//') in the prefix; S3 would store it literally"
            )
        if segment in (".", ".."):
            raise PublisherUsageError(
                f"--target {url}: {segment!r} segment in the prefix; S3 keys are literal, so "
                "objects would land under a key the CDN's origin path never reaches"
            )
    return prefix


def _hidden_character(text: str) -> str | None:
    """A control or invisible character (a pasted newline, U+200E), named for the error line."""
    for char in text:
        if unicodedata.category(char).startswith("C"):
            return f"control or invisible character U+{ord(char):04X}"
    return None
