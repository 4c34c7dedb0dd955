"""The S3 origin: objects with their content type, Cache-Control and content-hash metadata.

Buckets behind a CDN stay private (the CDN reads them with origin access control); a
canned ACL is sent only when the operator asks for one.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from app.documents import Document
from publisher.aws_errors import describe_aws_error, error_code
from publisher.errors import OriginError
from publisher.plan import PublishedObject
from publisher.targets import S3Location

SHA256_METADATA = "sha256"
CDN_MARKER_METADATA = "cdn-invalidation"
CDN_MARKER_PENDING = "pending"
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Target:
    """Documents stored as `PREFIX/.well-known/...` objects in one bucket."""

    supports_cdn_marker = True

    def __init__(self, client: Any, location: S3Location, *, acl: str | None = None) -> None:
        self.client = client
        self.location = location
        self.url = location.url
        self.acl = acl

    def object_key(self, path: str) -> str:
        key = path.lstrip("/")
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def find(self, path: str) -> PublishedObject | None:
        """One HEAD: the recorded hash, headers and CDN marker, without the body."""
        key = self.object_key(path)
        try:
            head = self.client.head_object(Bucket=self.location.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in NOT_FOUND_CODES:
                return None
            raise self._error(error, f"reading s3://{self.location.bucket}/{key}") from None
        except BotoCoreError as error:
            raise self._error(error, f"reading s3://{self.location.bucket}/{key}") from None
        metadata = {name.lower(): value for name, value in head.get("Metadata", {}).items()}
        return PublishedObject(
            path=path,
            sha256_hex=metadata.get(SHA256_METADATA),
            content_type=head.get("ContentType", ""),
            cache_control=head.get("CacheControl", ""),
            invalidation_pending=metadata.get(CDN_MARKER_METADATA) == CDN_MARKER_PENDING,
        )

    def read_body(self, path: str) -> bytes:
        key = self.object_key(path)
        action = f"reading back s3://{self.location.bucket}/{key}"
        try:
            response = self.client.get_object(Bucket=self.location.bucket, Key=key)
            return response["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise self._error(error, action) from None

    def write(self, document: Document, *, invalidation_pending: bool) -> None:
        """One PUT: S3 replaces an object atomically, so readers see old or new bytes."""
        key = self.object_key(document.path)
        metadata = {SHA256_METADATA: document.sha256_hex}
        if invalidation_pending:
            metadata[CDN_MARKER_METADATA] = CDN_MARKER_PENDING
        arguments: dict[str, Any] = {
            "Bucket": self.location.bucket,
            "Key": key,
            "Body": document.body,
            "ContentType": document.content_type,
            "CacheControl": document.cache_control,
            "Metadata": metadata,
        }
        if self.acl:
            arguments["ACL"] = self.acl
        try:
            self.client.put_object(**arguments)
        except (BotoCoreError, ClientError) as error:
            raise self._error(error, f"writing s3://{self.location.bucket}/{key}") from None

    def _error(self, error: BotoCoreError | ClientError, action: str) -> OriginError:
        return OriginError(describe_aws_error(error, service="S3", action=action))
