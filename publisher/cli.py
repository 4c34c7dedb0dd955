"""`python -m publisher`: arguments, configuration, clients, and the contract's exit status.

Exit 0: published or already up to date; 1: failed (one line on stderr saying why; the
published pair stays consistent); 2: usage or configuration error (one line naming the
option or setting).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3

from app.config import Settings, load_config
from app.documents import render_documents
from app.errors import ConfigError, TokenIdpError
from app.keys.keyring import Keyring, load_keyring
from app.keys.records import KeyRecords, read_key_records
from app.keys.store import PASSWORD_SETTING
from app.storage import StorageUnavailableError, open_current_storage
from publisher.cdn import CloudFrontInvalidator
from publisher.errors import PublisherUsageError
from publisher.metering import RequestMeter
from publisher.observation import DEFAULT_OBSERVE_TIMEOUT_SECONDS, observe_after_publishing
from publisher.publish import Outcome, publish
from publisher.request_limits import RequestLimits, report_retries
from publisher.targets import S3Location, Target, parse_target_url
from publisher.targets.file import FileTarget
from publisher.targets.s3 import S3Target

TARGET_VARIABLE = "TOKENIDP_PUBLISH_TARGET"
DISTRIBUTION_VARIABLE = "TOKENIDP_PUBLISH_CDN_DISTRIBUTION_ID"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Figures:
    """The publisher's own measurements of one run."""

    s3_requests: int
    cloudfront_requests: int
    seconds: float
    summary: str


