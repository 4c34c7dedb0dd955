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
SIGNING_KID_METADATA = "signing-kid"
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
            reason = self._explain_bare_status(error, key=key)
            raise self._error(reason, f"reading s3://{self.location.bucket}/{key}") from None
        except BotoCoreError as error:
            raise self._error(error, f"reading s3://{self.location.bucket}/{key}") from None
        metadata = {name.lower(): value for name, value in head.get("Metadata", {}).items()}
        return PublishedObject(
            path=path,
            sha256_hex=metadata.get(SHA256_METADATA),
            content_type=head.get("ContentType", ""),
            cache_control=head.get("CacheControl", ""),
            invalidation_pending=metadata.get(CDN_MARKER_METADATA) == CDN_MARKER_PENDING,
            signing_kid=metadata.get(SIGNING_KID_METADATA),
        )

    def read_body(self, path: str) -> bytes:
        key = self.object_key(path)
        action = f"reading back s3://{self.location.bucket}/{key}"
        try:
            response = self.client.get_object(Bucket=self.location.bucket, Key=key)
            return response["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise self._error(error, action) from None

    def write(
        self, document: Document, *, invalidation_pending: bool, signing_kid: str | None
    ) -> None:
        """One PUT: S3 replaces an object atomically, so readers see old or new bytes.

        The metadata travels with the bytes in the same PUT. When only the signing kid
        changes, a PUT of the same bytes (not a copy_object with REPLACE) keeps one path that
        states every header, metadata entry and the ACL; a copy would have to restate them
        all, and the JWKS is a few kilobytes.
        """
        key = self.object_key(document.path)
        metadata = {SHA256_METADATA: document.sha256_hex}
        if signing_kid:
            metadata[SIGNING_KID_METADATA] = signing_kid
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

    def check_origin(self) -> str:
        """One HEAD of the bucket: it exists and these credentials reach it (dry run)."""
        action = f"checking s3://{self.location.bucket}"
        try:
            head = self.client.head_bucket(Bucket=self.location.bucket)
        except ClientError as error:
            if error_code(error) in NOT_FOUND_CODES:
                raise self._missing_bucket() from None
            raise self._error(self._explain_bare_status(error, key=None), action) from None
        except BotoCoreError as error:
            raise self._error(error, action) from None
        region = head.get("BucketRegion")
        found = f"Origin: bucket {self.location.bucket} exists"
        return f"{found} (region {region})" if region else found

    def _explain_bare_status(self, error: ClientError, *, key: str | None) -> ClientError:
        """S3 answers a HEAD with a bare status (403: bad credentials or no permission alike).

        On that failure path only, one request that needs the same permission (a ranged GET
        of the key, or a one-item listing for the bucket) brings S3's error code, so the
        line can say which it is.
        """
        if not error_code(error).isdigit():
            return error
        bucket = self.location.bucket
        try:
            if key is None:
                self.client.list_objects_v2(Bucket=bucket, Prefix=self.location.prefix, MaxKeys=1)
            else:
                response = self.client.get_object(Bucket=bucket, Key=key, Range="bytes=0-0")
                response["Body"].close()
        except ClientError as explained:
            return error if error_code(explained).isdigit() else explained
        except BotoCoreError:
            pass
        return error

    def _missing_bucket(self) -> OriginError:
        """The same line whichever request finds it: a dry run's HEAD or a real run's PUT."""
        return OriginError(
            f"s3://{self.location.bucket}: the bucket does not exist (create it, or fix --target)"
        )

    def _error(self, error: BotoCoreError | ClientError, action: str) -> OriginError:
        if isinstance(error, ClientError) and error_code(error) == "NoSuchBucket":
            return self._missing_bucket()
        return OriginError(describe_aws_error(error, service="S3", action=action))
