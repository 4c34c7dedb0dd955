"""A CloudFront stand-in on loopback: what validators fetch over plain HTTP.

moto's HTTP server answers unsigned GETs of `.well-known` paths from its Cognito stub
(docs/facts.md), so plain HTTP cannot read the bucket directly. This server sits where
CloudFront does: it reads origin objects with signed boto3 calls (as origin access
control does), serves them with the object's Content-Type, Cache-Control and ETag plus an
`Age`, keeps each copy for its `max-age`, and drops copies that a CloudFront invalidation
(read from moto's CloudFront API) or `purge()` names.
Shared by the publisher tests and the rotation runbook test.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class CachedCopy:
    body: bytes
    content_type: str
    cache_control: str
    etag: str
    fetched_at: float

    def max_age_seconds(self) -> int:
        match = MAX_AGE.search(self.cache_control or "")
        return int(match.group(1)) if match else 0


class CdnStandIn:
    """An edge cache in front of one bucket prefix; `origin_path` is CloudFront's OriginPath."""

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        *,
        origin_path: str = "",
        cloudfront_client: Any = None,
        distribution_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.s3 = s3_client
        self.bucket = bucket
        self.origin_path = origin_path.strip("/")
        self.cloudfront = cloudfront_client
        self.distribution_id = distribution_id
        self.clock = clock
        self.cache: dict[str, CachedCopy] = {}
        self.origin_fetches = 0
        self.seen_invalidations: set[str] = set()
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> CdnStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def purge(self, path: str = "/*") -> None:
        """Drop cached copies, as an invalidation of `path` (a trailing `*` is a prefix) would."""
        with self._lock:
            for cached_path in list(self.cache):
                if path.endswith("*") and cached_path.startswith(path[:-1]) or cached_path == path:
                    del self.cache[cached_path]

    def respond(self, path: str, if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a viewer GET of `path`."""
        self._apply_new_invalidations()
        now = self.clock()
        with self._lock:
            cached = self.cache.get(path)
            if cached is not None and now - cached.fetched_at >= cached.max_age_seconds():
                cached = None
        hit = cached is not None
        if cached is None:
            fetched = self._fetch(path, now)
            if isinstance(fetched, int):
                return fetched, {"Content-Type": "text/plain"}, b"origin answered %d\n" % fetched
            cached = fetched
            with self._lock:
                self.cache[path] = cached
        headers = {
            "Content-Type": cached.content_type,
            "Cache-Control": cached.cache_control,
            "ETag": cached.etag,
            "Age": str(int(now - cached.fetched_at)),
            "X-Cache": "Hit from cdn-stand-in" if hit else "Miss from cdn-stand-in",
        }
        if if_none_match and cached.etag in [tag.strip() for tag in if_none_match.split(",")]:
            return 304, headers, b""
        return 200, headers, cached.body

    def _fetch(self, path: str, now: float) -> CachedCopy | int:
        key = path.lstrip("/")
        if self.origin_path:
            key = f"{self.origin_path}/{key}"
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            return int(error.response["ResponseMetadata"]["HTTPStatusCode"])
        self.origin_fetches += 1
        return CachedCopy(
            body=response["Body"].read(),
            content_type=response.get("ContentType", "application/octet-stream"),
            cache_control=response.get("CacheControl", ""),
            etag=response["ETag"],
            fetched_at=now,
        )

    def _apply_new_invalidations(self) -> None:
        if self.cloudfront is None or self.distribution_id is None:
            return
        listing = self.cloudfront.list_invalidations(DistributionId=self.distribution_id)
        for item in listing.get("InvalidationList", {}).get("Items", []) or []:
            if item["Id"] in self.seen_invalidations:
                continue
            self.seen_invalidations.add(item["Id"])
            invalidation = self.cloudfront.get_invalidation(
                DistributionId=self.distribution_id, Id=item["Id"]
            )["Invalidation"]
            for path in invalidation["InvalidationBatch"]["Paths"].get("Items", []):
                self.purge(path)

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        edge = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, headers, body = edge.respond(
                    self.path.split("?")[0], self.headers.get("If-None-Match")
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def create_distribution(cloudfront: Any, *, bucket: str) -> str:
    """A CloudFront distribution in front of the bucket (its id is all the publisher needs)."""
    response = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": f"tokenidp-test-{bucket}",
            "Comment": "TokenIDP well-known documents",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "keys-origin",
                        "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "keys-origin",
                "ViewerProtocolPolicy": "https-only",
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "MinTTL": 0,
            },
        }
    )
    return response["Distribution"]["Id"]
