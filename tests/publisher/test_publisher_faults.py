"""Faults at every write step leave a consistent published pair, and a rerun converges.

A rotation publishes both documents anew (new signing key, old key kept as retired,
discovery naming the CDN's JWKS address). At each write step a fault is injected at the
wire; the origin and what a CDN serves must stay a consistent pair: the JWKS holds the
signing key of the IdP generation whose discovery document is published.
"""

from __future__ import annotations

import json

import pytest
import requests
from cdn_stand_in import CdnStandIn
from idp_support import free_port
from publisher_support import (
    BUCKET,
    DISCOVERY_KEY,
    JWKS_KEY,
    NEW_JWKS_URI,
    REGION,
    FakeClock,
    published_objects,
    quiet_session,
    rotation,
    run_publisher,
)


@pytest.fixture
def generations(store, config_dir, rsa_key, other_rsa_key):
    return rotation(store, config_dir, rsa_key, other_rsa_key)


@pytest.fixture
def edge(session, bucket, distribution_id):
    """A CDN stand-in with its own boto3 session (its reads are not the publisher's)."""
    own = quiet_session()
    with CdnStandIn(
        own.client("s3", region_name=REGION),
        bucket,
        cloudfront_client=own.client("cloudfront", region_name=REGION),
        distribution_id=distribution_id,
        clock=FakeClock(),
    ) as stand_in:
        yield stand_in


def signing_kid_named_by(discovery_body: bytes, generations) -> str:
    """The kid that signs in the IdP generation that rendered this discovery document."""
    jwks_uri = json.loads(discovery_body)["jwks_uri"]
    return generations.new_kid if jwks_uri == NEW_JWKS_URI else generations.old_kid


def assert_consistent_pair(jwks_body: bytes, discovery_body: bytes, generations) -> None:
    kids = [key["kid"] for key in json.loads(jwks_body)["keys"]]
    assert signing_kid_named_by(discovery_body, generations) in kids


def viewer_fetch(edge: CdnStandIn) -> tuple[bytes, bytes]:
    jwks = requests.get(f"{edge.url}/.well-known/jwks.json", timeout=5)
    discovery = requests.get(f"{edge.url}/.well-known/openid-configuration", timeout=5)
    assert jwks.status_code == discovery.status_code == 200
    return jwks.content, discovery.content


@pytest.fixture
def reader(aws):
    """The test's own session for reading the origin: faults strike the publisher's only."""
    return quiet_session()


def origin_pair(reader) -> tuple[bytes, bytes]:
    objects = published_objects(reader)
    return objects[JWKS_KEY], objects[DISCOVERY_KEY]


def pending_markers(reader) -> list[str]:
    s3 = reader.client("s3", region_name=REGION)
    return [
        key
        for key in (JWKS_KEY, DISCOVERY_KEY)
        if s3.head_object(Bucket=BUCKET, Key=key)["Metadata"].get("cdn-invalidation")
    ]


