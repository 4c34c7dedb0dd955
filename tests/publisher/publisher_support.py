"""Test support for the publisher: boto3 sessions that count and fail requests at the wire.

Faults are injected at the boundary only: a botocore `before-send` hook on the session the
publisher builds its clients from either lets the request through (counting it as having
reached the service) or answers in the service's place (an error response, a tampered
body, or an unreachable endpoint). No publisher module is patched.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from cdn_stand_in import create_distribution  # noqa: F401 - re-exported for the tests here

from publisher.cli import run
from publisher.request_limits import RequestLimits

BUCKET = "tokenidp-keys"
REGION = "us-east-1"
JWKS_KEY = ".well-known/jwks.json"
DISCOVERY_KEY = ".well-known/openid-configuration"


def quiet_session(**config_variables: Any) -> boto3.Session:
    """A session with one attempt per request for the test's own clients (the CDN stand-in,
    set-up); the publisher's clients set their own attempts (`RequestLimits`)."""
    core = botocore.session.Session()
    core.set_config_variable("max_attempts", 1)
    core.set_config_variable("region", REGION)
    for name, value in config_variables.items():
        core.set_config_variable(name, value)
    return boto3.Session(botocore_session=core)


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        return self._body


def canned_response(url: str, status: int, body: bytes, headers: Mapping[str, str]) -> AWSResponse:
    return AWSResponse(url, status, dict(headers), _RawBody(body))


def access_denied(service: str) -> tuple[int, bytes]:
    if service == "cloudfront":
        xml = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            b"<Message>User is not authorized</Message></Error></ErrorResponse>"
        )
    else:
        xml = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    return 403, xml


@dataclass
class Fault:
    operation: str  # e.g. "PutObject", "GetObject", "CreateInvalidation"
    kind: str  # "access-denied", "unreachable", "server-error", "tampered-body"
    key_suffix: str | None = None  # only requests whose URL path ends with this
    skip: int = 0  # matching requests let through before the fault strikes
    times: int | None = None  # None: every matching request, retries included


@dataclass
class AwsRecorder:
    """Counts requests that reach S3 and CloudFront; injects faults in their place."""

    session: boto3.Session
    reached: list[tuple[str, str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session.events.register_first("before-send", self._before_send)

    def fail(
        self,
        operation: str,
        kind: str,
        *,
        key_suffix: str | None = None,
        skip: int = 0,
        times: int | None = None,
    ) -> Fault:
        fault = Fault(operation, kind, key_suffix, skip, times)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.reached.clear()
        self.faults.clear()

    def count(self, service: str, operation: str | None = None) -> int:
        return sum(
            1
            for reached_service, reached_operation, _ in self.reached
            if reached_service == service and operation in (None, reached_operation)
        )

    def operations(self, service: str) -> list[str]:
        return [operation for name, operation, _ in self.reached if name == service]

    def _before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        for fault in self.faults:
            if fault.times == 0 or fault.operation != operation:
                continue
            if fault.key_suffix and not request.url.split("?")[0].endswith(fault.key_suffix):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            if fault.times is not None:
                fault.times -= 1
            return self._answer(fault, service, request)
        self.reached.append((service, operation, request.url))
        return None

    def _answer(self, fault: Fault, service: str, request: Any) -> AWSResponse | None:
        if fault.kind == "unreachable":
            raise EndpointConnectionError(endpoint_url=request.url)
        # botocore calls every before-send handler and uses the first response; moto's
        # in-process stub is one of them. Point the request where no stub answers, so the
        # service never acts on it and only the canned answer below is seen.
        original_url, request.url = request.url, "https://fault-injected.invalid/"
        if fault.kind == "access-denied":
            status, body = access_denied(service)
            return canned_response(original_url, status, body, {"Content-Type": "application/xml"})
        if fault.kind == "server-error":
            body = b"<Error><Code>InternalError</Code><Message>We hit a snag</Message></Error>"
            return canned_response(original_url, 500, body, {"Content-Type": "application/xml"})
        if fault.kind == "tampered-body":
            body = b'{"keys":[]}'
            headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
            return canned_response(original_url, 200, body, headers)
        raise AssertionError(f"unknown fault kind {fault.kind!r}")


@dataclass(frozen=True)
class PublisherRun:
    status: int
    stdout: str
    stderr: str


def run_publisher(
    *args: str,
    environ: Mapping[str, str],
    session: boto3.Session | None = None,
    request_limits: RequestLimits | None = None,
) -> PublisherRun:
    """`python -m publisher ARGS` in-process, with the test's boto3 session and environment."""
    stdout, stderr = io.StringIO(), io.StringIO()
    status = run(
        list(args),
        environ=environ,
        session=session,
        stdout=stdout,
        stderr=stderr,
        request_limits=request_limits,
    ).exit_status
    return PublisherRun(status, stdout.getvalue(), stderr.getvalue())


class FakeClock:
    """Monotonic seconds that only move when a test says so (for the CDN stand-in's max-age)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def published_objects(session: boto3.Session, bucket: str = BUCKET) -> dict[str, bytes]:
    """Every object in the bucket, by key (signed calls, as the CDN's origin access does)."""
    s3 = session.client("s3", region_name=REGION)
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listing
    }


NEW_JWKS_URI = "https://keys.example.test/.well-known/jwks.json"


@dataclass(frozen=True)
class Rotation:
    """Two generations of the IdP's configuration: before and after a key rotation.

    After: the new key signs, the old one stays published as retired, and discovery names
    the CDN's JWKS address, so both documents change.
    """

    before: dict[str, str]
    after: dict[str, str]
    old_kid: str
    new_kid: str


def rotation(store: Any, config_dir: Any, old_key: Any, new_key: Any) -> Rotation:
    old = store.add(key=old_key, subject="CN=tokenidp signing 2025")
    new = store.add(key=new_key, subject="CN=tokenidp signing 2026")
    base = {"TOKENIDP_CONFIG_DIR": str(config_dir)}
    before = {**store.environ(CertificateThumbprint=old.thumbprint), **base}
    after = {
        **store.environ(
            CertificateThumbprint=new.thumbprint,
            AdditionalValidationCertificates=old.thumbprint,
            JwksUri=NEW_JWKS_URI,
        ),
        **base,
    }
    return Rotation(before, after, old.thumbprint, new.thumbprint)
