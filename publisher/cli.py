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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config

from app.config import load_config
from app.documents import render_documents
from app.errors import ConfigError, TokenIdpError
from app.keys.keyring import build_keyring
from publisher.cdn import CloudFrontInvalidator
from publisher.errors import PublisherUsageError
from publisher.metering import RequestMeter
from publisher.publish import Outcome, publish
from publisher.targets import S3Location, Target, parse_target_url
from publisher.targets.file import FileTarget
from publisher.targets.s3 import S3Target

TARGET_VARIABLE = "TOKENIDP_PUBLISH_TARGET"
DISTRIBUTION_VARIABLE = "TOKENIDP_PUBLISH_CDN_DISTRIBUTION_ID"
DEFAULT_REGION = "us-east-1"
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=15)


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
    return parser


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
) -> RunResult:
    """One publisher run with its outcome and figures; tests and the bench inject a session."""
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
        keyring = build_keyring(settings, now=now or dt.datetime.now(dt.UTC))
        meter = RequestMeter()
        target, cdn = _open(args, location, distribution_id, session, meter)
    except (ConfigError, PublisherUsageError) as error:
        return fail(2, error)
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
    elif outcome is not None and outcome.uploaded_paths:
        say(f"Published {len(outcome.uploaded_paths)} document(s) to {target.url}.")
    return RunResult(status, outcome, figures)


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
) -> tuple[Target, CloudFrontInvalidator | None]:
    if isinstance(location, Path):
        return FileTarget(location), None
    session = session or boto3.Session()
    region = session.region_name or DEFAULT_REGION
    s3 = meter.attach(_client(session, "s3", region, args.endpoint_url), "S3")
    target = S3Target(s3, location, acl="public-read" if args.public_read else None)
    if not distribution_id:
        return target, None
    cloudfront = meter.attach(
        _client(session, "cloudfront", DEFAULT_REGION, args.cdn_endpoint_url), "CloudFront"
    )
    return target, CloudFrontInvalidator(cloudfront, distribution_id)


def _client(session: boto3.Session, service: str, region: str, endpoint_url: str | None) -> Any:
    try:
        return session.client(
            service, region_name=region, endpoint_url=endpoint_url, config=CLIENT_CONFIG
        )
    except ValueError as error:  # botocore: "Invalid endpoint: ..."
        option = "--endpoint-url" if service == "s3" else "--cdn-endpoint-url"
        raise PublisherUsageError(f"{option}: {error}") from None