WRITE_STEP_FAULTS = [
    # operation, fault, object, requests let through first, reason, origin afterwards
    pytest.param(
        "PutObject", "access-denied", "jwks.json", 0, "access denied", "before",
        id="jwks-put-access-denied",
    ),
    pytest.param(
        "PutObject", "unreachable", "jwks.json", 0, "cannot reach the S3 endpoint", "before",
        id="jwks-put-unreachable",
    ),
    pytest.param(  # the first GET lists the kids being removed; the second is the read-back
        "GetObject", "unreachable", "jwks.json", 1, "reading back s3://", "jwks-only",
        id="read-back-unreachable",
    ),
    pytest.param(
        "GetObject", "tampered-body", "jwks.json", 1, "read-back of /.well-known/jwks.json",
        "jwks-only", id="read-back-mismatch",
    ),
    pytest.param(
        "PutObject", "server-error", "openid-configuration", 0, "InternalError", "jwks-only",
        id="discovery-put",
    ),
    pytest.param(
        "CreateInvalidation", "access-denied", None, 0, "access denied", "after",
        id="invalidation",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("operation", "kind", "suffix", "skip", "reason", "origin_after_fault"), WRITE_STEP_FAULTS
)
def test_fault_at_each_write_step_keeps_a_consistent_pair_and_a_rerun_converges(
    generations, session, bucket, distribution_id, recorder, edge, reader,
    operation, kind, suffix, skip, reason, origin_after_fault,
):  # fmt: skip
    args = (f"--target=s3://{bucket}", f"--cdn-distribution-id={distribution_id}")
    assert run_publisher(*args, environ=generations.before, session=session).status == 0
    before = origin_pair(reader)
    assert viewer_fetch(edge) == before  # the CDN holds the old pair
    recorder.fail(operation, kind, key_suffix=suffix, skip=skip)

    failed = run_publisher(*args, environ=generations.after, session=session)

    assert failed.status == 1, failed.stdout
    assert failed.stderr.count("\n") == 1 and reason in failed.stderr, failed.stderr
    jwks_body, discovery_body = origin_pair(reader)
    assert_consistent_pair(jwks_body, discovery_body, generations)
    expected_jwks = {"before": "old", "jwks-only": "new", "after": "new"}[origin_after_fault]
    expected_discovery = {"before": "old", "jwks-only": "old", "after": "new"}[origin_after_fault]
    assert (jwks_body == before[0]) == (expected_jwks == "old")
    assert (discovery_body == before[1]) == (expected_discovery == "old")
    assert viewer_fetch(edge) == before  # nothing was invalidated: the CDN still has the old pair
    own = quiet_session()
    with CdnStandIn(own.client("s3", region_name=REGION), bucket) as cold_cache:
        assert_consistent_pair(*viewer_fetch(cold_cache), generations)  # a copy that expired

    recorder.clear()
    rerun = run_publisher(*args, environ=generations.after, session=session)

    assert rerun.status == 0, rerun.stderr
    assert recorder.count("cloudfront", "CreateInvalidation") == 1
    served = viewer_fetch(edge)
    assert served == origin_pair(reader) != before
    assert signing_kid_named_by(served[1], generations) == generations.new_kid
    assert_consistent_pair(*served, generations)
    assert pending_markers(reader) == []

    recorder.clear()
    settled = run_publisher(*args, environ=generations.after, session=session)

    assert settled.status == 0 and "No changes required." in settled.stdout
    assert recorder.count("s3", "PutObject") == 0
    assert recorder.count("cloudfront") == 0


def test_failed_invalidation_is_repaired_by_a_rerun_without_reuploading(
    generations, session, bucket, distribution_id, recorder, reader
):
    args = (f"--target=s3://{bucket}", f"--cdn-distribution-id={distribution_id}")
    recorder.fail("CreateInvalidation", "server-error")
    assert run_publisher(*args, environ=generations.after, session=session).status == 1
    assert pending_markers(reader) == [JWKS_KEY, DISCOVERY_KEY]
    recorder.clear()

    rerun = run_publisher(*args, environ=generations.after, session=session)

    assert rerun.status == 0, rerun.stderr
    assert "Key change: none" in rerun.stdout
    assert "uploading" not in rerun.stdout
    assert recorder.operations("cloudfront") == ["CreateInvalidation"]
    assert pending_markers(reader) == []


def test_missing_bucket_fails_with_one_line_and_writes_nothing(aws, session, environ, recorder):
    result = run_publisher("--target=s3://no-such-bucket", environ=environ, session=session)

    assert result.status == 1
    assert result.stderr == (
        "publisher: s3://no-such-bucket: the bucket does not exist (create it, or fix --target)\n"
    )
    assert recorder.count("s3", "PutObject") <= 1  # moto refuses the HEAD already; S3, the PUT
    assert recorder.count("cloudfront") == 0


def test_dry_run_finds_a_missing_bucket_with_the_line_a_real_run_prints(
    aws, session, environ, recorder
):
    real = run_publisher("--target=s3://no-such-bucket", environ=environ, session=session)
    recorder.clear()

    dry = run_publisher(
        "--target=s3://no-such-bucket", "--dry-run", environ=environ, session=session
    )

    assert dry.status == real.status == 1
    assert dry.stderr == real.stderr
    assert recorder.operations("s3") == ["HeadBucket"]


def test_access_denied_reading_the_origin_fails_before_any_write(
    session, bucket, environ, recorder
):
    recorder.fail("HeadObject", "access-denied")

    result = run_publisher(f"--target=s3://{bucket}", environ=environ, session=session)

    assert result.status == 1
    assert "access denied (check the deploy role's S3 permissions)" in result.stderr
    assert recorder.count("s3", "PutObject") == 0


def test_unreachable_endpoint_fails_with_one_line(environ):
    port = free_port()  # nothing listens there

    result = run_publisher(
        "--target=s3://tokenidp-keys",
        f"--endpoint-url=http://127.0.0.1:{port}",
        environ=environ,
        session=quiet_session(),
    )

    assert result.status == 1
    assert result.stderr == (
        "publisher: reading s3://tokenidp-keys/.well-known/jwks.json: cannot reach the S3 "
        f"endpoint http://127.0.0.1:{port}/tokenidp-keys/.well-known/jwks.json\n"
    )


def test_unknown_distribution_fails_and_leaves_the_objects_marked(
    session, bucket, environ, recorder, reader
):
    result = run_publisher(
        f"--target=s3://{bucket}", "--cdn-distribution-id=E0NOSUCHDIST", environ=environ,
        session=session,
    )  # fmt: skip

    assert result.status == 1
    assert "CloudFront answered NoSuchDistribution" in result.stderr
    assert pending_markers(reader) == [JWKS_KEY, DISCOVERY_KEY]