@dataclass(frozen=True)
class RunResult:
    exit_status: int
    outcome: Outcome | None = None
    figures: Figures | None = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m publisher",
        description="Publish the IdP's discovery document and JWKS to S3 (behind a CDN) "
        "or a folder, byte for byte what /.well-known/... serves.",
        epilog=f"Time limits: {RequestLimits().describe()}. Exit status: 0 published or up "
        "to date; 1 failed (one line on stderr); 2 usage or configuration error.",
    )
    parser.add_argument(
        "--target",
        help=f"s3://BUCKET/PREFIX or file:///DIR (default: ${TARGET_VARIABLE})",
    )
    parser.add_argument("--endpoint-url", help="S3 endpoint, for S3-compatible stores")
    parser.add_argument(
        "--cdn-distribution-id",
        help=f"CloudFront distribution to invalidate changed paths on "
        f"(default: ${DISTRIBUTION_VARIABLE})",
    )
    parser.add_argument("--cdn-endpoint-url", help="CloudFront endpoint (tests, emulators)")
    parser.add_argument(
        "--public-read",
        action="store_true",
        help="send the public-read canned ACL (only for a bucket served without a CDN)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the change in keys; write nothing"
    )
    parser.add_argument(
        "--observe-timeout",
        type=_seconds,
        default=DEFAULT_OBSERVE_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="after publishing, wait up to this long for TokenOptions:JwksUri to serve every "
        "published key and record when each was first observed there (a new key may sign "
        "only TokenOptions:KeyActivationDelay after that); 0 skips it "
        f"(default {DEFAULT_OBSERVE_TIMEOUT_SECONDS:g})",
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError("must be between 0 and 600 seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m publisher`: run, and return the exit status."""
    return run(argv).exit_status


def run(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    session: boto3.Session | None = None,
    now: dt.datetime | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    request_limits: RequestLimits | None = None,
) -> RunResult:
    """One publisher run with its outcome and figures; tests and the bench inject a session
    (and, to meet a hung endpoint quickly, smaller request limits)."""
    environ = os.environ if environ is None else environ
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        return RunResult(int(exit_request.code or 0))

    def say(line: str) -> None:
        print(line, file=stdout, flush=True)

    def fail(status: int, error: Exception) -> RunResult:
        print(f"publisher: {' '.join(str(error).split())}", file=stderr, flush=True)
        return RunResult(status)

    try:
        location = _target_location(args, environ)
        distribution_id = args.cdn_distribution_id or environ.get(DISTRIBUTION_VARIABLE) or None
        _check_options(args, location, distribution_id)
        settings = load_config(environ)
        keyring = load_public_keyring(settings, now=now or dt.datetime.now(dt.UTC))
        meter = RequestMeter()
        limits = request_limits or RequestLimits()
        target, cdn = _open(args, location, distribution_id, session, meter, limits, say)
    except (ConfigError, PublisherUsageError) as error:
        return fail(2, error)
    except StorageUnavailableError as error:
        return fail(1, error)
    documents = render_documents(settings, keyring)
    started = time.monotonic()
    say(f"Publishing to {target.url} (environment {settings.environment})")
    outcome = None
    status = 0
    error: TokenIdpError | None = None
    try:
        outcome = publish(
            documents, keyring=keyring, target=target, cdn=cdn, dry_run=args.dry_run, say=say
        )
    except TokenIdpError as raised:
        status, error = 1, raised
    seconds = time.monotonic() - started
    figures = Figures(
        s3_requests=meter.total("S3"),
        cloudfront_requests=meter.total("CloudFront"),
        seconds=seconds,
        summary=f"{meter.describe('S3')}; {meter.describe('CloudFront')}; {seconds:.3f} s",
    )
    if isinstance(target, S3Target):
        say(figures.summary)
    if error is not None:
        fail(1, error)
        return RunResult(status, outcome, figures)
    if outcome is not None and outcome.uploaded_paths:
        say(f"Published {len(outcome.uploaded_paths)} document(s) to {target.url}.")
    if not args.dry_run:
        try:
            observe_after_publishing(
                settings,
                keyring,
                timeout_seconds=args.observe_timeout,
                say=say,
                warn=lambda line: print(f"publisher: warning: {line}", file=stderr, flush=True),
            )
        except StorageUnavailableError as unavailable:
            return fail(1, unavailable)
    return RunResult(status, outcome, figures)


def load_public_keyring(settings: Settings, *, now: dt.datetime) -> Keyring:
    """The keyring from certificates alone, so the release role holds no signing secret.

    A password-protected `.pfx` without its `.crt` companion is the one case where the
    store's own error would send the operator to the password; say what to add instead.
    """
    try:
        keyring = load_keyring(
            settings,
            now=now,
            records=read_publisher_records(settings),
            private_keys=False,
            strict=False,  # a key that may not sign yet is published: that is how it may
        )
        if keyring.refusal is not None:
            raise keyring.refusal
        return keyring
    except ConfigError as error:
        if error.setting != PASSWORD_SETTING:
            raise
        raise ConfigError(
            PASSWORD_SETTING,
            f"{error.message}; the publisher needs no private key: put the certificate alone "
            "beside each .pfx as THUMBPRINT.crt (certs import and certs create-self-signed "
            "write it) rather than giving the release environment the password",
        ) from None


def read_publisher_records(settings: Settings) -> KeyRecords:
    """The database's key records: a key revoked there is never published."""
    storage = open_current_storage(settings)
    try:
        with storage.reading() as connection:
            return read_key_records(connection)
    finally:
        storage.engine.dispose()


def _target_location(args: argparse.Namespace, environ: Mapping[str, str]) -> S3Location | Path:
    url = args.target or environ.get(TARGET_VARIABLE)
    if not url:
        raise PublisherUsageError(
            f"no target: pass --target s3://BUCKET/PREFIX or file:///DIR, or set {TARGET_VARIABLE}"
        )
    return parse_target_url(url)


def _check_options(
    args: argparse.Namespace, location: S3Location | Path, distribution_id: str | None
) -> None:
    if isinstance(location, Path):
        for given, option in (
            (args.endpoint_url, "--endpoint-url"),
            (args.public_read, "--public-read"),
            (distribution_id, "--cdn-distribution-id"),
        ):
            if given:
                raise PublisherUsageError(f"{option} applies to s3:// targets only")
    if args.cdn_endpoint_url and not distribution_id:
        raise PublisherUsageError("--cdn-endpoint-url needs --cdn-distribution-id")


def _open(
    args: argparse.Namespace,
    location: S3Location | Path,
    distribution_id: str | None,
    session: boto3.Session | None,
    meter: RequestMeter,
    limits: RequestLimits,
    say: Callable[[str], None],
) -> tuple[Target, CloudFrontInvalidator | None]:
    if isinstance(location, Path):
        return FileTarget(location), None
    session = session or boto3.Session()
    region = session.region_name or DEFAULT_REGION

    def client(service: str, name: str, region: str, endpoint_url: str | None) -> Any:
        try:
            made = session.client(
                service,
                region_name=region,
                endpoint_url=endpoint_url,
                config=limits.botocore_config(),
            )
        except ValueError as error:  # botocore: "Invalid endpoint: ..."
            option = "--endpoint-url" if service == "s3" else "--cdn-endpoint-url"
            raise PublisherUsageError(f"{option}: {error}") from None
        report_retries(made, service=name, limits=limits, say=say)
        return meter.attach(made, name)

    s3 = client("s3", "S3", region, args.endpoint_url)
    target = S3Target(s3, location, acl="public-read" if args.public_read else None)
    if not distribution_id:
        return target, None
    cloudfront = client("cloudfront", "CloudFront", DEFAULT_REGION, args.cdn_endpoint_url)
    return target, CloudFrontInvalidator(cloudfront, distribution_id)
